// tests/unit/frame_decoder_test.cpp — specification tests for zenws::FrameDecoder (server -> client frames).
//
// Every scenario is decoded three ways — the whole input at once, one byte at a time, and at random split points
// (fixed seed) — through a harness that behaves like a socket reader (keeps unconsumed bytes and presents them
// again with the next read). All three must produce the same events and the same final state. The case groups
// follow the Autobahn client suite: framing, ping/pong, reserved bits, opcodes, fragmentation, UTF-8, close,
// limits; plus masked server frames and the 64-bit length rule.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/frame.hpp"

namespace {

using zenws::FrameDecoder;
using zenws::Opcode;
using Bytes = std::string;

// ---- frame building (server frames: unmasked unless asked) ---------------------------------------------------

constexpr std::uint8_t FIN = 0x80;
constexpr std::uint8_t RSV1 = 0x40;
constexpr std::uint8_t RSV2 = 0x20;
constexpr std::uint8_t RSV3 = 0x10;
constexpr std::uint8_t CONT = 0x0, TEXT = 0x1, BINARY = 0x2, CLOSE = 0x8, PING = 0x9, PONG = 0xA;

Bytes frame(std::uint8_t first_byte, std::string_view payload, bool masked = false) {
    Bytes out;
    out.push_back(static_cast<char>(first_byte));
    const std::uint8_t mask_bit = masked ? 0x80 : 0x00;
    const std::uint64_t size = payload.size();
    if (size <= 125) {
        out.push_back(static_cast<char>(mask_bit | size));
    } else if (size <= 0xFFFF) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(size >> 8));
        out.push_back(static_cast<char>(size));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int shift = 56; shift >= 0; shift -= 8) {
            out.push_back(static_cast<char>(size >> shift));
        }
    }
    if (masked) {
        const char key[4] = {0x12, 0x34, 0x56, 0x78};
        out.append(key, 4);
        for (std::size_t i = 0; i < payload.size(); ++i) {
            out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
        }
    } else {
        out.append(payload);
    }
    return out;
}

Bytes hex(std::string_view text) {  // "81 7e 00 7e" -> bytes
    Bytes out;
    int high = -1;
    for (char c : text) {
        int value = -1;
        if (c >= '0' && c <= '9') value = c - '0';
        if (c >= 'a' && c <= 'f') value = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') value = c - 'A' + 10;
        if (value < 0) continue;
        if (high < 0) {
            high = value;
        } else {
            out.push_back(static_cast<char>(high * 16 + value));
            high = -1;
        }
    }
    return out;
}

Bytes close_payload(std::uint16_t code, std::string_view reason = {}) {
    Bytes out;
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xFF));
    out.append(reason);
    return out;
}

Bytes pattern(std::size_t size, char first = 'a') {
    Bytes out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(first + i % 26);
    return out;
}

// ---- event recording ------------------------------------------------------------------------------------------

struct Event {
    std::string kind;  // "message", "ping", "pong", "close"
    Opcode op = Opcode::continuation;
    Bytes payload;
    std::uint16_t code = 0;
    bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
    os << e.kind << "(op=" << int(e.op) << ", code=" << e.code << ", " << e.payload.size() << " bytes";
    if (e.payload.size() <= 40) os << " \"" << e.payload << "\"";
    return os << ")";
}

Event message(Opcode op, Bytes payload) { return {"message", op, std::move(payload), 0}; }
Event text(Bytes payload) { return message(Opcode::text, std::move(payload)); }
Event binary(Bytes payload) { return message(Opcode::binary, std::move(payload)); }
Event ping(Bytes payload) { return {"ping", Opcode::ping, std::move(payload), 0}; }
Event pong(Bytes payload) { return {"pong", Opcode::pong, std::move(payload), 0}; }
Event closed(std::uint16_t code, Bytes reason = {}) { return {"close", Opcode::close, std::move(reason), code}; }

class Recorder : public zenws::FrameEvents {
public:
    std::vector<Event> events;
    const char* last_single_frame_view = nullptr;  // where the last on_message view pointed

