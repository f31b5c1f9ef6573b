// json_scan_test.cpp — scan_json envelope extraction (ids, method, result/error, notifications, heartbeats,
// serverShutdown), malformed-input rejection, id keys, unescaping and string-array parsing.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "zenws/json_scan.hpp"

using namespace zenws;

namespace {

TEST(JsonScan, JsonRpcResponseWithIntegerId) {
    const std::string t =
        R"({"jsonrpc":"2.0","id":42,"result":{"version":"1.2.26"},"usIn":1704153600000000,"usOut":1,"usDiff":1234})";
    const auto e = scan_json(t);
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.kind, IdKind::integer);
    EXPECT_EQ(e.id.raw, "42");
    EXPECT_EQ(e.id.key(), "42");
    EXPECT_EQ(e.id.as_int64(), 42);
    EXPECT_TRUE(e.has_result);
    EXPECT_EQ(e.result_raw, R"({"version":"1.2.26"})");
    EXPECT_FALSE(e.has_error);
    EXPECT_FALSE(e.has_method);
    EXPECT_TRUE(e.is_response());
    EXPECT_FALSE(e.is_notification());
    EXPECT_EQ(e.heartbeat, HeartbeatKind::none);
}

TEST(JsonScan, KeyOrderDoesNotMatter) {
    const auto a = scan_json(R"({"result":["a"],"id":7,"jsonrpc":"2.0"})");
    const auto b = scan_json(R"({"jsonrpc":"2.0","id":7,"result":["a"]})");
    ASSERT_TRUE(a.valid && b.valid);
    EXPECT_EQ(a.id.key(), b.id.key());
    EXPECT_EQ(a.result_raw, b.result_raw);
    EXPECT_EQ(a.result_raw, R"(["a"])");
}

TEST(JsonScan, LiveDeribitHeartbeatOrder) {
    const auto e = scan_json(R"({"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"})");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.heartbeat, HeartbeatKind::test_request);
    EXPECT_EQ(e.method, "heartbeat");
    EXPECT_FALSE(e.id);
    EXPECT_FALSE(e.is_response());
    EXPECT_FALSE(e.is_notification());
}

TEST(JsonScan, HeartbeatKinds) {
    EXPECT_EQ(scan_json(R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}})").heartbeat,
              HeartbeatKind::heartbeat);
    EXPECT_EQ(scan_json(R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}})").heartbeat,
              HeartbeatKind::test_request);
    EXPECT_EQ(scan_json(R"({"method":"heartbeat","params":{"type":"other"}})").heartbeat, HeartbeatKind::other);
    EXPECT_EQ(scan_json(R"({"method":"heartbeat"})").heartbeat, HeartbeatKind::other);
    // params.type alone is not a heartbeat
    EXPECT_EQ(scan_json(R"({"method":"x","params":{"type":"test_request"}})").heartbeat, HeartbeatKind::none);
    // a nested "method":"heartbeat" is not the top-level method
    EXPECT_EQ(scan_json(R"({"result":{"method":"heartbeat","params":{"type":"test_request"}},"id":1})").heartbeat,
              HeartbeatKind::none);
}

TEST(JsonScan, DeribitErrorReply) {
    const auto e = scan_json(
        R"({"jsonrpc":"2.0","id":42,"error":{"code":13009,"message":"unauthorized","data":)"
        R"({"reason":"token has expired","param":"access_token"}},"usIn":1,"usOut":2,"usDiff":1})");
    ASSERT_TRUE(e.valid);
    EXPECT_TRUE(e.has_error);
    EXPECT_FALSE(e.has_result);
    EXPECT_TRUE(e.has_error_code);
    EXPECT_EQ(e.error_code, 13009);
    EXPECT_EQ(e.error_message, "unauthorized");
    EXPECT_EQ(e.error_raw.substr(0, 15), R"({"code":13009,")");
    EXPECT_EQ(e.error_raw.back(), '}');
    EXPECT_TRUE(e.is_response());
}

TEST(JsonScan, NegativeErrorCodeAndMessageOrder) {
    const auto e = scan_json(R"({"error":{"message":"Method not found","code":-32601},"id":"x","jsonrpc":"2.0"})");
    ASSERT_TRUE(e.valid);
    EXPECT_TRUE(e.has_error);
    EXPECT_EQ(e.error_code, -32601);
    EXPECT_EQ(e.error_message, "Method not found");
}

