// requests_test.cpp — owns the integration tests of request/reply correlation through a real client against the
// JSON-RPC test server (tests/servers/jsonrpc_server.py): out-of-order replies, replies after the deadline
// (request_timeout, then on_unmatched_response), ids never answered (timeout exactly once), duplicate ids
// (duplicate_request_id, nothing on the wire), id reuse after completion (no stale timer), a disconnect with 100
// requests in flight (each completes once with disconnected), string ids, JSON-RPC error replies (rpc_error with
// code, message and raw body — the original returned them as success), the call()/call_blocking() JSON-RPC 2.0
// shape and send_message semantics.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/rpc_helpers.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- helpers ---------------------------------------------------------------------------------------------------

std::string result_of(const std::string& reply) { return std::string(scan_json(reply).result_raw); }

std::int64_t count_containing(Client& c, const std::string& needle) {
    std::string params = "{\"contains\":" + json_quote(needle) + "}";
    auto r = c.call_blocking("test/count", params, 5s);
    if (!r.ok()) return -1;
    return std::stoll(result_of(r.value()));
}

// Collects completions per key; counts how many times each completed.
struct Completions {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::vector<Result<std::string>>> by_key;
    std::vector<std::string> order;
    std::size_t total = 0;

    Client::ReplyCallback callback(std::string key) {
        return [this, key = std::move(key)](Result<std::string> r) {
            std::lock_guard lk(mu);
            by_key[key].push_back(std::move(r));
            order.push_back(key);
            ++total;
            cv.notify_all();
        };
    }
    bool wait_total(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return total >= n; });
    }
};

// Thread-safe list of texts given to on_unmatched_response / on_message.
struct TextSink {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> texts;
    void add(std::string_view t) {
        std::lock_guard lk(mu);
        texts.emplace_back(t);
        cv.notify_all();
    }
    bool wait_size(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return texts.size() >= n; });
    }
    std::vector<std::string> snapshot() {
        std::lock_guard lk(mu);
        return texts;
    }
};

// metrics().pending_requests is a gauge refreshed on the connection's executor right after completions run:
// poll it (bounded) instead of reading it once.
std::size_t settled_pending(Client& c, std::size_t expected) {
    std::size_t v = c.metrics().pending_requests;
    for (int i = 0; i < 100 && v != expected; ++i) {
        std::this_thread::sleep_for(10ms);
        v = c.metrics().pending_requests;
    }
    return v;
}

std::string req(const std::string& id_json, const std::string& method, const std::string& params = "{}") {
    return "{\"jsonrpc\":\"2.0\",\"id\":" + id_json + ",\"method\":\"" + method + "\",\"params\":" + params + "}";
}

std::size_t count_with(const std::vector<std::string>& log, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& l : log) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
}

// ---- tests -----------------------------------------------------------------------------------------------------

TEST(RpcRequests, CallBlockingUsesJsonRpc2ShapeWithUniqueIncreasingIds) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto r1 = c->call_blocking("test/echo", R"({"x":1,"s":"a\"b"})", 5s);
    ASSERT_TRUE(r1.ok()) << r1.error().explain();
    EXPECT_EQ(result_of(r1.value()), R"({"x":1,"s":"a\"b"})");
    auto r2 = c->call_blocking("test/echo", "{}", 5s);
    ASSERT_TRUE(r2.ok()) << r2.error().explain();

    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 2u);
    std::vector<std::int64_t> ids;
    for (const auto& text : log) {
        auto env = scan_json(text);
        ASSERT_TRUE(env.valid) << text;
        EXPECT_EQ(text.rfind(R"({"jsonrpc":"2.0","id":)", 0), 0u) << text;
        EXPECT_EQ(env.method, "test/echo");
        ASSERT_EQ(env.id.kind, IdKind::integer) << text;
        ids.push_back(*env.id.as_int64());
    }
    EXPECT_EQ(scan_json(log[0]).params_raw, R"({"x":1,"s":"a\"b"})");
    EXPECT_LT(ids[0], ids[1]);
    // The reply carries the request's id.
    EXPECT_EQ(*scan_json(r1.value()).id.as_int64(), ids[0]);

    // Async call(): completes once on the connection's executor with the reply.
    Completions done;
    c->call("test/echo", R"({"async":true})", done.callback("a"));
    ASSERT_TRUE(done.wait_total(1, 5s));
    ASSERT_TRUE(done.by_key["a"][0].ok());
    EXPECT_EQ(result_of(done.by_key["a"][0].value()), R"({"async":true})");
    c->close_and_wait(2s);
}