    void on_message(Opcode op, std::string_view payload) override {
        last_single_frame_view = payload.data();
        events.push_back(message(op, Bytes(payload)));
    }
    void on_ping(std::string_view payload) override { events.push_back(ping(Bytes(payload))); }
    void on_pong(std::string_view payload) override { events.push_back(pong(Bytes(payload))); }
    void on_close(std::uint16_t code, std::string_view reason) override {
        events.push_back(closed(code, Bytes(reason)));
    }
};

struct Outcome {
    std::vector<Event> events;
    std::uint16_t fail_code = 0;
    bool close_received = false;
    std::size_t unconsumed = 0;  // bytes the decoder left in the reader's buffer at the end
    bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    os << "{fail=" << o.fail_code << " close=" << o.close_received << " unconsumed=" << o.unconsumed << " events=[";
    for (const auto& e : o.events) os << e << " ";
    return os << "]}";
}

// A socket-reader-like harness: appends each chunk to its buffer, feeds the whole buffer, drops what was consumed.
class Reader {
public:
    explicit Reader(zenws::DecoderLimits limits = {}) : decoder(limits) {}

    void read(std::string_view chunk) {
        buffer_.append(chunk);
        const std::size_t consumed =
            decoder.feed(reinterpret_cast<const std::uint8_t*>(buffer_.data()), buffer_.size(), recorder);
        EXPECT_LE(consumed, buffer_.size());
        buffer_.erase(0, consumed);
    }
    Outcome outcome() const {
        return {recorder.events, decoder.fail_code(), decoder.close_received(), buffer_.size()};
    }

    FrameDecoder decoder;
    Recorder recorder;

private:
    Bytes buffer_;
};

Outcome decode_with_chunks(std::string_view input, const std::vector<std::size_t>& chunk_sizes,
                           zenws::DecoderLimits limits = {}) {
    Reader reader(limits);
    std::size_t offset = 0;
    for (std::size_t chunk : chunk_sizes) {
        reader.read(input.substr(offset, chunk));
        offset += chunk;
    }
    return reader.outcome();
}

std::vector<std::size_t> whole(std::size_t size) { return {size}; }
std::vector<std::size_t> byte_by_byte(std::size_t size) { return std::vector<std::size_t>(size, 1); }
std::vector<std::size_t> random_splits(std::size_t size, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> chunk(1, 40);
    std::vector<std::size_t> sizes;
    for (std::size_t left = size; left > 0;) {
        const std::size_t n = std::min(left, chunk(rng));
        sizes.push_back(n);
        left -= n;
    }
    return sizes;
}
std::vector<std::size_t> fixed_chops(std::size_t size, std::size_t chop) {
    std::vector<std::size_t> sizes;
    for (std::size_t left = size; left > 0; left -= std::min(left, chop)) sizes.push_back(std::min(left, chop));
    return sizes;
}

// Decodes whole, byte by byte and at random splits; all three must agree. Returns the agreed outcome.
Outcome decode(std::string_view input, zenws::DecoderLimits limits = {}) {
    const Outcome at_once = decode_with_chunks(input, whole(input.size()), limits);
    const Outcome bytewise = decode_with_chunks(input, byte_by_byte(input.size()), limits);
    const Outcome random = decode_with_chunks(input, random_splits(input.size(), 20240611), limits);
    EXPECT_EQ(at_once, bytewise) << "whole vs. byte-by-byte";
    EXPECT_EQ(at_once, random) << "whole vs. random splits";
    return at_once;
}

Outcome ok(std::vector<Event> events) { return {std::move(events), 0, false, 0}; }
Outcome ok_closed(std::vector<Event> events) { return {std::move(events), 0, true, 0}; }
Outcome failed(std::uint16_t code, std::vector<Event> events_before = {}) {
    return {std::move(events_before), code, false, 0};
}

// ---- 1. framing -----------------------------------------------------------------------------------------------

