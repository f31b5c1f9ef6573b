// zenws/frame.hpp — the RFC 6455 frame codec, client side. Pure: no I/O, no clocks, no threads.
//
// Encoding: frame headers for client frames (always masked) and fast in-place masking.
// Decoding: FrameDecoder turns bytes from the server into messages and control events. It is incremental (any
// TCP split, down to 1-byte reads), handles many frames per read, reassembles fragmented messages, validates
// UTF-8 of text messages and close reasons as the bytes arrive (fail-fast), enforces the max message size and
// every framing rule a client must check. A violation puts the decoder in the failed state with the close code
// (1002, 1007 or 1009) and a reason the connection must send before dropping the link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "zenws/utf8.hpp"

namespace zenws {

enum class Opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;        // never on the wire: "close frame had no code"
inline constexpr std::uint16_t abnormal = 1006;         // never on the wire: "no close frame at all"
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

// May this code appear in a close frame on the wire? (1000-1003, 1007-1014, 3000-4999)
bool is_valid_wire_close_code(std::uint16_t code) noexcept;

inline constexpr std::size_t max_client_frame_header_size = 14;  // 2 + 8 (length) + 4 (mask)
inline constexpr std::size_t max_control_payload = 125;
inline constexpr std::size_t max_close_reason = 123;

// Writes the header of a masked client frame into `out` (at least 14 bytes); returns its size.
std::size_t encode_client_frame_header(std::uint8_t* out, Opcode op, bool fin, std::uint64_t payload_size,
                                       std::uint32_t mask_key) noexcept;

// XORs `data` with the 4-byte mask key (in network byte order, as written by encode_client_frame_header),
// starting at byte `offset` of the payload. Works 8 bytes at a time. Masking twice restores the input.
void apply_mask(std::uint8_t* data, std::size_t size, std::uint32_t mask_key, std::size_t offset = 0) noexcept;
// Copies `size` bytes from `src` to `dst` (which must not overlap) masking them on the way: one pass instead of
// memcpy followed by apply_mask.
void copy_masked(std::uint8_t* dst, const std::uint8_t* src, std::size_t size, std::uint32_t mask_key) noexcept;

// Fast mask-key generator (xorshift128+), seeded once from the OS CSPRNG. Not thread-safe: one per connection.
class MaskKeyGenerator {
public:
    MaskKeyGenerator();                          // seeds from getrandom()/RAND_bytes
    MaskKeyGenerator(std::uint64_t s0, std::uint64_t s1) noexcept;  // deterministic, for tests
    std::uint32_t next() noexcept;

private:
    std::uint64_t s0_, s1_;
};

// Builds a close frame payload (code + reason) into `out`; reason is truncated at a UTF-8 boundary to 123 bytes.
std::string make_close_payload(std::uint16_t code, std::string_view reason);

// Receives decoder output. Views are valid only during the call.
class FrameEvents {
public:
    virtual ~FrameEvents() = default;
    // A complete text or binary message. For a single-frame message the view points into the caller's buffer.
    virtual void on_message(Opcode op, std::string_view payload) = 0;
    virtual void on_ping(std::string_view payload) = 0;
    virtual void on_pong(std::string_view payload) = 0;
    // The peer's close frame. code is close_code::no_status (1005) when the frame had no payload.
    virtual void on_close(std::uint16_t code, std::string_view reason) = 0;
};

struct DecoderLimits {
    std::uint64_t max_message_size = 64ull << 20;  // bytes; larger messages fail with 1009
};

class FrameDecoder {
public:
    explicit FrameDecoder(DecoderLimits limits = {});

    // Decodes as many complete frames from [data, data+size) as possible, calling `events` for each, and returns
    // the number of bytes consumed. Bytes not consumed belong to an incomplete frame: present them again, followed
    // by more data, on the next call (their UTF-8 is already checked, so bad text fails as soon as it arrives).
    // After failed() or close_received() it consumes nothing more.
    std::size_t feed(const std::uint8_t* data, std::size_t size, FrameEvents& events);

    // The total number of contiguous bytes the next feed() needs to complete the current frame (header and
    // payload), or 0 if unknown yet. Lets the caller grow its buffer once instead of repeatedly.
    std::size_t bytes_needed() const noexcept { return bytes_needed_; }

    bool failed() const noexcept { return fail_code_ != 0; }
    std::uint16_t fail_code() const noexcept { return fail_code_; }    // 1002, 1007 or 1009
    const std::string& fail_reason() const noexcept { return fail_reason_; }
    bool close_received() const noexcept { return close_received_; }
    bool in_fragmented_message() const noexcept { return fragmented_op_ != Opcode::continuation; }

    void reset();  // back to the initial state (new connection)

private:
    bool fail(std::uint16_t code, std::string_view reason);
    bool handle_control(Opcode op, std::string_view payload, FrameEvents& events);

    DecoderLimits limits_;
    std::string assembly_;               // reassembly buffer for fragmented messages (capacity reused)
    Opcode fragmented_op_ = Opcode::continuation;  // continuation = not inside a fragmented message
    Utf8Validator utf8_;                 // state across fragments of a text message
    std::size_t partial_checked_ = 0;    // payload bytes of the current incomplete frame already UTF-8 checked
    std::size_t bytes_needed_ = 0;
    std::uint16_t fail_code_ = 0;
    std::string fail_reason_;
    bool close_received_ = false;
};

}  // namespace zenws