TEST(RpcRequests, OutOfOrderRepliesReachTheirOwnRequests) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    constexpr int n = 6;
    for (int i = 0; i < n; ++i) {
        c->request(req(std::to_string(100 + i), "test/reorder", "{\"n\":" + std::to_string(n) + ",\"i\":" +
                                                                   std::to_string(i) + "}"),
                   done.callback(std::to_string(i)));
    }
    ASSERT_TRUE(done.wait_total(n, 5s));
    std::this_thread::sleep_for(100ms);
    std::lock_guard lk(done.mu);
    ASSERT_EQ(done.total, static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& v = done.by_key[std::to_string(i)];
        ASSERT_EQ(v.size(), 1u) << "request " << i;
        ASSERT_TRUE(v[0].ok()) << v[0].error().explain();
        EXPECT_EQ(result_of(v[0].value()), "{\"n\":" + std::to_string(n) + ",\"i\":" + std::to_string(i) + "}");
        EXPECT_EQ(*scan_json(v[0].value()).id.as_int64(), 100 + i);
    }
    // The server answered in reverse order, and completions followed the wire order.
    for (int i = 0; i < n; ++i) EXPECT_EQ(done.order[i], std::to_string(n - 1 - i));
    c->close_and_wait(2s);
}

TEST(RpcRequests, ReplyAfterDeadlineTimesOutThenGoesToUnmatched) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto unmatched = std::make_shared<TextSink>();
    Handlers h;
    h.on_unmatched_response = [unmatched](std::string_view t) { unmatched->add(t); };
    auto c = Client::connect(rpc_config(srv.url()), h);
    ASSERT_TRUE(c.ok()) << c.error().explain();

    auto t0 = Clock::now();
    auto r = c->request_blocking(req("\"late-1\"", "test/delay", R"({"ms":700})"), 150ms);
    auto waited = Clock::now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::request_timeout) << r.error().explain();
    EXPECT_GE(waited, 140ms);
    EXPECT_LT(waited, 3s);
    EXPECT_EQ(settled_pending(c.value(), 0), 0u);

    ASSERT_TRUE(unmatched->wait_size(1, 5s)) << "the late reply never reached on_unmatched_response";
    auto texts = unmatched->snapshot();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(scan_json(texts[0]).id.key(), "\"late-1");
    EXPECT_EQ(result_of(texts[0]), R"({"ms":700})");
    EXPECT_EQ(c->state(), State::connected);
    c->close_and_wait(2s);
}

TEST(RpcRequests, NeverAnsweredRequestsTimeOutExactlyOnce) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto cfg = rpc_config(srv.url());
    cfg.request_timeout = 250ms;
    auto c = Client::connect(cfg);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    constexpr int n = 20;
    for (int i = 0; i < n; ++i) {
        // Mixed deadlines, given out of order: the timer must follow the earliest.
        auto timeout = std::chrono::milliseconds(i % 2 == 0 ? 0 : 100 + 20 * (n - i));
        c->request(req(std::to_string(i), "test/never"), done.callback(std::to_string(i)), timeout);
    }
    ASSERT_TRUE(done.wait_total(n, 5s));
    std::this_thread::sleep_for(600ms);  // anything completing twice would show up by now
    std::lock_guard lk(done.mu);
    EXPECT_EQ(done.total, static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& v = done.by_key[std::to_string(i)];
        ASSERT_EQ(v.size(), 1u) << "request " << i;
        ASSERT_FALSE(v[0].ok());
        EXPECT_EQ(v[0].error().code, Errc::request_timeout);
        EXPECT_EQ(v[0].error().raw, std::to_string(i));
    }
    EXPECT_EQ(settled_pending(c.value(), 0), 0u);
    EXPECT_EQ(c->state(), State::connected);
    c->close_and_wait(2s);
}

