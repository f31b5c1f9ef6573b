// zenws/utf8.hpp — incremental, fail-fast UTF-8 validation (RFC 3629) for text messages and close reasons.
//
// Bytes may arrive in arbitrary pieces (code points split across fragments or TCP reads). The validator keeps the
// state of an unfinished code point between calls and reports failure on the first byte that can no longer be
// part of valid UTF-8: overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray continuation
// bytes, 0xC0/0xC1/0xF5..0xFF. Non-characters such as U+FFFE and U+FFFF are valid. ASCII runs are checked 8 bytes
// at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace zenws {

class Utf8Validator {
public:
    // Validates the next piece. Returns false as soon as an invalid byte is seen (and stays false thereafter).
    bool feed(const std::uint8_t* data, std::size_t size) noexcept;
    bool feed(std::string_view s) noexcept {
        return feed(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }
    // True when everything fed so far is valid and ends on a code-point boundary.
    bool complete() const noexcept { return !failed_ && needed_ == 0; }
    bool failed() const noexcept { return failed_; }
    void reset() noexcept { needed_ = 0; failed_ = false; lower_ = 0x80; upper_ = 0xBF; }

private:
    std::uint8_t needed_ = 0;   // continuation bytes still expected
    std::uint8_t lower_ = 0x80; // allowed range of the next continuation byte
    std::uint8_t upper_ = 0xBF;
    bool failed_ = false;
};

// One-shot helper.
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace zenws