TEST(FrameDecoderFraming, PayloadLengthEncodingsMatchHandComputedHeaders) {
    struct Case {
        std::size_t payload_size;
        const char* text_header;  // hex, as a server sends it
    };
    const Case cases[] = {
        {0, "81 00"},
        {125, "81 7d"},
        {126, "81 7e 00 7e"},
        {127, "81 7e 00 7f"},
        {128, "81 7e 00 80"},
        {65535, "81 7e ff ff"},
        {65536, "81 7f 00 00 00 00 00 01 00 00"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.payload_size);
        const Bytes payload = pattern(c.payload_size);
        const Bytes text_header = hex(c.text_header);
        Bytes binary_header = text_header;
        binary_header[0] = static_cast<char>(0x82);
        EXPECT_EQ(frame(FIN | TEXT, payload), text_header + payload) << "test builder agrees with the vector";
        EXPECT_EQ(decode(text_header + payload), ok({text(payload)}));
        EXPECT_EQ(decode(binary_header + payload), ok({binary(payload)}));
        // A 64 KiB frame in 997-byte TCP chops (Autobahn 1.1.8 / 1.2.8).
        const Bytes chopped = text_header + payload;
        EXPECT_EQ(decode_with_chunks(chopped, fixed_chops(chopped.size(), 997)), ok({text(payload)}));
    }
}

TEST(FrameDecoderFraming, ManyFramesInOneBufferAreAllDelivered) {
    Bytes input;
    std::vector<Event> expected;
    for (int i = 0; i < 50; ++i) {
        const Bytes payload = pattern(static_cast<std::size_t>(i * 7));
        input += frame(FIN | (i % 2 ? BINARY : TEXT), payload);
        expected.push_back(i % 2 ? binary(payload) : text(payload));
        if (i % 10 == 0) {
            input += frame(FIN | PING, "p");
            expected.push_back(ping("p"));
        }
    }
    EXPECT_EQ(decode(input), ok(expected));
}

TEST(FrameDecoderFraming, SingleFrameMessageIsAViewIntoTheCallersBuffer) {
    const Bytes input = frame(FIN | BINARY, "zero-copy") + frame(FIN | TEXT, "second");
    FrameDecoder decoder;
    Recorder recorder;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(input.data());
    ASSERT_EQ(decoder.feed(bytes, input.size(), recorder), input.size());
    ASSERT_EQ(recorder.events.size(), 2u);
    EXPECT_EQ(recorder.last_single_frame_view, input.data() + 11 + 2);
}

TEST(FrameDecoderFraming, BytesNeededReportsTheContiguousSizeOfTheCurrentFrame) {
    const Bytes medium = frame(FIN | BINARY, pattern(300));      // header 4
    const Bytes large = frame(FIN | BINARY, pattern(70000));     // header 10
    struct Case {
        Bytes input;
        std::size_t present;
        std::size_t expected_needed;
    };
    const Case cases[] = {
        {medium, 0, 0},    {medium, 1, 2},   {medium, 2, 4},  {medium, 3, 4},
        {medium, 4, 304},  {medium, 303, 304}, {medium, 304, 0}, {large, 2, 10},
        {large, 9, 10},    {large, 10, 70010}, {large, 5000, 70010},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::Message() << c.input.size() << " bytes, " << c.present << " present");
        FrameDecoder decoder;
        Recorder recorder;
        const std::size_t consumed =
            decoder.feed(reinterpret_cast<const std::uint8_t*>(c.input.data()), c.present, recorder);
        EXPECT_EQ(decoder.bytes_needed(), c.expected_needed);
        EXPECT_EQ(consumed, c.present == c.input.size() ? c.present : 0u);
    }
}

// ---- 2. ping / pong -------------------------------------------------------------------------------------------

TEST(FrameDecoderPingPong, ControlFramesAreDeliveredAndOversizedOnesFail) {
    struct Case {
        const char* name;
        Bytes input;
        Outcome expected;
    };
    const Case cases[] = {
        {"empty ping", frame(FIN | PING, ""), ok({ping("")})},
        {"text ping", frame(FIN | PING, "Hello, world!"), ok({ping("Hello, world!")})},
        {"binary ping", frame(FIN | PING, hex("00 ff fe fd fc")), ok({ping(hex("00 ff fe fd fc"))})},
        {"125-byte ping", frame(FIN | PING, pattern(125)), ok({ping(pattern(125))})},
        {"126-byte ping", frame(FIN | PING, pattern(126)), failed(1002)},
        {"126-byte pong", frame(FIN | PONG, pattern(126)), failed(1002)},
        {"unsolicited pong is just reported", frame(FIN | PONG, "unsolicited"), ok({pong("unsolicited")})},
        {"unsolicited pong then ping",
         frame(FIN | PONG, "u") + frame(FIN | PING, "p"), ok({pong("u"), ping("p")})},
        {"empty pong", frame(FIN | PONG, ""), ok({pong("")})},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode(c.input), c.expected);
    }
}