TEST(JsonScan, ErrorNullIsNotAnError) {
    const auto e = scan_json(R"({"id":1,"result":true,"error":null})");
    ASSERT_TRUE(e.valid);
    EXPECT_FALSE(e.has_error);
    EXPECT_TRUE(e.has_result);
    EXPECT_EQ(e.result_raw, "true");
}

TEST(JsonScan, BinanceErrorShapes) {
    const auto top = scan_json(R"({"code":2,"msg":"Invalid request: unknown method","id":5})");
    ASSERT_TRUE(top.valid);
    EXPECT_TRUE(top.has_error);
    EXPECT_EQ(top.error_code, 2);
    EXPECT_EQ(top.error_message, "Invalid request: unknown method");
    EXPECT_EQ(top.id.key(), "5");

    const auto wrapped = scan_json(R"({"error":{"code":0,"msg":"Unknown property"},"id":5})");
    ASSERT_TRUE(wrapped.valid);
    EXPECT_TRUE(wrapped.has_error);
    EXPECT_EQ(wrapped.error_code, 0);
    EXPECT_TRUE(wrapped.has_error_code);
    EXPECT_EQ(wrapped.error_message, "Unknown property");

    // code+msg without an id is not taken as a reply
    EXPECT_FALSE(scan_json(R"({"code":3,"msg":"Invalid JSON"})").has_error);
    // and a result wins over stray code/msg members
    EXPECT_FALSE(scan_json(R"({"code":3,"msg":"x","result":null,"id":1})").has_error);
}

TEST(JsonScan, BinanceSubscribeReplyNullResult) {
    const auto e = scan_json(R"({"result":null,"id":1})");
    ASSERT_TRUE(e.valid);
    EXPECT_TRUE(e.has_result);
    EXPECT_EQ(e.result_raw, "null");
    EXPECT_TRUE(e.is_response());
}

TEST(JsonScan, StringIdsAndIntegerIdsDiffer) {
    const auto i = scan_json(R"({"id":1,"result":0})");
    const auto s = scan_json(R"({"id":"1","result":0})");
    ASSERT_TRUE(i.valid && s.valid);
    EXPECT_EQ(i.id.kind, IdKind::integer);
    EXPECT_EQ(s.id.kind, IdKind::string);
    EXPECT_NE(i.id.key(), s.id.key());
    EXPECT_EQ(i.id.key(), id_key(1));
    EXPECT_EQ(s.id.key(), string_id_key("1"));
    EXPECT_EQ(s.id.raw, R"("1")");
    EXPECT_EQ(s.id.content, "1");
    EXPECT_FALSE(s.id.as_int64().has_value());
}

TEST(JsonScan, StringIdWithEscapes) {
    const auto e = scan_json(R"({"id":"a\"b\\c\u00e9\ud83d\ude00","result":1})");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.kind, IdKind::string);
    EXPECT_TRUE(e.id.escaped);
    EXPECT_EQ(e.id.content, R"(a\"b\\c\u00e9\ud83d\ude00)");
    EXPECT_EQ(e.id.key(), string_id_key("a\"b\\c\xC3\xA9\xF0\x9F\x98\x80"));
    // the same id written without escapes gives the same key
    const auto plain = scan_json("{\"id\":\"a\\\"b\\\\c\xC3\xA9\xF0\x9F\x98\x80\",\"result\":1}");
    ASSERT_TRUE(plain.valid);
    EXPECT_EQ(plain.id.key(), e.id.key());
}

TEST(JsonScan, KeyIntoReusesBuffer) {
    const auto e = scan_json(R"({"id":"abc","result":1})");
    std::string buf = "garbage that is long enough to hold the key";
    e.id.key_into(buf);
    EXPECT_EQ(buf, "\"abc");
}

TEST(JsonScan, NegativeAndLargeIntegers) {
    const auto neg = scan_json(R"({"id":-17,"result":1})");
    EXPECT_EQ(neg.id.kind, IdKind::integer);
    EXPECT_EQ(neg.id.key(), "-17");
    EXPECT_EQ(neg.id.as_int64(), -17);

    const auto max = scan_json(R"({"id":9223372036854775807,"result":1})");
    EXPECT_EQ(max.id.as_int64(), INT64_MAX);

    const auto huge = scan_json(R"({"id":123456789012345678901234567890,"result":1})");
    ASSERT_TRUE(huge.valid);
    EXPECT_EQ(huge.id.kind, IdKind::integer);
    EXPECT_EQ(huge.id.key(), "123456789012345678901234567890");  // still a usable key
    EXPECT_FALSE(huge.id.as_int64().has_value());

    EXPECT_EQ(scan_json(R"({"id":-0,"result":1})").id.key(), "0");

    const auto frac = scan_json(R"({"id":1.5e3,"result":1})");
    EXPECT_EQ(frac.id.kind, IdKind::number);
    EXPECT_EQ(frac.id.key(), "1.5e3");
}

