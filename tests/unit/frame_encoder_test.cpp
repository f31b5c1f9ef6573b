// tests/unit/frame_encoder_test.cpp — specification tests for the client side of the frame codec: masked frame
// headers (against hand-computed bytes), apply_mask (against a byte-by-byte reference at every offset and length),
// MaskKeyGenerator, make_close_payload and is_valid_wire_close_code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "zenws/frame.hpp"

namespace {

using zenws::Opcode;
using ByteVector = std::vector<std::uint8_t>;

ByteVector header_bytes(Opcode op, bool fin, std::uint64_t payload_size, std::uint32_t key) {
    std::uint8_t out[zenws::max_client_frame_header_size + 2];
    std::fill(std::begin(out), std::end(out), 0xEE);  // sentinel: nothing past the returned size may be written
    const std::size_t size = zenws::encode_client_frame_header(out, op, fin, payload_size, key);
    EXPECT_LE(size, zenws::max_client_frame_header_size);
    for (std::size_t i = size; i < sizeof out; ++i) EXPECT_EQ(out[i], 0xEE) << "wrote past the header at " << i;
    return ByteVector(out, out + size);
}

TEST(FrameEncoder, HeadersMatchHandComputedBytes) {
    struct Case {
        Opcode op;
        bool fin;
        std::uint64_t payload_size;
        ByteVector expected;
    };
    const std::uint32_t key = 0x11223344;
    const Case cases[] = {
        {Opcode::text, true, 0, {0x81, 0x80, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 125, {0x81, 0xFD, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 126, {0x81, 0xFE, 0x00, 0x7E, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 127, {0x81, 0xFE, 0x00, 0x7F, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 128, {0x81, 0xFE, 0x00, 0x80, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 65535, {0x81, 0xFE, 0xFF, 0xFF, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, true, 65536,
         {0x81, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 0, {0x82, 0x80, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 125, {0x82, 0xFD, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 126, {0x82, 0xFE, 0x00, 0x7E, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 127, {0x82, 0xFE, 0x00, 0x7F, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 128, {0x82, 0xFE, 0x00, 0x80, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 65535, {0x82, 0xFE, 0xFF, 0xFF, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 65536,
         {0x82, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::binary, true, 0x0102030405060708ull,
         {0x82, 0xFF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::text, false, 5, {0x01, 0x85, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::continuation, true, 5, {0x80, 0x85, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::continuation, false, 5, {0x00, 0x85, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::ping, true, 4, {0x89, 0x84, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::pong, true, 125, {0x8A, 0xFD, 0x11, 0x22, 0x33, 0x44}},
        {Opcode::close, true, 2, {0x88, 0x82, 0x11, 0x22, 0x33, 0x44}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::Message() << "op " << int(c.op) << " fin " << c.fin << " size " << c.payload_size);
        EXPECT_EQ(header_bytes(c.op, c.fin, c.payload_size, key), c.expected);
    }
    EXPECT_EQ(header_bytes(Opcode::text, true, 3, 0xDEADBEEF), (ByteVector{0x81, 0x83, 0xDE, 0xAD, 0xBE, 0xEF}));
}

TEST(FrameEncoder, RfcExampleMaskedHello) {
    // RFC 6455 section 5.7: a masked "Hello" with key 37 fa 21 3d.
    std::uint8_t frame[16];
    const std::size_t header = zenws::encode_client_frame_header(frame, Opcode::text, true, 5, 0x37FA213D);
    std::memcpy(frame + header, "Hello", 5);
    zenws::apply_mask(frame + header, 5, 0x37FA213D);
    const ByteVector expected = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    EXPECT_EQ(ByteVector(frame, frame + header + 5), expected);
}

TEST(FrameEncoder, MaskMatchesByteLoopReferenceAtEveryOffsetAndLength) {
    const std::uint32_t keys[] = {0x37FA213D, 0x00000000, 0xFFFFFFFF, 0x01020304};
    for (std::uint32_t key : keys) {
        const std::uint8_t key_bytes[4] = {std::uint8_t(key >> 24), std::uint8_t(key >> 16), std::uint8_t(key >> 8),
                                           std::uint8_t(key)};
        for (std::size_t offset = 0; offset < 8; ++offset) {
            for (std::size_t length = 0; length <= 70; ++length) {
                // Unaligned start (+3) and guard bytes on both sides.
                ByteVector storage(length + 8);
                for (std::size_t i = 0; i < storage.size(); ++i) storage[i] = std::uint8_t(i * 37 + 11);
                ByteVector expected = storage;
                for (std::size_t i = 0; i < length; ++i) expected[3 + i] ^= key_bytes[(offset + i) % 4];
                zenws::apply_mask(storage.data() + 3, length, key, offset);
                ASSERT_EQ(storage, expected) << "key " << key << " offset " << offset << " length " << length;
            }
        }
    }
}

TEST(FrameEncoder, MaskingInPiecesEqualsMaskingAtOnceAndTwiceRestores) {
    ByteVector original(1000);
    for (std::size_t i = 0; i < original.size(); ++i) original[i] = std::uint8_t(i * 131 + 7);
    const std::uint32_t key = 0xA1B2C3D4;

    ByteVector at_once = original;
    zenws::apply_mask(at_once.data(), at_once.size(), key);
    EXPECT_NE(at_once, original);

    ByteVector in_pieces = original;
    const std::size_t pieces[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 392};
    std::size_t offset = 0;
    for (std::size_t piece : pieces) {
        zenws::apply_mask(in_pieces.data() + offset, piece, key, offset);
        offset += piece;
    }
    ASSERT_EQ(offset, original.size());
    EXPECT_EQ(in_pieces, at_once);

    zenws::apply_mask(at_once.data(), at_once.size(), key);
    EXPECT_EQ(at_once, original);
}

TEST(MaskKeyGenerator, DeterministicSeedRepeatsAndOsSeedDiffers) {
    zenws::MaskKeyGenerator a(1, 2), b(1, 2), c(1, 3);
    std::vector<std::uint32_t> from_a, from_b, from_c;
    for (int i = 0; i < 16; ++i) {
        from_a.push_back(a.next());
        from_b.push_back(b.next());
        from_c.push_back(c.next());
    }
    EXPECT_EQ(from_a, from_b);
    EXPECT_NE(from_a, from_c);

    zenws::MaskKeyGenerator zero(0, 0);  // must not get stuck at zero
    std::set<std::uint32_t> zero_keys;
    for (int i = 0; i < 100; ++i) zero_keys.insert(zero.next());
    EXPECT_GT(zero_keys.size(), 95u);

    zenws::MaskKeyGenerator os1, os2;
    std::vector<std::uint32_t> first, second;
    for (int i = 0; i < 4; ++i) {
        first.push_back(os1.next());
        second.push_back(os2.next());
    }
    EXPECT_NE(first, second) << "two OS-seeded generators produced the same sequence";
}

TEST(MaskKeyGenerator, KeysAreDistinctAndUseAllBits) {
    zenws::MaskKeyGenerator generator;
    std::set<std::uint32_t> keys;
    std::uint32_t ored = 0, anded = 0xFFFFFFFF;
    for (int i = 0; i < 10000; ++i) {
        const std::uint32_t key = generator.next();
        keys.insert(key);
        ored |= key;
        anded &= key;
    }
    EXPECT_GE(keys.size(), 9990u);
    EXPECT_EQ(ored, 0xFFFFFFFFu);
    EXPECT_EQ(anded, 0u);
}

TEST(ClosePayload, CodeIsBigEndianAndReasonIsCutAtACodePointBoundary) {
    struct Case {
        const char* name;
        std::uint16_t code;
        std::string reason;
        std::string expected_reason;
    };
    const std::string ascii_123(123, 'r');
    const std::string euro = "\xe2\x82\xac";
    const Case cases[] = {
        {"no reason", 1000, "", ""},
        {"short reason", 1001, "bye", "bye"},
        {"exactly 123 bytes", 1000, ascii_123, ascii_123},
        {"124 ASCII bytes cut to 123", 1000, ascii_123 + "s", ascii_123},
        {"euro sign across the cut is dropped whole", 1000, std::string(121, 'r') + euro + "tail",
         std::string(121, 'r')},
        {"euro sign ending at the cut is kept", 1000, std::string(120, 'r') + euro + "tail",
         std::string(120, 'r') + euro},
        {"4-byte code point across the cut", 4000, std::string(122, 'r') + "\xf0\x9f\x98\x80",
         std::string(122, 'r')},
        {"all euro signs", 1000, [&] { std::string s; for (int i = 0; i < 50; ++i) s += euro; return s; }(),
         [&] { std::string s; for (int i = 0; i < 41; ++i) s += euro; return s; }()},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string payload = zenws::make_close_payload(c.code, c.reason);
        ASSERT_GE(payload.size(), 2u);
        EXPECT_EQ(std::uint8_t(payload[0]), c.code >> 8);
        EXPECT_EQ(std::uint8_t(payload[1]), c.code & 0xFF);
        EXPECT_EQ(payload.substr(2), c.expected_reason);
        EXPECT_LE(payload.size(), zenws::max_control_payload);
        EXPECT_TRUE(zenws::is_valid_utf8(payload.substr(2)));
    }
}

TEST(CloseCodes, WhichCodesMayAppearOnTheWire) {
    std::vector<std::uint16_t> wrongly_valid, wrongly_invalid;
    for (std::uint32_t code = 0; code <= 65535; ++code) {
        const bool expected = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                              (code >= 3000 && code <= 4999);
        const bool actual = zenws::is_valid_wire_close_code(static_cast<std::uint16_t>(code));
        if (actual && !expected) wrongly_valid.push_back(static_cast<std::uint16_t>(code));
        if (!actual && expected) wrongly_invalid.push_back(static_cast<std::uint16_t>(code));
    }
    EXPECT_TRUE(wrongly_valid.empty()) << wrongly_valid.size();
    EXPECT_TRUE(wrongly_invalid.empty()) << wrongly_invalid.size();
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        EXPECT_FALSE(zenws::is_valid_wire_close_code(code)) << code;
    }
    for (std::uint16_t code : {1000, 1003, 1007, 1011, 1014, 3000, 4999}) {
        EXPECT_TRUE(zenws::is_valid_wire_close_code(code)) << code;
    }
}

}  // namespace