TEST(FrameDecoderPingPong, TenPingsInARowAreEachDelivered) {
    Bytes input;
    std::vector<Event> expected;
    for (int i = 0; i < 10; ++i) {
        const Bytes payload = "ping-" + std::to_string(i);
        input += frame(FIN | PING, payload);
        expected.push_back(ping(payload));
    }
    EXPECT_EQ(decode(input), ok(expected));
}

// ---- 3. reserved bits -----------------------------------------------------------------------------------------

TEST(FrameDecoderReservedBits, AnyReservedBitFailsWith1002AfterEarlierMessagesAreDelivered) {
    const std::uint8_t bit_sets[] = {RSV3, RSV2, RSV2 | RSV3, RSV1, RSV1 | RSV3, RSV1 | RSV2, RSV1 | RSV2 | RSV3};
    const std::uint8_t opcodes[] = {TEXT, BINARY, PING, CLOSE};
    for (std::uint8_t bits : bit_sets) {
        for (std::uint8_t opcode : opcodes) {
            SCOPED_TRACE(testing::Message() << "rsv bits " << int(bits >> 4) << " opcode " << int(opcode));
            const Bytes payload = opcode == CLOSE ? close_payload(1000) : Bytes("Hello, world!");
            EXPECT_EQ(decode(frame(FIN | bits | opcode, payload)), failed(1002));
            // Autobahn 3.2-3.4: a valid message, the bad frame, then a ping that must not be answered.
            const Bytes sequence = frame(FIN | TEXT, "valid") + frame(FIN | bits | opcode, payload) +
                                   frame(FIN | PING, "must not be seen");
            EXPECT_EQ(decode(sequence), failed(1002, {text("valid")}));
        }
    }
}

// ---- 4. opcodes -----------------------------------------------------------------------------------------------

TEST(FrameDecoderOpcodes, ReservedOpcodesFailWith1002) {
    const std::uint8_t reserved[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};
    for (std::uint8_t opcode : reserved) {
        SCOPED_TRACE(int(opcode));
        EXPECT_EQ(decode(frame(FIN | opcode, "")), failed(1002));
        EXPECT_EQ(decode(frame(FIN | opcode, "reserved opcode payload")), failed(1002));
        const Bytes sequence =
            frame(FIN | TEXT, "valid") + frame(FIN | opcode, "x") + frame(FIN | PING, "must not be seen");
        EXPECT_EQ(decode(sequence), failed(1002, {text("valid")}));
    }
}

// ---- 5. fragmentation -----------------------------------------------------------------------------------------