TEST(RpcRequests, DuplicatePendingIdIsRejectedAndNothingIsSent) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions first;
    c->request(req("42", "test/never"), first.callback("42"), 10s);
    c->request(req("\"abc\"", "test/never"), first.callback("abc"), 10s);
    // Same ids again while pending: rejected, not sent.
    auto dup = c->request_blocking(req("42", "test/echo", R"({"dup":1})"), 2s);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::duplicate_request_id) << dup.error().explain();
    auto dup_s = c->request_blocking(req("\"abc\"", "test/echo", R"({"dup":2})"), 2s);
    ASSERT_FALSE(dup_s.ok());
    EXPECT_EQ(dup_s.error().code, Errc::duplicate_request_id);
    // The integer 1 and the string "1" are different ids.
    auto one = c->request_blocking(req("1", "test/echo", R"({"k":"int"})"), 5s);
    auto one_s = c->request_blocking(req("\"1\"", "test/echo", R"({"k":"str"})"), 5s);
    ASSERT_TRUE(one.ok() && one_s.ok());
    EXPECT_EQ(result_of(one.value()), R"({"k":"int"})");
    EXPECT_EQ(result_of(one_s.value()), R"({"k":"str"})");

    auto log = server_log(c.value());
    EXPECT_EQ(count_with(log, R"("id":42,)"), 1u);
    EXPECT_EQ(count_with(log, R"("id":"abc",)"), 1u);
    EXPECT_EQ(count_with(log, R"("dup")"), 0u) << "a rejected duplicate reached the wire";
    ASSERT_EQ(log.size(), 4u);
    EXPECT_EQ(log[0], req("42", "test/never"));
    // The first requests are still pending and intact.
    EXPECT_EQ(settled_pending(c.value(), 2), 2u);
    {
        std::lock_guard lk(first.mu);
        EXPECT_EQ(first.total, 0u);
    }
    c->close_and_wait(2s);
    ASSERT_TRUE(first.wait_total(2, 3s));
    std::lock_guard lk(first.mu);
    EXPECT_EQ(first.by_key["42"].size(), 1u);
    // Pending requests end with the close: disconnected or closed_by_user (either is documented as an outcome).
    const Errc code = first.by_key["42"][0].error().code;
    EXPECT_TRUE(code == Errc::disconnected || code == Errc::closed_by_user) << first.by_key["42"][0].error().explain();
}

TEST(RpcRequests, IdCanBeReusedAfterCompletionWithoutStaleTimer) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    // Reuse after a reply.
    auto a = c->request_blocking(req("7", "test/echo", R"({"n":1})"), 5s);
    auto b = c->request_blocking(req("7", "test/echo", R"({"n":2})"), 5s);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(result_of(b.value()), R"({"n":2})");
    // Reuse after a reply that came well before its deadline: the first request's deadline (300 ms) must not
    // time out the second one (the original's stale-timer bug).
    auto d1 = c->request_blocking(req("9", "test/delay", R"({"ms":10})"), 300ms);
    ASSERT_TRUE(d1.ok()) << d1.error().explain();
    auto d2 = c->request_blocking(req("9", "test/delay", R"({"ms":600})"), 5s);
    ASSERT_TRUE(d2.ok()) << d2.error().explain();
    EXPECT_EQ(result_of(d2.value()), R"({"ms":600})");
    // Reuse after a timeout.
    auto t1 = c->request_blocking(req("11", "test/never"), 100ms);
    ASSERT_FALSE(t1.ok());
    EXPECT_EQ(t1.error().code, Errc::request_timeout);
    auto t2 = c->request_blocking(req("11", "test/echo", R"({"again":true})"), 5s);
    ASSERT_TRUE(t2.ok()) << t2.error().explain();
    EXPECT_EQ(result_of(t2.value()), R"({"again":true})");
    c->close_and_wait(2s);
}

