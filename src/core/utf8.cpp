// src/core/utf8.cpp — the incremental UTF-8 validator (RFC 3629) behind text messages and close reasons.
//
// A small hand-written state machine: a lead byte decides how many continuation bytes follow and narrows the range
// allowed for the first of them (this is what rejects overlong forms, surrogates and code points above U+10FFFF);
// every later continuation byte must be 0x80..0xBF. Between code points, ASCII is skipped 8 bytes at a time.
#include "zenws/utf8.hpp"

#include <cstring>

namespace zenws {

namespace {

constexpr std::uint64_t high_bits_of_each_byte = 0x8080808080808080ull;

// Skips a run of ASCII bytes, 8 at a time then byte by byte; returns the index of the first non-ASCII byte.
std::size_t skip_ascii(const std::uint8_t* data, std::size_t index, std::size_t size) noexcept {
    while (size - index >= 8) {
        std::uint64_t word;
        std::memcpy(&word, data + index, sizeof word);
        if ((word & high_bits_of_each_byte) != 0) {
            break;
        }
        index += 8;
    }
    while (index < size && data[index] < 0x80) {
        ++index;
    }
    return index;
}

}  // namespace

bool Utf8Validator::feed(const std::uint8_t* data, std::size_t size) noexcept {
    if (failed_) {
        return false;
    }
    std::uint8_t needed = needed_;
    std::uint8_t lower = lower_;
    std::uint8_t upper = upper_;
    std::size_t index = 0;
    while (index < size) {
        if (needed == 0) {
            index = skip_ascii(data, index, size);
            if (index == size) {
                break;
            }
            const std::uint8_t lead = data[index++];
            if (lead < 0xC2) {            // 0x80..0xBF: stray continuation; 0xC0, 0xC1: overlong 2-byte form
                failed_ = true;
            } else if (lead < 0xE0) {     // U+0080..U+07FF
                needed = 1;
            } else if (lead < 0xF0) {     // U+0800..U+FFFF
                needed = 2;
                if (lead == 0xE0) {
                    lower = 0xA0;         // below: overlong
                } else if (lead == 0xED) {
                    upper = 0x9F;         // above: UTF-16 surrogates U+D800..U+DFFF
                }
            } else if (lead < 0xF5) {     // U+10000..U+10FFFF
                needed = 3;
                if (lead == 0xF0) {
                    lower = 0x90;         // below: overlong
                } else if (lead == 0xF4) {
                    upper = 0x8F;         // above: beyond U+10FFFF
                }
            } else {                      // 0xF5..0xFF: beyond U+10FFFF or old 5/6-byte forms, 0xFE/0xFF
                failed_ = true;
            }
        } else {
            const std::uint8_t next = data[index++];
            if (next < lower || next > upper) {
                failed_ = true;
            } else {
                lower = 0x80;
                upper = 0xBF;
                --needed;
            }
        }
        if (failed_) {
            return false;
        }
    }
    needed_ = needed;
    lower_ = lower;
    upper_ = upper;
    return true;
}

bool is_valid_utf8(std::string_view s) noexcept {
    Utf8Validator validator;
    return validator.feed(s) && validator.complete();
}

}  // namespace zenws