TEST(FrameDecoderFragmentation, FragmentsReassembleAndIllegalSequencesFail) {
    struct Case {
        const char* name;
        Bytes input;
        Outcome expected;
    };
    const Case cases[] = {
        {"fragmented ping", frame(PING, "frag1") + frame(FIN | CONT, "frag2"), failed(1002)},
        {"fragmented pong", frame(PONG, "frag1") + frame(FIN | CONT, "frag2"), failed(1002)},
        {"text in 2 fragments", frame(TEXT, "fragment1") + frame(FIN | CONT, "fragment2"),
         ok({text("fragment1fragment2")})},
        {"binary in 3 fragments", frame(BINARY, "a") + frame(CONT, "b") + frame(FIN | CONT, "c"),
         ok({binary("abc")})},
        {"ping between fragments is delivered before the message completes",
         frame(TEXT, "fragment1") + frame(FIN | PING, "ping") + frame(FIN | CONT, "fragment2"),
         ok({ping("ping"), text("fragment1fragment2")})},
        {"pong between fragments",
         frame(TEXT, "f1") + frame(FIN | PONG, "pong") + frame(FIN | CONT, "f2"), ok({pong("pong"), text("f1f2")})},
        {"continuation without start, FIN=1", frame(FIN | CONT, "non-continuation payload"), failed(1002)},
        {"continuation without start, FIN=0", frame(CONT, "non-continuation payload"), failed(1002)},
        {"continuation after a complete message",
         frame(FIN | TEXT, "done") + frame(FIN | CONT, "again"), failed(1002, {text("done")})},
        {"text frame inside a fragmented message",
         frame(TEXT, "fragment1") + frame(FIN | TEXT, "fragment2") + frame(FIN | CONT, "fragment3"), failed(1002)},
        {"binary frame inside a fragmented text message",
         frame(TEXT, "fragment1") + frame(BINARY, "fragment2"), failed(1002)},
        {"empty fragments", frame(TEXT, "") + frame(CONT, "") + frame(FIN | CONT, ""), ok({text("")})},
        {"empty fragments around data",
         frame(BINARY, "") + frame(CONT, "middle") + frame(FIN | CONT, ""), ok({binary("middle")})},
        {"two fragmented messages back to back",
         frame(TEXT, "a") + frame(FIN | CONT, "b") + frame(BINARY, "c") + frame(FIN | CONT, "d"),
         ok({text("ab"), binary("cd")})},
        {"close between fragments ends the stream",
         frame(TEXT, "a") + frame(FIN | CLOSE, close_payload(1000)) + frame(FIN | CONT, "b"),
         ok_closed({closed(1000)})},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode(c.input), c.expected);
    }
}

TEST(FrameDecoderFragmentation, PingBetweenFragmentsIsDeliveredImmediately) {
    // The ping must reach the caller while the message is still open, so the pong can go out first.
    const Bytes input = frame(TEXT, "fragment1") + frame(FIN | PING, "ping");
    Reader reader;
    reader.read(input);
    EXPECT_EQ(reader.outcome(), ok({ping("ping")}));
    EXPECT_TRUE(reader.decoder.in_fragmented_message());
    reader.read(frame(FIN | CONT, "fragment2"));
    EXPECT_EQ(reader.outcome(), ok({ping("ping"), text("fragment1fragment2")}));
    EXPECT_FALSE(reader.decoder.in_fragmented_message());
}

TEST(FrameDecoderFragmentation, MessageFragmentedIntoOneBytePiecesAndChoppedOctetWise) {
    const Bytes message = pattern(64, 'A');
    Bytes input;
    for (std::size_t i = 0; i < message.size(); ++i) {
        const bool last = i + 1 == message.size();
        input += frame((last ? FIN : 0) | (i == 0 ? TEXT : CONT), message.substr(i, 1));
    }
    EXPECT_EQ(decode(input), ok({text(message)}));
}

// ---- 6. UTF-8 -------------------------------------------------------------------------------------------------

TEST(FrameDecoderUtf8, ValidTextSplitAtEveryByteBoundaryAcrossFragments) {
    const Bytes samples[] = {
        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",                      // κόσμε
        "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
        "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbe \xef\xbf\xbf \xee\x80\x80 \xed\x9f\xbf",  // edges, U+FFFE/F
        "",
    };
    for (const Bytes& sample : samples) {
        SCOPED_TRACE(sample);
        EXPECT_EQ(decode(frame(FIN | TEXT, sample)), ok({text(sample)}));
        for (std::size_t split = 0; split <= sample.size(); ++split) {
            SCOPED_TRACE(split);
            const Bytes input = frame(TEXT, sample.substr(0, split)) + frame(FIN | CONT, sample.substr(split));
            EXPECT_EQ(decode(input), ok({text(sample)}));
        }
        Bytes one_byte_fragments = frame(TEXT, "");
        for (char c : sample) one_byte_fragments += frame(CONT, Bytes(1, c));
        one_byte_fragments += frame(FIN | CONT, "");
        EXPECT_EQ(decode(one_byte_fragments), ok({text(sample)}));
    }
}