TEST(JsonScan, NullOrNonScalarIdIsNone) {
    EXPECT_FALSE(scan_json(R"({"id":null,"result":1})").id);
    EXPECT_FALSE(scan_json(R"({"id":true,"result":1})").id);
    EXPECT_FALSE(scan_json(R"({"id":{"x":1},"result":1})").id);
    EXPECT_FALSE(scan_json(R"({"id":[1],"result":1})").id);
    EXPECT_FALSE(scan_json(R"({"result":1})").id);
    EXPECT_TRUE(scan_json(R"({"id":null,"result":1})").valid);
}

TEST(JsonScan, NestedIdsAreNotPickedUp) {
    const auto e = scan_json(
        R"({"result":{"id":99,"orders":[{"id":"o1","error":{"code":1}},{"method":"subscription"}]},)"
        R"("jsonrpc":"2.0","id":3})");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.key(), "3");
    EXPECT_FALSE(e.has_error);
    EXPECT_FALSE(e.has_method);

    const auto no_top = scan_json(R"({"result":{"id":99},"params":{"id":5}})");
    ASSERT_TRUE(no_top.valid);
    EXPECT_FALSE(no_top.id);
}

TEST(JsonScan, DuplicateMembersLastWins) {
    const auto e = scan_json(R"({"id":1,"id":"two","result":1})");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.key(), "\"two");
    const auto n = scan_json(R"({"id":1,"id":null,"result":1})");
    EXPECT_FALSE(n.id);
}

TEST(JsonScan, DeribitSubscriptionNotification) {
    const auto e = scan_json(
        R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"deribit_price_index.btc_usd",)"
        R"("data":{"timestamp":1535098298227,"price":6521.17,"index_name":"btc_usd"}}})");
    ASSERT_TRUE(e.valid);
    EXPECT_TRUE(e.is_notification());
    EXPECT_EQ(e.channel, "deribit_price_index.btc_usd");
    EXPECT_EQ(e.data_raw, R"({"timestamp":1535098298227,"price":6521.17,"index_name":"btc_usd"})");
    EXPECT_FALSE(e.id);
    EXPECT_EQ(e.heartbeat, HeartbeatKind::none);
    // params first
    const auto r =
        scan_json(R"({"params":{"data":[1,2],"channel":"ticker.BTC-PERPETUAL.100ms"},"method":"subscription"})");
    EXPECT_EQ(r.channel, "ticker.BTC-PERPETUAL.100ms");
    EXPECT_EQ(r.data_raw, "[1,2]");
    // params.channel with another method is not a notification
    EXPECT_FALSE(scan_json(R"({"method":"other","params":{"channel":"x"}})").is_notification());
}

TEST(JsonScan, BinanceCombinedStream) {
    const auto e = scan_json(R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1672515782136,"s":"BNBBTC"}})");
    ASSERT_TRUE(e.valid);
    EXPECT_TRUE(e.is_notification());
    EXPECT_EQ(e.channel, "btcusdt@aggTrade");
    EXPECT_EQ(e.data_raw, R"({"e":"aggTrade","E":1672515782136,"s":"BNBBTC"})");
    EXPECT_FALSE(e.server_shutdown);
    // data first
    EXPECT_EQ(scan_json(R"({"data":[],"stream":"s"})").channel, "s");
    // stream without data is not a notification
    EXPECT_FALSE(scan_json(R"({"stream":"s"})").is_notification());
}

TEST(JsonScan, BinanceServerShutdown) {
    EXPECT_TRUE(scan_json(R"({"event":{"e":"serverShutdown","E":1770123456789}})").server_shutdown);
    EXPECT_TRUE(scan_json(R"({"E":1770123456789,"e":"serverShutdown"})").server_shutdown);
    EXPECT_FALSE(scan_json(R"({"e":"aggTrade"})").server_shutdown);
    EXPECT_FALSE(scan_json(R"({"data":{"e":"serverShutdown"},"x":1})").server_shutdown);  // not top level / event
    EXPECT_FALSE(scan_json(R"({"event":{"x":{"e":"serverShutdown"}}})").server_shutdown);
}

