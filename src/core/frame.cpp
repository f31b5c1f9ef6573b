// src/core/frame.cpp — the RFC 6455 client-side frame codec: client frame headers, payload masking, mask keys,
// close payloads, and the incremental FrameDecoder for server frames (all framing rules a client must enforce,
// fragment reassembly, fail-fast UTF-8 validation of text, message size limit).
#include "zenws/frame.hpp"

#include <openssl/rand.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>

namespace zenws {

// ---- close codes ---------------------------------------------------------------------------------------------

bool is_valid_wire_close_code(std::uint16_t code) noexcept {
    if (code >= 1000 && code <= 1003) {
        return true;
    }
    if (code >= 1007 && code <= 1014) {
        return true;
    }
    return code >= 3000 && code <= 4999;
}

std::string make_close_payload(std::uint16_t code, std::string_view reason) {
    std::size_t reason_size = reason.size();
    if (reason_size > max_close_reason) {
        reason_size = max_close_reason;
        // If the byte at the cut is a continuation byte, the code point it belongs to started before the cut:
        // move the cut back to that code point's lead byte so it is dropped whole.
        while (reason_size > 0 && (static_cast<std::uint8_t>(reason[reason_size]) & 0xC0) == 0x80) {
            --reason_size;
        }
    }
    std::string payload;
    payload.reserve(2 + reason_size);
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xFF));
    payload.append(reason.data(), reason_size);
    return payload;
}

// ---- encoding ------------------------------------------------------------------------------------------------

std::size_t encode_client_frame_header(std::uint8_t* out, Opcode op, bool fin, std::uint64_t payload_size,
                                       std::uint32_t mask_key) noexcept {
    std::size_t size = 0;
    out[size++] = static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(op));
    if (payload_size <= 125) {
        out[size++] = static_cast<std::uint8_t>(0x80 | payload_size);
    } else if (payload_size <= 0xFFFF) {
        out[size++] = 0x80 | 126;
        out[size++] = static_cast<std::uint8_t>(payload_size >> 8);
        out[size++] = static_cast<std::uint8_t>(payload_size);
    } else {
        out[size++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            out[size++] = static_cast<std::uint8_t>(payload_size >> shift);
        }
    }
    out[size++] = static_cast<std::uint8_t>(mask_key >> 24);
    out[size++] = static_cast<std::uint8_t>(mask_key >> 16);
    out[size++] = static_cast<std::uint8_t>(mask_key >> 8);
    out[size++] = static_cast<std::uint8_t>(mask_key);
    return size;
}

namespace {

// dst[i] = src[i] ^ mask byte (offset + i) for i < size; dst may be src (in place). 32 bytes per round.
void mask_into(std::uint8_t* dst, const std::uint8_t* src, std::size_t size, std::uint32_t mask_key,
               std::size_t offset) noexcept {
    const std::uint8_t key_bytes[4] = {
        static_cast<std::uint8_t>(mask_key >> 24), static_cast<std::uint8_t>(mask_key >> 16),
        static_cast<std::uint8_t>(mask_key >> 8), static_cast<std::uint8_t>(mask_key)};
    // Eight mask bytes as they line up with data[0..7]; the key repeats every 4 bytes, so the same 8-byte pattern
    // lines up with every following 8-byte block too. Built through memory, so it is right on any endianness.
    std::uint8_t pattern_bytes[8];
    for (std::size_t i = 0; i < 8; ++i) {
        pattern_bytes[i] = key_bytes[(offset + i) & 3];
    }
    std::uint64_t pattern;
    std::memcpy(&pattern, pattern_bytes, sizeof pattern);

    std::size_t index = 0;
    for (; size - index >= 32; index += 32) {
        std::uint64_t words[4];
        std::memcpy(words, src + index, sizeof words);
        words[0] ^= pattern;
        words[1] ^= pattern;
        words[2] ^= pattern;
        words[3] ^= pattern;
        std::memcpy(dst + index, words, sizeof words);
    }
    for (; size - index >= 8; index += 8) {
        std::uint64_t word;
        std::memcpy(&word, src + index, sizeof word);
        word ^= pattern;
        std::memcpy(dst + index, &word, sizeof word);
    }
    for (std::size_t tail = 0; index < size; ++index, ++tail) {
        dst[index] = static_cast<std::uint8_t>(src[index] ^ pattern_bytes[tail]);
    }
}

}  // namespace

void apply_mask(std::uint8_t* data, std::size_t size, std::uint32_t mask_key, std::size_t offset) noexcept {
    mask_into(data, data, size, mask_key, offset);
}

void copy_masked(std::uint8_t* dst, const std::uint8_t* src, std::size_t size, std::uint32_t mask_key) noexcept {
    mask_into(dst, src, size, mask_key, 0);
}

// ---- mask keys -----------------------------------------------------------------------------------------------

