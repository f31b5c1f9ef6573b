// rate_limit_test.cpp — owns the integration tests of Config::rate_limit through real clients against the JSON-RPC
// test server (tests/servers/jsonrpc_server.py):
//   * reject mode, ONE TokenBucket shared by two clients, two sender threads per client (send_text and call): the
//     number of messages the server receives never exceeds capacity + rate * elapsed, and every admitted message
//     arrives (the original's non-atomic refill over-issued by up to 16%);
//   * delay mode: everything is sent, in order (per sender), no faster than the bucket allows;
//   * requests (call) in delay mode are delayed too;
//   * subscription messages are charged like any other data frame.
// The server counts messages by a per-test tag, from a separate client that is not rate limited. The needle is
// written with quotes ("tag":"...") so that the test/count request itself (where they are escaped) never matches.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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
#include "zenws/rate_limiter.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Config rl_config(std::string url, std::shared_ptr<const RateLimitPolicy> policy) {
    Config cfg = rpc_single_shot_config(std::move(url), 10s);
    cfg.rate_limit = std::move(policy);
    return cfg;
}

std::int64_t server_count(Client& control, const std::string& needle) {
    auto r = control.call_blocking("test/count", "{\"contains\":" + json_quote(needle) + "}", 5s);
    if (!r.ok()) {
        ADD_FAILURE() << "test/count: " << r.error().explain();
        return -1;
    }
    return std::stoll(std::string(scan_json(r.value()).result_raw));
}

// Polls until the server has seen `expected` messages containing `needle` (bounded); returns the last count.
std::int64_t wait_count(Client& control, const std::string& needle, std::int64_t expected,
                        std::chrono::milliseconds timeout = 10s) {
    auto until = Clock::now() + timeout;
    std::int64_t n = server_count(control, needle);
    while (n < expected && Clock::now() < until) {
        std::this_thread::sleep_for(20ms);
        n = server_count(control, needle);
    }
    return n;
}