TEST(RpcRequests, DisconnectWithHundredInFlightCompletesEachOnceWithDisconnected) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    std::atomic<int> reconnect_hooks{0};
    Handlers h;
    h.on_reconnect = [&reconnect_hooks](Client&, std::function<void(Status)> done) {
        reconnect_hooks.fetch_add(1);
        done(Status{});
    };
    auto c = Client::connect(rpc_config(srv.url()), h);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    constexpr int n = 100;
    for (int i = 0; i < n; ++i) c->request(req(std::to_string(1000 + i), "test/never"), done.callback(std::to_string(i)), 20s);
    // Once the server has them all (same connection, so ordered before test/count), drop the link.
    ASSERT_EQ(count_containing(c.value(), R"("method":"test/never")"), n);
    EXPECT_EQ(settled_pending(c.value(), n), static_cast<std::size_t>(n));
    ASSERT_TRUE(c->send_text(R"({"jsonrpc":"2.0","method":"test/drop","params":{}})").ok());
    ASSERT_TRUE(done.wait_total(n, 5s)) << "not every pending request completed after the disconnect";
    std::this_thread::sleep_for(500ms);
    {
        std::lock_guard lk(done.mu);
        EXPECT_EQ(done.total, static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            auto& v = done.by_key[std::to_string(i)];
            ASSERT_EQ(v.size(), 1u) << "request " << i;
            ASSERT_FALSE(v[0].ok());
            EXPECT_EQ(v[0].error().code, Errc::disconnected) << v[0].error().explain();
        }
    }
    // The client reconnects by itself; the same ids are free again.
    for (int i = 0; i < 100 && (c->state() != State::connected || reconnect_hooks.load() < 2); ++i) {
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(c->state(), State::connected);
    EXPECT_GE(c->counters().reconnects, 1u);
    EXPECT_EQ(settled_pending(c.value(), 0), 0u);
    auto again = c->request_blocking(req("1000", "test/echo", R"({"after":"reconnect"})"), 5s);
    ASSERT_TRUE(again.ok()) << again.error().explain();
    EXPECT_EQ(result_of(again.value()), R"({"after":"reconnect"})");
    c->close_and_wait(2s);
}

TEST(RpcRequests, StringIdsIncludingEscapesAreMatched) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto a = c->request_blocking(req("\"abc-1\"", "test/echo", R"({"s":1})"), 5s);
    ASSERT_TRUE(a.ok()) << a.error().explain();
    EXPECT_EQ(scan_json(a.value()).id.key(), "\"abc-1");
    // The server re-serialises the id (python json): "a\"b" and "\u00e9" come back in another spelling.
    auto b = c->request_blocking(req(R"("a\"b")", "test/echo", R"({"s":2})"), 5s);
    ASSERT_TRUE(b.ok()) << b.error().explain();
    EXPECT_EQ(result_of(b.value()), R"({"s":2})");
    auto e = c->request_blocking(req("\"caf\xc3\xa9\"", "test/echo", R"({"s":3})"), 5s);
    ASSERT_TRUE(e.ok()) << e.error().explain();  // python answers "caf\u00e9": same id once unescaped
    EXPECT_EQ(result_of(e.value()), R"({"s":3})");
    c->close_and_wait(2s);
}