TEST(JsonScan, WhitespaceEverywhere) {
    const auto e = scan_json(" \r\n\t{ \"id\" :\t7 ,\n \"method\" : \"public/test\" , \"params\" : { \"type\" : "
                             "\"x\" } , \"result\" : [ 1 , { \"a\" : [ ] } ] }\n ");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.key(), "7");
    EXPECT_EQ(e.method, "public/test");
    EXPECT_EQ(e.result_raw, R"([ 1 , { "a" : [ ] } ])");
    EXPECT_EQ(e.params_raw, R"({ "type" : "x" })");
}

TEST(JsonScan, EmptyObjectAndEscapedKeys) {
    const auto e = scan_json("{}");
    EXPECT_TRUE(e.valid);
    EXPECT_FALSE(e.id);
    // a member named with escapes is not the "id" member (documented), but the text is still valid
    const auto k = scan_json(R"({"\u0069d":1,"a\"b":2})");
    EXPECT_TRUE(k.valid);
    EXPECT_FALSE(k.id);
}

TEST(JsonScan, StringsWithBracketsAndQuotesInsideAreSkipped) {
    const auto e = scan_json(R"({"result":{"text":"}]{[\"\\","id":1},"id":2})");
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.id.key(), "2");
    EXPECT_EQ(e.result_raw, R"({"text":"}]{[\"\\","id":1})");
}

TEST(JsonScan, NonObjectsAreRejected) {
    for (const char* t : {"", "   ", "[]", "[{\"id\":1}]", "\"id\"", "42", "null", "true", "ping", "{\"id\":1} x",
                          "{\"id\":1}{}"}) {
        EXPECT_FALSE(scan_json(t).valid) << t;
    }
}

TEST(JsonScan, MalformedObjectsAreRejected) {
    for (const char* t : {
             R"({"id":1,})",            // trailing comma
             R"({"id" 1})",             // missing colon
             R"({id:1})",               // unquoted key
             R"({"id":01})",            // leading zero
             R"({"id":1.})",            // bad fraction
             R"({"id":-})",             // lone minus
             R"({"id":1e})",            // bad exponent
             R"({"a":tru})",            // bad literal
             R"({"a":[1,]})",           // trailing comma in array
             R"({"a":[1 2]})",          // missing comma in array
             R"({"a":{"b":1]})",        // object closed by ]
             R"({"a":[1}})",            // array closed by }
             R"({"a":[}])",             // array closed by }
             R"({"a":"\x"})",           // bad escape
             R"({"a":"\u12G4"})",       // bad unicode escape
             "{\"a\":\"line\nbreak\"}",  // raw control character in a string
             R"({"a":1 "b":2})",        // missing comma
             R"({"a":'x'})",            // single quotes
         }) {
        EXPECT_FALSE(scan_json(t).valid) << t;
    }
}

TEST(JsonScan, TruncatedInputsNeverValid) {
    const std::string full =
        R"({"jsonrpc":"2.0","id":"req-\"7\"","result":{"nested":[1,-2.5e-3,true,false,null,{"k":"v\u00e9"}]},)"
        R"("error":null})";
    ASSERT_TRUE(scan_json(full).valid);
    for (std::size_t n = 0; n < full.size(); ++n) {
        // an exact-size heap buffer: a read past the end is caught by AddressSanitizer
        auto buf = std::make_unique<char[]>(n);
        std::memcpy(buf.get(), full.data(), n);
        const auto e = scan_json(std::string_view(buf.get(), n));
        EXPECT_FALSE(e.valid) << n;
        EXPECT_FALSE(e.id) << n;
        EXPECT_FALSE(e.has_result) << n;
    }
}

TEST(JsonScan, DeepNestingIsBoundedButReasonableDepthWorks) {
    std::string ok = R"({"result":)";
    for (int i = 0; i < 100; ++i) ok += "[";
    for (int i = 0; i < 100; ++i) ok += "]";
    ok += R"(,"id":1})";
    EXPECT_TRUE(scan_json(ok).valid);

    std::string deep = R"({"result":)";
    for (int i = 0; i < 100000; ++i) deep += "[";
    for (int i = 0; i < 100000; ++i) deep += "]";
    deep += "}";
    EXPECT_FALSE(scan_json(deep).valid);
}

