// json_rpc_test.cpp — JSON-RPC request building, id uniqueness across threads and JSON string escaping.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"

using namespace zenws;

namespace {

TEST(JsonRpc, BuildsRequestWithExplicitId) {
    const auto r = build_request(42, "public/test", R"({"expected_result":"exception"})");
    EXPECT_EQ(r.id, 42);
    EXPECT_EQ(r.key(), "42");
    EXPECT_EQ(r.text, R"({"jsonrpc":"2.0","id":42,"method":"public/test","params":{"expected_result":"exception"}})");
}

TEST(JsonRpc, DefaultParamsIsEmptyObjectAndEmptyOmits) {
    EXPECT_EQ(build_request(1, "public/test").text, R"({"jsonrpc":"2.0","id":1,"method":"public/test","params":{}})");
    EXPECT_EQ(build_request(1, "public/test", "").text, R"({"jsonrpc":"2.0","id":1,"method":"public/test"})");
    EXPECT_EQ(build_request(-5, "m", "[1,2]").text, R"({"jsonrpc":"2.0","id":-5,"method":"m","params":[1,2]})");
}

TEST(JsonRpc, RequestRoundTripsThroughScanner) {
    const auto r = build_request("private/get_position", R"({"instrument_name":"BTC-PERPETUAL"})");
    const auto e = scan_json(r.text);
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(e.method, "private/get_position");
    EXPECT_EQ(e.id.key(), r.key());
    EXPECT_EQ(e.id.as_int64(), r.id);
    EXPECT_EQ(e.params_raw, R"({"instrument_name":"BTC-PERPETUAL"})");
}

TEST(JsonRpc, MethodIsEscaped) {
    const auto r = build_request(3, "we\"ird\\name\n");
    EXPECT_EQ(r.text, R"({"jsonrpc":"2.0","id":3,"method":"we\"ird\\name\n","params":{}})");
    const auto e = scan_json(r.text);
    ASSERT_TRUE(e.valid);
    EXPECT_EQ(json_unescape(e.method), std::string("we\"ird\\name\n"));
}

TEST(JsonRpc, Notification) {
    EXPECT_EQ(build_notification("heartbeat", R"({"type":"x"})"),
              R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"x"}})");
    EXPECT_EQ(build_notification("m", ""), R"({"jsonrpc":"2.0","method":"m"})");
}

TEST(JsonRpc, IdsArePositiveAndIncreasing) {
    const auto a = build_request("a");
    const auto b = build_request("b");
    const auto c = next_request_id();
    EXPECT_GT(a.id, 0);
    EXPECT_LT(a.id, b.id);
    EXPECT_LT(b.id, c);
}

TEST(JsonRpc, IdsAreUniqueAcrossThreads) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 5000;
    std::vector<std::vector<std::int64_t>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&got, t] {
            got[t].reserve(kPerThread);
            for (int i = 0; i < kPerThread; ++i) got[t].push_back(next_request_id());
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::int64_t> all;
    for (const auto& v : got) {
        EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
        all.insert(v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json_quote(""), R"("")");
    EXPECT_EQ(json_quote("plain text"), R"("plain text")");
    EXPECT_EQ(json_quote("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(json_quote("\b\f\n\r\t"), R"("\b\f\n\r\t")");
    EXPECT_EQ(json_quote(std::string_view("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
    EXPECT_EQ(json_quote("caf\xC3\xA9 /"), "\"caf\xC3\xA9 /\"");  // UTF-8 and '/' unchanged
    std::string out = "x=";
    append_json_string(out, "y");
    EXPECT_EQ(out, R"(x="y")");
}

TEST(JsonEscape, RoundTripsEveryByteThroughUnescape) {
    std::string all;
    for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
    const std::string quoted = json_quote(all);
    ASSERT_TRUE(is_valid_json(quoted));
    EXPECT_EQ(json_unescape(std::string_view(quoted).substr(1, quoted.size() - 2)), all);
}

}  // namespace
