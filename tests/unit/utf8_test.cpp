// tests/unit/utf8_test.cpp — specification tests for zenws::Utf8Validator and zenws::is_valid_utf8: which byte
// sequences are valid UTF-8 (RFC 3629), that the answer does not depend on how the input is split, that failure
// is reported at the first byte that cannot be valid, and an exhaustive check of all 1-3 byte sequences against
// a straightforward decode-and-check reference.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "zenws/utf8.hpp"

namespace {

using zenws::Utf8Validator;

std::string hex(std::string_view text) {
    std::string out;
    int high = -1;
    for (char c : text) {
        int value = -1;
        if (c >= '0' && c <= '9') value = c - '0';
        if (c >= 'a' && c <= 'f') value = c - 'a' + 10;
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

// Feeds byte by byte; returns the index of the first byte at which feed() returned false, or nullopt.
std::optional<std::size_t> first_failing_byte(const std::string& bytes) {
    Utf8Validator validator;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (!validator.feed(std::string_view(bytes).substr(i, 1))) return i;
    }
    return std::nullopt;
}

// Reference: decode each code point arithmetically and check it against the rules (a different method from the
// validator's byte-range state machine). Returns true if the whole input is valid.
bool reference_is_valid(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<std::uint8_t>(s[i]);
        std::size_t length;
        std::uint32_t cp;
        if (lead < 0x80) { length = 1; cp = lead; }
        else if ((lead & 0xE0) == 0xC0) { length = 2; cp = lead & 0x1F; }
        else if ((lead & 0xF0) == 0xE0) { length = 3; cp = lead & 0x0F; }
        else if ((lead & 0xF8) == 0xF0) { length = 4; cp = lead & 0x07; }
        else return false;
        if (i + length > s.size()) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<std::uint8_t>(s[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (next & 0x3F);
        }
        const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += length;
    }
    return true;
}

TEST(Utf8Validator, ValidSequencesIncludingBoundariesAndNonCharacters) {
    const char* valid[] = {
        "",                    "41",                  "7f",                "c2 80",            "df bf",
        "e0 a0 80",            "ed 9f bf",            "ee 80 80",          "ef bf bd",         "ef bf be",
        "ef bf bf",            "f0 90 80 80",         "f4 8f bf bf",       "f1 80 80 80",      "f3 bf bf bf",
        "ce ba e1 bd b9 cf 83 ce bc ce b5",           "e2 82 ac f0 9d 84 9e 00 7f",
    };
    for (const char* sequence : valid) {
        SCOPED_TRACE(sequence);
        const std::string bytes = hex(sequence);
        EXPECT_TRUE(zenws::is_valid_utf8(bytes));
        EXPECT_EQ(first_failing_byte(bytes), std::nullopt);
        for (std::size_t split = 0; split <= bytes.size(); ++split) {
            Utf8Validator validator;
            EXPECT_TRUE(validator.feed(bytes.substr(0, split)));
            EXPECT_TRUE(validator.feed(bytes.substr(split)));
            EXPECT_TRUE(validator.complete());
        }
    }
}

TEST(Utf8Validator, InvalidSequencesFailAtTheFirstImpossibleByte) {
    struct Case {
        const char* name;
        const char* bytes;
        std::size_t failing_index;
    };
    const Case cases[] = {
        {"overlong 2-byte C0", "c0 80", 0},
        {"overlong 2-byte C1", "c1 bf", 0},
        {"overlong 3-byte", "e0 80 80", 1},
        {"overlong 3-byte max", "e0 9f bf", 1},
        {"overlong 4-byte", "f0 80 80 80", 1},
        {"overlong 4-byte max", "f0 8f bf bf", 1},
        {"high surrogate", "ed a0 80", 1},
        {"low surrogate", "ed bf bf", 1},
        {"surrogate pair", "ed a0 80 ed b0 80", 1},
        {"above U+10FFFF", "f4 90 80 80", 1},
        {"F5 lead", "f5 80 80 80", 0},
        {"5-byte form", "f8 88 80 80 80", 0},
        {"6-byte form", "fc 84 80 80 80 80", 0},
        {"lone continuation", "80", 0},
        {"lone continuation after ASCII", "41 42 bf", 2},
        {"continuation after complete code point", "c2 80 80", 2},
        {"FE", "fe", 0},
        {"FF", "ff", 0},
        {"lead byte followed by ASCII", "c2 41", 1},
        {"3-byte lead cut by ASCII", "e1 80 41", 2},
        {"4-byte lead cut by a lead", "f0 90 c2 80", 2},
        {"valid text then surrogate", "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64", 12},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string bytes = hex(c.bytes);
        EXPECT_FALSE(zenws::is_valid_utf8(bytes));
        EXPECT_EQ(first_failing_byte(bytes), c.failing_index);
        Utf8Validator validator;
        EXPECT_FALSE(validator.feed(bytes));
        EXPECT_TRUE(validator.failed());
        EXPECT_FALSE(validator.complete());
        EXPECT_FALSE(validator.feed("ok")) << "stays failed";
    }
}

TEST(Utf8Validator, TruncatedCodePointIsNotCompleteButNotFailed) {
    const char* truncated[] = {"c2", "e0 a0", "e1", "f0 90 80", "f4 8f bf", "41 42 43 44 45 46 47 48 49 ce"};
    for (const char* sequence : truncated) {
        SCOPED_TRACE(sequence);
        Utf8Validator validator;
        EXPECT_TRUE(validator.feed(hex(sequence)));
        EXPECT_FALSE(validator.failed());
        EXPECT_FALSE(validator.complete());
        EXPECT_FALSE(zenws::is_valid_utf8(hex(sequence)));
    }
    Utf8Validator validator;
    ASSERT_TRUE(validator.feed(hex("f0 9d")));
    ASSERT_TRUE(validator.feed(hex("84")));
    ASSERT_TRUE(validator.feed(hex("9e")));
    EXPECT_TRUE(validator.complete());
    validator.reset();
    ASSERT_FALSE(validator.feed(hex("ff")));
    validator.reset();
    EXPECT_TRUE(validator.complete());
}

TEST(Utf8Validator, AsciiFastPathFindsABadOrMultiByteCharacterAtAnyPosition) {
    for (std::size_t length = 1; length <= 40; ++length) {
        for (std::size_t position = 0; position < length; ++position) {
            std::string bytes(length, 'x');
            bytes[position] = static_cast<char>(0xFF);
            EXPECT_EQ(first_failing_byte(bytes), position);
            EXPECT_FALSE(zenws::is_valid_utf8(bytes)) << length << " " << position;

            std::string with_euro(length, 'x');
            with_euro.insert(position, "\xe2\x82\xac");
            EXPECT_TRUE(zenws::is_valid_utf8(with_euro)) << length << " " << position;
            with_euro.erase(position + 2, 1);  // now a truncated euro sign followed by ASCII
            EXPECT_FALSE(zenws::is_valid_utf8(with_euro)) << length << " " << position;
        }
    }
}

TEST(Utf8Validator, AgreesWithTheReferenceOnEverySequenceOfUpToThreeBytes) {
    std::size_t checked = 0, valid = 0;
    std::string bytes;
    for (std::uint32_t length = 1; length <= 3; ++length) {
        const std::uint32_t combinations = 1u << (8 * length);
        for (std::uint32_t value = 0; value < combinations; ++value) {
            bytes.clear();
            for (std::uint32_t k = 0; k < length; ++k) bytes.push_back(static_cast<char>(value >> (8 * k)));
            const bool expected = reference_is_valid(bytes);
            ASSERT_EQ(zenws::is_valid_utf8(bytes), expected) << testing::PrintToString(bytes);
            valid += expected;
            ++checked;
        }
    }
    EXPECT_EQ(checked, 256u + 65536u + 16777216u);
    EXPECT_GT(valid, 0u);
}

TEST(Utf8Validator, AgreesWithTheReferenceOnRandomFourToEightByteSequences) {
    std::uint64_t state = 0x243F6A8885A308D3ull;
    std::string bytes;
    std::size_t valid = 0;
    for (int iteration = 0; iteration < 2'000'000; ++iteration) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        const std::size_t length = 4 + state % 5;
        bytes.clear();
        std::uint64_t source = state;
        for (std::size_t k = 0; k < length; ++k) {
            // Bias towards the interesting range (lead and continuation bytes).
            std::uint8_t b = static_cast<std::uint8_t>(source >> (8 * (k % 8)));
            if (k % 2) b = static_cast<std::uint8_t>(0x80 | (b & 0x3F));
            bytes.push_back(static_cast<char>(b));
        }
        const bool expected = reference_is_valid(bytes);
        ASSERT_EQ(zenws::is_valid_utf8(bytes), expected) << testing::PrintToString(bytes);
        valid += expected;
    }
    EXPECT_GT(valid, 1000u);
}

}  // namespace