TEST(RpcRequests, ErrorReplyCompletesWithRpcErrorCodeMessageAndRawBody) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto r = c->request_blocking(req("5", "test/error", R"({"code":-32602,"message":"Invalid params"})"), 5s);
    ASSERT_FALSE(r.ok()) << "an error reply completed as success (the original's bug): " << r.value();
    EXPECT_EQ(r.error().code, Errc::rpc_error);
    EXPECT_EQ(r.error().category(), ErrorCategory::request);
    EXPECT_EQ(r.error().rpc_code, -32602);
    EXPECT_NE(r.error().message.find("Invalid params"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().raw, R"({"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Invalid params"}})");

    // call_blocking the same.
    auto r2 = c->call_blocking("test/error", R"({"code":10028,"message":"too_many_requests"})", 5s);
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().code, Errc::rpc_error);
    EXPECT_EQ(r2.error().rpc_code, 10028);

    // A Binance-style top-level error {"code","msg","id"} for a pending request.
    Completions done;
    c->request(req("77", "test/never"), done.callback("77"), 5s);
    auto pushed = c->call_blocking("test/push", R"({"messages":["{\"code\":-1121,\"msg\":\"Invalid symbol.\",\"id\":77}"]})", 5s);
    ASSERT_TRUE(pushed.ok()) << pushed.error().explain();
    ASSERT_TRUE(done.wait_total(1, 5s));
    std::lock_guard lk(done.mu);
    auto& v = done.by_key["77"];
    ASSERT_EQ(v.size(), 1u);
    ASSERT_FALSE(v[0].ok());
    EXPECT_EQ(v[0].error().code, Errc::rpc_error);
    EXPECT_EQ(v[0].error().rpc_code, -1121);
    EXPECT_NE(v[0].error().message.find("Invalid symbol."), std::string::npos) << v[0].error().message;
    EXPECT_EQ(v[0].error().raw, R"({"code":-1121,"msg":"Invalid symbol.","id":77})");
    c->close_and_wait(2s);
}

TEST(RpcRequests, SendMessageWithIdWaitsForReplyWithoutIdCompletesWhenWritten) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    c->send_message(req("300", "test/delay", R"({"ms":300})"), done.callback("with-id"));
    c->send_message(R"({"jsonrpc":"2.0","method":"test/never","params":{"note":"no id"}})", done.callback("no-id"));
    c->send_message("not json at all", done.callback("not-json"));
    ASSERT_TRUE(done.wait_total(2, 5s));
    {
        std::lock_guard lk(done.mu);
        // The id-less messages completed (empty string) once written, before the delayed reply.
        ASSERT_EQ(done.by_key["no-id"].size(), 1u);
        ASSERT_TRUE(done.by_key["no-id"][0].ok());
        EXPECT_EQ(done.by_key["no-id"][0].value(), "");
        EXPECT_EQ(done.by_key["with-id"].size(), 0u);
    }
    ASSERT_TRUE(done.wait_total(3, 5s));
    {
        std::lock_guard lk(done.mu);
        ASSERT_EQ(done.by_key["with-id"].size(), 1u);
        ASSERT_TRUE(done.by_key["with-id"][0].ok()) << done.by_key["with-id"][0].error().explain();
        EXPECT_EQ(result_of(done.by_key["with-id"][0].value()), R"({"ms":300})");
        ASSERT_EQ(done.by_key["not-json"].size(), 1u);
        EXPECT_TRUE(done.by_key["not-json"][0].ok());
    }
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(count_with(log, R"({"jsonrpc":"2.0","method":"test/never","params":{"note":"no id"}})"), 1u);
    EXPECT_EQ(count_with(log, "not json at all"), 1u);
    EXPECT_EQ(count_with(log, req("300", "test/delay", R"({"ms":300})")), 1u);
    // request() needs a JSON object with an id.
    auto bad = c->request_blocking(R"({"method":"test/echo"})", 1s);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::invalid_request);
    c->close_and_wait(2s);
}