TEST(FrameDecoderUtf8, InvalidTextFailsWith1007) {
    const char* invalid[] = {
        "c0 80",            "c1 bf",          "e0 80 af",       "e0 9f bf",        "f0 80 80 af",
        "f0 8f bf bf",      "ed a0 80",       "ed ad bf",       "ed af bf ed b0 80", "ed bf bf",
        "f4 90 80 80",      "f5 80 80 80",    "f7 bf bf bf",    "f8 88 80 80 80",  "fc 84 80 80 80 80",
        "80",               "bf",             "80 bf 80",       "c0",              "fe",
        "ff",               "fe fe ff ff",    "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
        "ce",               "e1 bd",          "f0 90 80",       "ce 41",           "e1 41 bd",
    };
    for (const char* sequence : invalid) {
        SCOPED_TRACE(sequence);
        const Bytes bytes = hex(sequence);
        EXPECT_EQ(decode(frame(FIN | TEXT, bytes)), failed(1007));
        // Same bytes in two fragments, and after a valid message (which is still delivered).
        const std::size_t half = bytes.size() / 2;
        EXPECT_EQ(decode(frame(TEXT, bytes.substr(0, half)) + frame(FIN | CONT, bytes.substr(half))), failed(1007));
        EXPECT_EQ(decode(frame(FIN | TEXT, "ok") + frame(FIN | TEXT, "x" + bytes)), failed(1007, {text("ok")}));
        // Binary messages are not checked.
        EXPECT_EQ(decode(frame(FIN | BINARY, bytes)), ok({binary(bytes)}));
    }
}

TEST(FrameDecoderUtf8, FinalFragmentEndingInsideACodePointFails) {
    EXPECT_EQ(decode(frame(TEXT, "\xce") + frame(FIN | CONT, "")), failed(1007));
    EXPECT_EQ(decode(frame(TEXT, "ab") + frame(FIN | CONT, "\xf0\x90\x80")), failed(1007));
    EXPECT_EQ(decode(frame(TEXT, "ab\xf0\x90") + frame(CONT, "\x80") + frame(FIN | CONT, "\x80")),
              ok({text("ab\xf0\x90\x80\x80")}));
}

TEST(FrameDecoderUtf8, InvalidByteFailsBeforeTheFrameIsComplete) {
    // Autobahn 6.4.x: the frame announces 40 bytes but stops sending after the invalid byte.
    struct Case {
        Bytes payload_prefix;       // what has arrived of the 40-byte payload
        std::size_t invalid_index;  // index (in the payload) of the first byte that cannot be valid
    };
    const Case cases[] = {
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", 12},
        {"hello\xed\xa0\x80", 6},
        {"\xc0", 0},
        {"abcdefghijklmnop\xff", 16},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.invalid_index);
        Bytes header = frame(FIN | TEXT, pattern(40)).substr(0, 2);
        const Bytes arrived = header + c.payload_prefix;
        // Whole prefix at once: fails although the frame is incomplete.
        Reader at_once;
        at_once.read(arrived);
        EXPECT_EQ(at_once.decoder.fail_code(), 1007);
        // Byte by byte: fails exactly when the invalid byte arrives, not before.
        Reader bytewise;
        for (std::size_t i = 0; i < arrived.size(); ++i) {
            bytewise.read(arrived.substr(i, 1));
            const bool invalid_byte_arrived = i >= header.size() + c.invalid_index;
            ASSERT_EQ(bytewise.decoder.failed(), invalid_byte_arrived) << "after byte " << i;
        }
        EXPECT_EQ(bytewise.decoder.fail_code(), 1007);
    }
    // In a continuation frame of a fragmented text message, too.
    Reader continued;
    continued.read(frame(TEXT, "abc") + frame(FIN | CONT, pattern(50)).substr(0, 2) + "de\xed\xbf");
    EXPECT_EQ(continued.decoder.fail_code(), 1007);
}

// ---- 7. close -------------------------------------------------------------------------------------------------