namespace {

bool fill_from_os_random(std::uint8_t* out, std::size_t size) noexcept {
    std::size_t filled = 0;
    for (int attempt = 0; attempt < 16 && filled < size; ++attempt) {
        const ssize_t got = ::getrandom(out + filled, size - filled, 0);
        if (got > 0) {
            filled += static_cast<std::size_t>(got);
        } else if (got < 0 && errno != EINTR) {
            return false;
        }
    }
    return filled == size;
}

}  // namespace

MaskKeyGenerator::MaskKeyGenerator() : s0_(0), s1_(0) {
    std::uint8_t seed[16];
    bool seeded = fill_from_os_random(seed, sizeof seed);
    if (!seeded) {
        seeded = RAND_bytes(seed, static_cast<int>(sizeof seed)) == 1;
    }
    if (!seeded) {
        // Last resort only (both the kernel and OpenSSL failed): mix std::random_device with the clock.
        std::random_device device;
        const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        const std::uint64_t a = (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ now;
        const std::uint64_t b = (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ (now * 0x9E3779B97F4A7C15ull);
        std::memcpy(seed, &a, 8);
        std::memcpy(seed + 8, &b, 8);
    }
    std::memcpy(&s0_, seed, 8);
    std::memcpy(&s1_, seed + 8, 8);
    if (s0_ == 0 && s1_ == 0) {
        s1_ = 0x9E3779B97F4A7C15ull;  // the all-zero state would only ever produce zeros
    }
}

MaskKeyGenerator::MaskKeyGenerator(std::uint64_t s0, std::uint64_t s1) noexcept : s0_(s0), s1_(s1) {
    if (s0_ == 0 && s1_ == 0) {
        s1_ = 0x9E3779B97F4A7C15ull;
    }
}

std::uint32_t MaskKeyGenerator::next() noexcept {
    // xorshift128+ (shifts 23, 17, 26); the high half of the sum has the best statistical quality.
    std::uint64_t x = s0_;
    const std::uint64_t y = s1_;
    s0_ = y;
    x ^= x << 23;
    s1_ = x ^ y ^ (x >> 17) ^ (y >> 26);
    return static_cast<std::uint32_t>((s1_ + y) >> 32);
}

// ---- decoding ------------------------------------------------------------------------------------------------

namespace {

constexpr std::size_t assembly_keep_limit = 4u << 20;  // reassembly capacity above this is released after use

bool is_control(std::uint8_t opcode) noexcept { return (opcode & 0x08) != 0; }

bool is_known_opcode(std::uint8_t opcode) noexcept {
    return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

}  // namespace

FrameDecoder::FrameDecoder(DecoderLimits limits) : limits_(limits) {}

void FrameDecoder::reset() {
    assembly_.clear();
    if (assembly_.capacity() > assembly_keep_limit) {
        std::string().swap(assembly_);
    }
    fragmented_op_ = Opcode::continuation;
    utf8_.reset();
    partial_checked_ = 0;
    bytes_needed_ = 0;
    fail_code_ = 0;
    fail_reason_.clear();
    close_received_ = false;
}

bool FrameDecoder::fail(std::uint16_t code, std::string_view reason) {
    fail_code_ = code;
    fail_reason_ = reason;
    bytes_needed_ = 0;
    partial_checked_ = 0;
    return false;
}

bool FrameDecoder::handle_control(Opcode op, std::string_view payload, FrameEvents& events) {
    switch (op) {
    case Opcode::ping:
        events.on_ping(payload);
        return true;
    case Opcode::pong:
        events.on_pong(payload);
        return true;
    case Opcode::close: {
        if (payload.empty()) {
            close_received_ = true;
            events.on_close(close_code::no_status, {});
            return true;
        }
        if (payload.size() == 1) {
            return fail(close_code::protocol_error, "close frame payload of 1 byte");
        }
        const auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                                     static_cast<std::uint8_t>(payload[1]));
        if (!is_valid_wire_close_code(code)) {
            return fail(close_code::protocol_error, "invalid close code");
        }
        const std::string_view reason = payload.substr(2);
        if (!is_valid_utf8(reason)) {
            return fail(close_code::invalid_payload, "close reason is not valid UTF-8");
        }
        close_received_ = true;
        events.on_close(code, reason);
        return true;
    }
    default:
        return fail(close_code::protocol_error, "reserved control opcode");
    }
}

std::size_t FrameDecoder::feed(const std::uint8_t* data, std::size_t size, FrameEvents& events) {
    if (failed() || close_received_) {
        bytes_needed_ = 0;
        return size;
    }
    std::size_t position = 0;
    for (;;) {
        const std::uint8_t* frame = data + position;
        const std::size_t available = size - position;
        if (available == 0) {
            bytes_needed_ = 0;
            return position;
        }

        // Byte 0: FIN, RSV1-3, opcode. Every rule that needs only this byte is checked before waiting for more.
        const bool fin = (frame[0] & 0x80) != 0;
        const std::uint8_t opcode = frame[0] & 0x0F;
        if ((frame[0] & 0x70) != 0) {
            fail(close_code::protocol_error, "reserved bits set (no extension negotiated)");
            return size;
        }
        if (!is_known_opcode(opcode)) {
            fail(close_code::protocol_error, "reserved opcode");
            return size;
        }
        const bool control = is_control(opcode);
        if (control && !fin) {
            fail(close_code::protocol_error, "fragmented control frame");
            return size;
        }
        const bool continuation = opcode == static_cast<std::uint8_t>(Opcode::continuation);
        const bool in_message = fragmented_op_ != Opcode::continuation;
        if (continuation && !in_message) {
            fail(close_code::protocol_error, "continuation frame without a message to continue");
            return size;
        }
        if (!control && !continuation && in_message) {
            fail(close_code::protocol_error, "new data frame inside a fragmented message");
            return size;
        }
        if (available < 2) {
            bytes_needed_ = 2;
            return position;
        }

        // Byte 1: MASK, 7-bit length; then the extended length.
        if ((frame[1] & 0x80) != 0) {
            fail(close_code::protocol_error, "masked frame from the server");
            return size;
        }
        const std::uint8_t length7 = frame[1] & 0x7F;
        if (control && length7 > max_control_payload) {
            fail(close_code::protocol_error, "control frame payload larger than 125 bytes");
            return size;
        }
        const std::size_t header_size = length7 == 127 ? 10 : length7 == 126 ? 4 : 2;
        if (available < header_size) {
            bytes_needed_ = header_size;
            return position;
        }
        std::uint64_t payload_size = length7;
        if (length7 == 126) {
            payload_size = (static_cast<std::uint64_t>(frame[2]) << 8) | frame[3];
        } else if (length7 == 127) {
            if ((frame[2] & 0x80) != 0) {
                fail(close_code::protocol_error, "64-bit payload length with the most significant bit set");
                return size;
            }
            payload_size = 0;
            for (std::size_t i = 2; i < 10; ++i) {
                payload_size = (payload_size << 8) | frame[i];
            }
        }

        const bool text = opcode == static_cast<std::uint8_t>(Opcode::text) ||
                          (continuation && fragmented_op_ == Opcode::text);
        if (!control) {
            const std::uint64_t already = continuation ? assembly_.size() : 0;
            if (payload_size > limits_.max_message_size - std::min(already, limits_.max_message_size) ||
                payload_size > std::numeric_limits<std::size_t>::max() - max_client_frame_header_size - already) {
                // Our own limit, not a server fault: say which one (the text is also the close reason, <= 123 bytes).
                fail(close_code::message_too_big, "message of " + std::string(continuation ? "at least " : "") +
                                                      std::to_string(already + payload_size) +
                                                      " bytes exceeds max_message_size (" +
                                                      std::to_string(limits_.max_message_size) + " bytes)");
                return size;
            }
        }
        const auto payload_length = static_cast<std::size_t>(payload_size);
        const std::size_t frame_size = header_size + payload_length;
        const std::uint8_t* payload = frame + header_size;

        if (opcode == static_cast<std::uint8_t>(Opcode::text) && partial_checked_ == 0) {
            utf8_.reset();  // a new text message starts here
        }
        if (available < frame_size) {
            // Incomplete frame: check the text bytes that arrived since the last call (fail-fast), then wait.
            if (text) {
                const std::size_t arrived = available - header_size;
                if (arrived > partial_checked_ &&
                    !utf8_.feed(payload + partial_checked_, arrived - partial_checked_)) {
                    fail(close_code::invalid_payload, "text message is not valid UTF-8");
                    return size;
                }
                partial_checked_ = arrived;
            }
            bytes_needed_ = frame_size;
            return position;
        }

        // The whole frame is here.
        const std::size_t already_checked = partial_checked_;
        partial_checked_ = 0;
        position += frame_size;
        const std::string_view payload_view(reinterpret_cast<const char*>(payload), payload_length);
        if (control) {
            if (!handle_control(static_cast<Opcode>(opcode), payload_view, events)) {
                return size;
            }
            if (close_received_) {
                bytes_needed_ = 0;
                return size;  // anything after the close frame is ignored
            }
            continue;
        }
        if (text) {
            if (!utf8_.feed(payload + already_checked, payload_length - already_checked) ||
                (fin && !utf8_.complete())) {
                fail(close_code::invalid_payload, "text message is not valid UTF-8");
                return size;
            }
        }
        if (!continuation) {
            if (fin) {
                events.on_message(static_cast<Opcode>(opcode), payload_view);  // zero copy
            } else {
                fragmented_op_ = static_cast<Opcode>(opcode);
                assembly_.clear();
                assembly_.append(payload_view);
            }
            continue;
        }
        assembly_.append(payload_view);
        if (fin) {
            const Opcode message_op = fragmented_op_;
            fragmented_op_ = Opcode::continuation;
            events.on_message(message_op, assembly_);
            assembly_.clear();
            if (assembly_.capacity() > assembly_keep_limit) {
                std::string().swap(assembly_);
            }
        }
    }
}

}  // namespace zenws