TEST(RpcRequests, RequestTimeoutIsExactlyTheConfiguredDeadline) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto cfg = rpc_config(srv.url());
    cfg.request_timeout = 300ms;
    auto c = Client::connect(cfg);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto t0 = Clock::now();
    auto r = c->call_blocking("test/never");
    auto waited = Clock::now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::request_timeout);
    EXPECT_GE(waited, 290ms);
    EXPECT_LT(waited, 3s);
    // Longer than the original's hidden 5 s GenServer.call cap: a 5.5 s deadline is honoured, not cut short.
    auto t1 = Clock::now();
    auto slow = c->call_blocking("test/delay", R"({"ms":5300})", 5500ms);
    ASSERT_TRUE(slow.ok()) << slow.error().explain();
    EXPECT_GE(Clock::now() - t1, 5200ms);
    c->close_and_wait(2s);
}

TEST(RpcRequests, DuplicateReplyCompletesOnceAndTheCopyIsUnmatched) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto unmatched = std::make_shared<TextSink>();
    Handlers h;
    h.on_unmatched_response = [unmatched](std::string_view t) { unmatched->add(t); };
    auto c = Client::connect(rpc_config(srv.url()), h);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    c->request(req("55", "test/reply_twice", R"({"k":1})"), done.callback("55"), 5s);
    ASSERT_TRUE(done.wait_total(1, 5s));
    ASSERT_TRUE(unmatched->wait_size(1, 5s));
    std::this_thread::sleep_for(100ms);
    std::lock_guard lk(done.mu);
    EXPECT_EQ(done.total, 1u);
    EXPECT_TRUE(done.by_key["55"][0].ok());
    EXPECT_EQ(unmatched->snapshot().size(), 1u);
    c->close_and_wait(2s);
}

TEST(RpcRequests, UnmatchedReplyWithoutHandlerIsDeliveredAsMessage) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));  // receive() inbox, no on_unmatched_response
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto r = c->request_blocking(req("56", "test/reply_twice", R"({"k":2})"), 5s);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    auto m = c->receive(3s);
    ASSERT_TRUE(m.has_value()) << "the duplicate reply was lost";
    EXPECT_EQ(m->data, R"({"jsonrpc":"2.0","id":56,"result":{"k":2}})");
    EXPECT_FALSE(c->receive(200ms).has_value());
    c->close_and_wait(2s);
}

TEST(RpcRequests, PendingGaugeNoLongerCountsARequestInsideItsOwnCompletion) {
    // Minor consistency check: when a request's completion runs, metrics().pending_requests should not include it.
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    std::mutex mu;
    std::condition_variable cv;
    std::optional<std::size_t> seen;
    Client handle = c.value();
    c->request(req("900", "test/echo"), [&, handle](Result<std::string>) mutable {
        std::lock_guard lk(mu);
        seen = handle.metrics().pending_requests;
        cv.notify_all();
    });
    {
        std::unique_lock lk(mu);
        ASSERT_TRUE(cv.wait_for(lk, 5s, [&] { return seen.has_value(); }));
        EXPECT_EQ(*seen, 0u) << "the completed request is still counted as pending while its callback runs";
    }
    c->close_and_wait(2s);
}

TEST(RpcRequests, RequestThenSendTextFromOneThreadKeepTheirOrderOnTheWire) {
    // A trading client sends an order as a request and then a plain message from the same thread: the wire must
    // show them in that order.
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    Completions done;
    const std::string first = req("400", "test/echo", R"({"seq":1})");
    const std::string second = R"({"jsonrpc":"2.0","method":"test/never","params":{"seq":2}})";
    const std::string third = req("401", "test/echo", R"({"seq":3})");
    c->request(first, done.callback("400"));
    ASSERT_TRUE(c->send_text(second).ok());
    c->send_message(third, done.callback("401"));
    ASSERT_TRUE(done.wait_total(2, 5s));
    auto log = server_log(c.value());
    EXPECT_EQ(log, (std::vector<std::string>{first, second, third}));
    c->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws::test