TEST(FrameDecoderClose, ClosePayloadRules) {
    struct Case {
        const char* name;
        Bytes payload;
        Outcome expected;
    };
    const Bytes reason_123 = pattern(123);
    const Case cases[] = {
        {"no payload -> 1005", "", ok_closed({closed(1005)})},
        {"payload of 1 byte", "\x03", failed(1002)},
        {"code only", close_payload(1000), ok_closed({closed(1000)})},
        {"code and reason", close_payload(1000, "Hello World!"), ok_closed({closed(1000, "Hello World!")})},
        {"123-byte reason", close_payload(1000, reason_123), ok_closed({closed(1000, reason_123)})},
        {"124-byte reason (payload 126)", close_payload(1000, pattern(124)), failed(1002)},
        {"UTF-8 reason", close_payload(1001, "\xce\xba\xe1\xbd\xb9"),
         ok_closed({closed(1001, "\xce\xba\xe1\xbd\xb9")})},
        {"invalid UTF-8 reason", close_payload(1000, "\xce\xba\xe1\xbd\xb9\xed\xa0\x80"), failed(1007)},
        {"reason ending mid code point", close_payload(1000, "ab\xce"), failed(1007)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode(frame(FIN | CLOSE, c.payload)), c.expected);
    }
    // A 1-byte close payload must not borrow the next frame's first byte (0x0f 0x81 would read as code 3969).
    EXPECT_EQ(decode(frame(FIN | CLOSE, "\x0f") + frame(FIN | TEXT, "next")), failed(1002));
}

TEST(FrameDecoderClose, CloseCodesOnTheWire) {
    const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999};
    const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535};
    for (std::uint16_t code : valid) {
        SCOPED_TRACE(code);
        EXPECT_EQ(decode(frame(FIN | CLOSE, close_payload(code))), ok_closed({closed(code)}));
    }
    for (std::uint16_t code : invalid) {
        SCOPED_TRACE(code);
        EXPECT_EQ(decode(frame(FIN | CLOSE, close_payload(code))), failed(1002));
    }
}

TEST(FrameDecoderClose, EverythingAfterTheCloseFrameIsIgnored) {
    struct Case {
        const char* name;
        Bytes after;
    };
    const Case cases[] = {
        {"second close", frame(FIN | CLOSE, close_payload(1001))},
        {"ping", frame(FIN | PING, "ping")},
        {"text", frame(FIN | TEXT, "text")},
        {"fragment", frame(TEXT, "frag")},
        {"garbage with reserved bits", hex("f3 00 ff ff")},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const Bytes input = frame(FIN | TEXT, "before") + frame(FIN | CLOSE, close_payload(1000, "bye")) + c.after;
        EXPECT_EQ(decode(input), ok_closed({text("before"), closed(1000, "bye")}));
    }
    // And a later feed() swallows its input without events.
    Reader reader;
    reader.read(frame(FIN | CLOSE, ""));
    reader.read(frame(FIN | TEXT, "late"));
    EXPECT_EQ(reader.outcome(), ok_closed({closed(1005)}));
}

// ---- masking, length and size limits --------------------------------------------------------------------------

TEST(FrameDecoderRules, MaskedServerFramesAndHugeLengthsFail) {
    struct Case {
        const char* name;
        Bytes input;
        Outcome expected;
    };
    const Case cases[] = {
        {"masked text frame", frame(FIN | TEXT, "masked", true), failed(1002)},
        {"masked empty ping", frame(FIN | PING, "", true), failed(1002)},
        {"masked frame after a valid one", frame(FIN | BINARY, "ok") + frame(FIN | BINARY, "m", true),
         failed(1002, {binary("ok")})},
        {"64-bit length with the high bit set", hex("82 7f 80 00 00 00 00 00 00 01"), failed(1002)},
        {"64-bit length all ones", hex("82 7f ff ff ff ff ff ff ff ff"), failed(1002)},
        {"64-bit length 2^63-1 exceeds the size limit", hex("82 7f 7f ff ff ff ff ff ff ff"), failed(1009)},
        {"failure discards following frames", hex("c1 00") + frame(FIN | TEXT, "x"), failed(1002)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode(c.input), c.expected);
    }
}