std::vector<std::string> server_log_of(Client& control, int conn) {
    auto r = control.call_blocking("test/log", "{\"conn\":" + std::to_string(conn) + "}", 5s);
    std::vector<std::string> out;
    if (!r.ok()) {
        ADD_FAILURE() << "test/log: " << r.error().explain();
        return out;
    }
    EXPECT_TRUE(parse_json_string_array(scan_json(r.value()).result_raw, out));
    return out;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- tests -----------------------------------------------------------------------------------------------------

TEST(RpcRateLimit, SharedBucketRejectModeNeverExceedsCapacityPlusRateTimesElapsed) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    constexpr double capacity = 20, rate = 40;  // tokens, tokens/s
    auto bucket = std::make_shared<TokenBucket>(capacity, rate);
    auto policy = std::make_shared<RateLimitPolicy>(RateLimitPolicy::single(bucket));
    auto a = Client::connect(rl_config(srv.url(), policy));
    auto b = Client::connect(rl_config(srv.url(), policy));
    auto control = Client::connect(rl_config(srv.url(), nullptr));
    ASSERT_TRUE(a.ok() && b.ok() && control.ok());

    const std::string tag = "rl-reject-" + std::to_string(::getpid());
    std::atomic<long> admitted{0}, rejected{0}, other_errors{0};
    std::atomic<long> replies{0}, call_rejected{0};
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    const auto stop_at = t0 + 700ms;
    for (Client* c : {&a.value(), &b.value()}) {
        // One thread of raw send_text...
        threads.emplace_back([&, c] {
            for (int i = 0; Clock::now() < stop_at && i < 100000; ++i) {
                auto st = c->send_text("{\"method\":\"rl/noop\",\"params\":{\"tag\":\"" + tag + "\"}}");
                if (st.ok()) {
                    admitted.fetch_add(1);
                } else if (st.error().code == Errc::rate_limited) {
                    rejected.fetch_add(1);
                } else {
                    other_errors.fetch_add(1);
                }
                std::this_thread::sleep_for(200us);
            }
        });
        // ...and one of requests.
        threads.emplace_back([&, c] {
            for (int i = 0; Clock::now() < stop_at && i < 100000; ++i) {
                auto r = c->call_blocking("test/echo", "{\"tag\":\"" + tag + "\"}", 5s);
                if (r.ok()) {
                    replies.fetch_add(1);
                } else if (r.error().code == Errc::rate_limited) {
                    call_rejected.fetch_add(1);
                    std::this_thread::sleep_for(200us);
                } else {
                    other_errors.fetch_add(1);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const double elapsed = seconds(Clock::now() - t0);
    const long sent = admitted.load() + replies.load();
    const auto received = wait_count(control.value(), "\"tag\":\"" + tag + "\"", sent);
    const double bound = capacity + rate * elapsed;
    RecordProperty("received", static_cast<int>(received));
    EXPECT_EQ(other_errors.load(), 0);
    EXPECT_GT(rejected.load() + call_rejected.load(), 0) << "the limiter never said no";
    EXPECT_GT(replies.load(), 0);
    EXPECT_EQ(received, sent) << "admitted messages must all reach the server";
    EXPECT_LE(static_cast<double>(received), bound + 1e-9)
        << received << " messages in " << elapsed << " s; bound " << bound;
    // Not starved either: the budget was (nearly) used up.
    EXPECT_GE(static_cast<double>(received), capacity + rate * 0.5 * elapsed) << "elapsed " << elapsed;
    a->close_and_wait(2s);
    b->close_and_wait(2s);
    control->close_and_wait(2s);
}

TEST(RpcRateLimit, DelayModeSendsEverythingInOrderAtTheBucketRate) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    constexpr double capacity = 5, rate = 50;
    constexpr int per_thread = 25, threads_n = 2;
    auto bucket = std::make_shared<TokenBucket>(capacity, rate);
    auto policy = std::make_shared<RateLimitPolicy>(
        RateLimitPolicy::single(bucket, {}, RateLimitPolicy::Mode::delay, std::chrono::milliseconds(5000)));
    auto c = Client::connect(rl_config(srv.url(), policy));  // connection 1
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto control = Client::connect(rl_config(srv.url(), nullptr));
    ASSERT_TRUE(control.ok());

    const std::string tag = "rl-delay";
    std::atomic<int> failures{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                auto st = c->send_text("{\"method\":\"rl/seq\",\"params\":{\"tag\":\"" + tag + "\",\"t\":" +
                                       std::to_string(t) + ",\"i\":" + std::to_string(i) + "}}");
                if (!st.ok()) failures.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) t.join();
    constexpr int total = per_thread * threads_n;
    ASSERT_EQ(wait_count(control.value(), "\"tag\":\"" + tag + "\"", total), total);
    const double elapsed = seconds(Clock::now() - t0);
    EXPECT_EQ(failures.load(), 0);
    // Lower bound given by the bucket: (total - capacity) / rate seconds at least.
    EXPECT_GE(elapsed, (total - capacity) / rate * 0.9) << "sent faster than the bucket allows";
    auto log = server_log_of(control.value(), 1);
    ASSERT_EQ(log.size(), static_cast<std::size_t>(total));
    std::vector<int> next(threads_n, 0);
    for (const auto& text : log) {
        auto t = text.find("\"t\":");
        auto i = text.find("\"i\":");
        ASSERT_TRUE(t != std::string::npos && i != std::string::npos) << text;
        int tv = std::stoi(text.substr(t + 4)), iv = std::stoi(text.substr(i + 4));
        EXPECT_EQ(iv, next[tv]) << "thread " << tv << " out of order: " << text;
        next[tv] = iv + 1;
    }
    c->close_and_wait(2s);
    control->close_and_wait(2s);
}

TEST(RpcRateLimit, DelayModeAlsoDelaysRequests) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    constexpr double capacity = 2, rate = 10;
    constexpr int n = 12;
    auto bucket = std::make_shared<TokenBucket>(capacity, rate);
    auto policy = std::make_shared<RateLimitPolicy>(
        RateLimitPolicy::single(bucket, {}, RateLimitPolicy::Mode::delay, std::chrono::milliseconds(5000)));
    auto c = Client::connect(rl_config(srv.url(), policy));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    std::mutex mu;
    std::condition_variable cv;
    int done = 0, ok = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        c->call("test/echo", "{\"i\":" + std::to_string(i) + "}", [&](Result<std::string> r) {
            std::lock_guard lk(mu);
            ++done;
            ok += r.ok();
            cv.notify_all();
        });
    }
    {
        std::unique_lock lk(mu);
        ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return done == n; }));
    }
    const double elapsed = seconds(Clock::now() - t0);
    EXPECT_EQ(ok, n);
    // 12 requests through a bucket of 2 + 10/s cannot all be on the wire before 1 s.
    EXPECT_GE(elapsed, (n - capacity) / rate * 0.9)
        << n << " requests answered after " << elapsed << " s: the delay policy was not applied to requests";
    c->close_and_wait(2s);
}

TEST(RpcRateLimit, SubscribeMessagesAreChargedToo) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    constexpr double capacity = 2, rate = 1;
    auto bucket = std::make_shared<TokenBucket>(capacity, rate);
    auto policy = std::make_shared<RateLimitPolicy>(RateLimitPolicy::single(bucket));
    auto c = Client::connect(rl_config(srv.url(), policy));
    auto control = Client::connect(rl_config(srv.url(), nullptr));
    ASSERT_TRUE(c.ok() && control.ok());
    const auto t0 = Clock::now();
    for (int i = 0; i < 6; ++i) (void)c->subscribe({"rl.chan." + std::to_string(i)});
    std::this_thread::sleep_for(300ms);  // let whatever was sent arrive
    const double elapsed = seconds(Clock::now() - t0);
    const auto received = server_count(control.value(), "[\"rl.chan.");
    EXPECT_LE(static_cast<double>(received), capacity + rate * elapsed)
        << received << " subscribe messages went out through a " << capacity << "-token bucket in " << elapsed
        << " s: subscription messages bypass Config::rate_limit";
    c->close_and_wait(2s);
    control->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws::test
