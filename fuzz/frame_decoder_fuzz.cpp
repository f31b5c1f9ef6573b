// fuzz/frame_decoder_fuzz.cpp — libFuzzer target for zenws::FrameDecoder.
//
// The first two input bytes choose the message size limit and the seed of the read-split pattern; the rest is the
// byte stream from the "server". It is decoded twice — whole, and through a socket-reader-like loop that keeps
// unconsumed bytes and presents them again with the next read of a fuzzer-chosen size — and checked for:
// consumed <= presented, a failure code in {1002, 1007, 1009}, events that respect the protocol (valid UTF-8 text,
// control payloads <= 125 bytes, valid close codes, message size limit), silence after failure or close, and the
// same events and final state both ways.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/frame.hpp"
#include "zenws/utf8.hpp"

namespace {

void require(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "frame_decoder_fuzz invariant violated: %s\n", what);
        std::abort();
    }
}

struct Recorded {
    int kind;  // 0 message, 1 ping, 2 pong, 3 close
    int op;
    std::uint16_t code;
    std::string payload;
    bool operator==(const Recorded&) const = default;
};

class CheckingEvents : public zenws::FrameEvents {
public:
    explicit CheckingEvents(std::uint64_t max_message_size) : max_message_size_(max_message_size) {}

    std::vector<Recorded> events;
    bool closed = false;

    void on_message(zenws::Opcode op, std::string_view payload) override {
        require(!closed, "event after on_close");
        require(op == zenws::Opcode::text || op == zenws::Opcode::binary, "message opcode is text or binary");
        require(payload.size() <= max_message_size_, "message within the size limit");
        if (op == zenws::Opcode::text) require(zenws::is_valid_utf8(payload), "text message is valid UTF-8");
        events.push_back({0, static_cast<int>(op), 0, std::string(payload)});
    }
    void on_ping(std::string_view payload) override {
        require(!closed, "event after on_close");
        require(payload.size() <= zenws::max_control_payload, "ping payload <= 125");
        events.push_back({1, 9, 0, std::string(payload)});
    }
    void on_pong(std::string_view payload) override {
        require(!closed, "event after on_close");
        require(payload.size() <= zenws::max_control_payload, "pong payload <= 125");
        events.push_back({2, 10, 0, std::string(payload)});
    }
    void on_close(std::uint16_t code, std::string_view reason) override {
        require(!closed, "second on_close");
        require(code == zenws::close_code::no_status || zenws::is_valid_wire_close_code(code), "close code valid");
        require(code != zenws::close_code::no_status || reason.empty(), "no reason without a code");
        require(reason.size() <= zenws::max_close_reason, "close reason <= 123");
        require(zenws::is_valid_utf8(reason), "close reason is valid UTF-8");
        closed = true;
        events.push_back({3, 8, code, std::string(reason)});
    }

private:
    std::uint64_t max_message_size_;
};

struct Result {
    std::vector<Recorded> events;
    std::uint16_t fail_code;
    bool close_received;
    std::size_t unconsumed;
};

void check_state(const zenws::FrameDecoder& decoder) {
    if (decoder.failed()) {
        const auto code = decoder.fail_code();
        require(code == 1002 || code == 1007 || code == 1009, "fail code is 1002, 1007 or 1009");
        require(!decoder.fail_reason().empty(), "failure has a reason");
        require(!decoder.close_received(), "not both failed and closed");
    }
}

Result decode(const std::uint8_t* data, std::size_t size, std::uint64_t limit, std::uint32_t split_seed,
              bool whole) {
    zenws::FrameDecoder decoder(zenws::DecoderLimits{limit});
    CheckingEvents events(limit);
    std::vector<std::uint8_t> buffer;
    std::size_t offset = 0;
    std::uint32_t rng = split_seed | 1;
    while (offset < size) {  // bounded: every round takes at least one input byte
        std::size_t chunk = size - offset;
        if (!whole) {
            rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
            chunk = std::min<std::size_t>(chunk, 1 + rng % 64);
        }
        buffer.insert(buffer.end(), data + offset, data + offset + chunk);
        offset += chunk;

        const bool was_done = decoder.failed() || decoder.close_received();
        const std::size_t events_before = events.events.size();
        const std::size_t consumed = decoder.feed(buffer.data(), buffer.size(), events);
        require(consumed <= buffer.size(), "consumed <= presented");
        check_state(decoder);
        if (was_done) {
            require(consumed == buffer.size(), "after failure/close everything is consumed");
            require(events.events.size() == events_before, "no events after failure/close");
        }
        if (decoder.failed() || decoder.close_received()) {
            require(consumed == buffer.size(), "a failing/closing feed consumes everything");
        } else if (consumed < buffer.size()) {
            require(decoder.bytes_needed() > buffer.size() - consumed, "bytes_needed exceeds what is buffered");
        }
        buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(consumed));
    }
    return {std::move(events.events), decoder.fail_code(), decoder.close_received(), buffer.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static constexpr std::uint64_t limits[] = {0, 1, 125, 126, 1000, 65536, 1u << 20, 1u << 20};
    const std::uint64_t limit = limits[data[0] & 7];
    const std::uint32_t split_seed = 0x9E3779B9u * (static_cast<std::uint32_t>(data[1]) + 1);
    data += 2;
    size -= 2;

    const Result whole = decode(data, size, limit, split_seed, true);
    const Result split = decode(data, size, limit, split_seed, false);
    require(whole.events == split.events, "same events whole and split");
    require(whole.fail_code == split.fail_code, "same failure whole and split");
    require(whole.close_received == split.close_received, "same close state whole and split");
    require(whole.unconsumed == split.unconsumed, "same unconsumed tail whole and split");
    return 0;
}