TEST(FrameDecoderLimits, MessagesAboveTheLimitFailWith1009AsSoonAsTheHeaderIsKnown) {
    const zenws::DecoderLimits limits{100};
    struct Case {
        const char* name;
        Bytes input;
        Outcome expected;
    };
    const Case cases[] = {
        {"single frame at the limit", frame(FIN | BINARY, pattern(100)), ok({binary(pattern(100))})},
        {"single frame over the limit", frame(FIN | BINARY, pattern(101)), failed(1009)},
        {"text over the limit", frame(FIN | TEXT, pattern(5000)), failed(1009)},
        {"fragments adding up to the limit",
         frame(TEXT, pattern(60)) + frame(FIN | CONT, pattern(40)), ok({text(pattern(60) + pattern(40))})},
        {"fragments adding up over the limit",
         frame(TEXT, pattern(60)) + frame(CONT, pattern(40)) + frame(FIN | CONT, "x"), failed(1009)},
        {"control frames do not count", frame(BINARY, pattern(100)) + frame(FIN | PING, pattern(125)) +
                                            frame(FIN | CONT, ""), ok({ping(pattern(125)), binary(pattern(100))})},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(decode(c.input, limits), c.expected);
    }
    // Fails from the header alone: the 5000-byte payload never has to arrive.
    Reader reader(limits);
    reader.read(frame(FIN | BINARY, pattern(5000)).substr(0, 4));
    EXPECT_EQ(reader.decoder.fail_code(), 1009);
}

TEST(FrameDecoderLimits, SixteenMebibyteMessageWholeAndIn64KiBChops) {
    const Bytes payload = pattern(16u << 20);
    const Bytes input = frame(FIN | BINARY, payload);
    EXPECT_EQ(decode_with_chunks(input, whole(input.size())), ok({binary(payload)}));
    EXPECT_EQ(decode_with_chunks(input, fixed_chops(input.size(), 64 * 1024)), ok({binary(payload)}));
    // As text, fragmented into 64 KiB frames (Autobahn 9.3/9.4 style), read in 61 KiB chops.
    Bytes fragmented;
    const std::size_t fragment = 64 * 1024;
    for (std::size_t offset = 0; offset < payload.size(); offset += fragment) {
        const bool first = offset == 0, last = offset + fragment >= payload.size();
        const std::uint8_t first_byte = (last ? FIN : 0) | (first ? TEXT : CONT);
        fragmented += frame(first_byte, std::string_view(payload).substr(offset, fragment));
    }
    EXPECT_EQ(decode_with_chunks(fragmented, fixed_chops(fragmented.size(), 61 * 1024)), ok({text(payload)}));
}

TEST(FrameDecoderLimits, ThousandMessageRun) {
    Bytes input;
    std::vector<Event> expected;
    std::mt19937 rng(7);
    for (int i = 0; i < 1000; ++i) {
        const Bytes payload = pattern(rng() % 300);
        const bool fragmented = i % 5 == 0 && payload.size() > 2;
        if (fragmented) {
            input += frame(TEXT, payload.substr(0, 2)) + frame(FIN | CONT, payload.substr(2));
        } else {
            input += frame(FIN | TEXT, payload);
        }
        expected.push_back(text(payload));
    }
    EXPECT_EQ(decode(input), ok(expected));
}

TEST(FrameDecoderState, ResetStartsOverAfterAFailureOrClose) {
    Reader reader;
    reader.read(frame(TEXT, "abc"));
    reader.read(hex("c1 00"));
    ASSERT_EQ(reader.decoder.fail_code(), 1002);
    EXPECT_FALSE(reader.decoder.fail_reason().empty());
    reader.decoder.reset();
    EXPECT_FALSE(reader.decoder.failed());
    EXPECT_FALSE(reader.decoder.in_fragmented_message());
    Recorder recorder;
    const Bytes input = frame(FIN | TEXT, "fresh");
    EXPECT_EQ(reader.decoder.feed(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), recorder),
              input.size());
    EXPECT_EQ(recorder.events, std::vector<Event>{text("fresh")});
}

}  // namespace