TEST(JsonScan, MutatedInputsNeverCrashAndAgreeWithValidator) {
    const std::vector<std::string> seeds = {
        R"({"jsonrpc":"2.0","id":42,"error":{"code":13009,"message":"unauthorized","data":{"reason":"x"}}})",
        R"({"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"})",
        R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","p":"0.001","m":true,"x":[1,-2.5e3,null]}})",
        R"({"id":"a\"b\u00e9","result":["c.1","d\n2"]})",
    };
    std::uint32_t rng = 12345;  // fixed seed: deterministic
    auto next = [&rng]() {
        rng = rng * 1664525u + 1013904223u;
        return rng >> 8;
    };
    const char alphabet[] = "{}[]\":,\\ u0123456789-+.eEtrufalsn\x01\x7f";
    int valid = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string s = seeds[next() % seeds.size()];
        const int edits = 1 + static_cast<int>(next() % 3);
        for (int k = 0; k < edits && !s.empty(); ++k) {
            const std::size_t pos = next() % s.size();
            switch (next() % 3) {
                case 0: s[pos] = alphabet[next() % (sizeof alphabet - 1)]; break;
                case 1: s.erase(pos, 1); break;
                default: s.insert(pos, 1, alphabet[next() % (sizeof alphabet - 1)]); break;
            }
        }
        auto buf = std::make_unique<char[]>(s.size());
        std::memcpy(buf.get(), s.data(), s.size());
        const std::string_view view(buf.get(), s.size());
        const auto e = scan_json(view);
        if (e.valid) {
            ++valid;
            EXPECT_TRUE(is_valid_json(view)) << s;
        } else {
            EXPECT_FALSE(e.id) << s;
            EXPECT_FALSE(e.has_result || e.has_error || e.has_method || e.is_notification()) << s;
        }
    }
    EXPECT_GT(valid, 0);  // some mutations stay valid (e.g. digit changes)
}

TEST(JsonScan, IsValidJson) {
    EXPECT_TRUE(is_valid_json("{}"));
    EXPECT_TRUE(is_valid_json(" [1, \"a\", null] "));
    EXPECT_TRUE(is_valid_json("-1.5E+10"));
    EXPECT_TRUE(is_valid_json("\"x\""));
    EXPECT_FALSE(is_valid_json(""));
    EXPECT_FALSE(is_valid_json("{"));
    EXPECT_FALSE(is_valid_json("[1] [2]"));
    EXPECT_FALSE(is_valid_json("{\"a\":}"));
}

TEST(JsonUnescape, DecodesAndRejects) {
    EXPECT_EQ(json_unescape(R"(a\nb\t\"\\\/\b\f\r)"), std::string("a\nb\t\"\\/\b\f\r"));
    EXPECT_EQ(json_unescape(R"(\u0041\u00e9\u20ac)"), std::string("A\xC3\xA9\xE2\x82\xAC"));
    EXPECT_EQ(json_unescape(R"(\ud83d\ude00)"), std::string("\xF0\x9F\x98\x80"));
    EXPECT_FALSE(json_unescape(R"(\ud83d)").has_value());        // unpaired high surrogate
    EXPECT_FALSE(json_unescape(R"(\ude00)").has_value());        // lone low surrogate
    EXPECT_FALSE(json_unescape(R"(\ud83d\u0041)").has_value());  // high surrogate + non-low
    EXPECT_FALSE(json_unescape(R"(\q)").has_value());
    EXPECT_FALSE(json_unescape("\\").has_value());
    EXPECT_FALSE(json_unescape(R"(\u12)").has_value());
    EXPECT_EQ(json_unescape("plain"), std::string("plain"));
}

TEST(JsonStringArray, ParsesDeribitResult) {
    std::vector<std::string> out{"keep"};
    ASSERT_TRUE(parse_json_string_array(R"( ["a.b", "c\"d" ,"e"] )", out));
    EXPECT_EQ(out, (std::vector<std::string>{"keep", "a.b", "c\"d", "e"}));

    std::vector<std::string> empty;
    EXPECT_TRUE(parse_json_string_array("[]", empty));
    EXPECT_TRUE(empty.empty());

    for (const char* bad : {"null", "\"ok\"", "[1]", "[\"a\",]", "[\"a\"", "[\"a\" \"b\"]", "{}", "[\"a\"] x"}) {
        std::vector<std::string> v{"x"};
        EXPECT_FALSE(parse_json_string_array(bad, v)) << bad;
        EXPECT_EQ(v, (std::vector<std::string>{"x"})) << bad;
    }
}

}  // namespace
