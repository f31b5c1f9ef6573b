// send_policy_test.cpp — owns the integration tests of what happens to outgoing messages and requests across an
// outage (src/io/client.cpp send policies), against real echo servers behind tests/servers/fault_proxy.py:
//   * fail_fast: sends and requests during an outage fail with not_connected, each completion called once
//   * buffer: N sends during the outage each complete exactly once (written, after the reconnect) and the server
//     receives them in order; a buffered request is sent and answered after the reconnect
//   * send_queue_limit with reject_new and drop_oldest: every completion exactly once, written or queue_full
//   * giving up fails the buffered sends (not_connected), once each
//   * a sender racing the reconnect: nothing is stranded in the queue, everything arrives in order
//   * requests in flight when the connection drops complete with Errc::disconnected exactly once
// Every wait is bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/proxy.hpp"
#include "integration/support/resilience_helpers.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/telemetry.hpp"

namespace zenws::test {
namespace {

// Takes the proxied client's link down (new connections refused, the current one reset) and waits until the client
// knows it (state reconnecting). Returns false on timeout.
bool begin_outage(ProxiedClient& pc) {
    auto since = Clock::now();
    if (!pc.proxy->refuse(true) || !pc.proxy->reset()) return false;
    return pc.log->wait_transition(State::connected, State::reconnecting, 5s, since);
}

// Lets connections through again and waits for the client to be connected; returns the time the upgrade completed
// (the observer's `connected` event), or nullopt on timeout.
std::optional<Clock::time_point> end_outage(ProxiedClient& pc) {
    auto since = Clock::now();
    if (!pc.proxy->refuse(false)) return std::nullopt;
    if (!pc.log->wait_transition(State::reconnecting, State::connected, 5s, since)) return std::nullopt;
    std::lock_guard lk(pc.log->mu);
    for (auto& e : pc.log->events)
        if (e.kind == ObsEvent::connected && e.at >= since) return e.at;
    return std::nullopt;
}

// The received messages that start with `prefix`, in arrival order.
std::vector<std::string> received_with(Log& log, const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& m : log.messages_snapshot())
        if (m.rfind(prefix, 0) == 0) out.push_back(m);
    return out;
}

std::vector<std::string> numbered(const std::string& prefix, int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back(prefix + std::to_string(i));
    return v;
}

Config buffer_config(std::size_t limit = 1024, OverflowPolicy overflow = OverflowPolicy::reject_new) {
    Config cfg = resilient_config("");
    cfg.send_policy = SendPolicy::buffer;
    cfg.send_queue_limit = limit;
    cfg.overflow_policy = overflow;
    return cfg;
}

// ---- fail_fast ---------------------------------------------------------------------------------------------------

TEST(SendPolicyFailFast, SendsDuringOutageFailWithNotConnected) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, resilient_config(""))) << pc.error;  // fail_fast is the default
    Client& c = *pc.client;
    ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();

    constexpr int n = 20;
    auto comps = std::make_shared<Completions>(n + 1);
    for (int i = 0; i < n; ++i) {
        Status st = i % 2 ? c.send_text("ff-" + std::to_string(i), comps->callback(i))
                          : c.send_text(std::string_view("ff-" + std::to_string(i)), comps->callback(i));
        ASSERT_FALSE(st.ok()) << i;
        EXPECT_EQ(st.error().code, Errc::not_connected) << i;
    }
    c.request(R"({"id":"ff-req","result":1})", comps->reply_callback(n));
    ASSERT_TRUE(comps->wait_all(3s)) << comps->completed() << " of " << n + 1 << " completed";

    ASSERT_TRUE(end_outage(pc)) << pc.log->describe();
    ASSERT_TRUE(c.send_text("ff-after").ok());
    ASSERT_TRUE(pc.log->wait_message("ff-after", 5s));
    std::this_thread::sleep_for(200ms);
    {
        std::lock_guard lk(comps->mu);
        for (int i = 0; i <= n; ++i) {
            ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
            EXPECT_EQ(comps->calls[i][0].code, Errc::not_connected) << i;
        }
    }
    // Nothing sent during the outage reached the server later.
    EXPECT_EQ(received_with(*pc.log, "ff-"), (std::vector<std::string>{"ff-after"}));
    EXPECT_EQ(c.metrics().send_queue_depth, 0u);
}

// ---- buffer ------------------------------------------------------------------------------------------------------

TEST(SendPolicyBuffer, OutageSendsAreWrittenInOrderAfterReconnect) {
    if (interpreter_missing(false)) GTEST_SKIP() << "python3 not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(false, buffer_config())) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();

    constexpr int n = 50;
    auto comps = std::make_shared<Completions>(n + 1);
    for (int i = 0; i < n; ++i) {
        Status st = i % 2 ? c.send_text("buf-" + std::to_string(i), comps->callback(i))
                          : c.send_text(std::string_view("buf-" + std::to_string(i)), comps->callback(i));
        ASSERT_TRUE(st.ok()) << i << ": " << st.error().explain();
    }
    // A response-shaped request: the echo server's copy of it is its own reply.
    c.request(R"({"id":"buf-req","result":"pong"})", comps->reply_callback(n), 5s);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(comps->completed(), 0u) << "buffered sends completed before any connection";
    EXPECT_EQ(c.metrics().send_queue_depth, static_cast<std::size_t>(n + 1));

    auto connected_at = end_outage(pc);
    ASSERT_TRUE(connected_at) << pc.log->describe();
    ASSERT_TRUE(comps->wait_all(5s)) << comps->completed() << " of " << n + 1 << " completed";
    ASSERT_TRUE(pc.log->wait_message("buf-" + std::to_string(n - 1), 5s));
    std::this_thread::sleep_for(200ms);
    {
        std::lock_guard lk(comps->mu);
        for (int i = 0; i <= n; ++i) {
            ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
            EXPECT_FALSE(comps->calls[i][0]) << i << ": " << comps->calls[i][0].explain();
            EXPECT_GE(comps->first_at[i], *connected_at) << "completed before the reconnect: " << i;
        }
    }
    // (the echoed request is consumed as its reply, never delivered as a message)
    EXPECT_EQ(received_with(*pc.log, "buf-"), numbered("buf-", 0, n));
    EXPECT_EQ(c.metrics().send_queue_depth, 0u);
    EXPECT_EQ(c.metrics().pending_requests, 0u);
}

TEST(SendPolicyBuffer, QueueLimitRejectNew) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, buffer_config(5, OverflowPolicy::reject_new))) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();

    constexpr int n = 10;
    auto comps = std::make_shared<Completions>(n);
    for (int i = 0; i < n; ++i) {
        Status st = c.send_text("rej-" + std::to_string(i), comps->callback(i));
        if (i < 5) {
            EXPECT_TRUE(st.ok()) << i;
        } else {
            ASSERT_FALSE(st.ok()) << i;
            EXPECT_EQ(st.error().code, Errc::queue_full) << i;
        }
    }
    // The rejected ones complete at once, the queued ones only after the reconnect.
    ASSERT_TRUE(comps->wait(2s, [&] {
        for (int i = 5; i < n; ++i)
            if (comps->calls[i].empty()) return false;
        return true;
    }));
    EXPECT_EQ(comps->completed(), 5u);
    EXPECT_EQ(c.metrics().send_queue_depth, 5u);

    ASSERT_TRUE(end_outage(pc)) << pc.log->describe();
    ASSERT_TRUE(comps->wait_all(5s)) << comps->completed() << " of " << n;
    ASSERT_TRUE(pc.log->wait_message("rej-4", 5s));
    ASSERT_TRUE(c.send_text("rej-end").ok());
    ASSERT_TRUE(pc.log->wait_message("rej-end", 5s));
    std::lock_guard lk(comps->mu);
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
        EXPECT_EQ(comps->calls[i][0].code, i < 5 ? Errc::ok : Errc::queue_full) << i;
    }
    auto expect = numbered("rej-", 0, 5);
    expect.push_back("rej-end");
    EXPECT_EQ(received_with(*pc.log, "rej-"), expect);
}

TEST(SendPolicyBuffer, QueueLimitDropOldest) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, buffer_config(5, OverflowPolicy::drop_oldest))) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();

    constexpr int n = 10;
    auto comps = std::make_shared<Completions>(n);
    for (int i = 0; i < n; ++i) {
        Status st = c.send_text("drop-" + std::to_string(i), comps->callback(i));
        EXPECT_TRUE(st.ok()) << i;  // the new one is always queued
    }
    ASSERT_TRUE(comps->wait(2s, [&] {
        for (int i = 0; i < 5; ++i)
            if (comps->calls[i].empty()) return false;
        return true;
    }));
    EXPECT_EQ(comps->completed(), 5u);
    EXPECT_EQ(c.metrics().send_queue_depth, 5u);

    ASSERT_TRUE(end_outage(pc)) << pc.log->describe();
    ASSERT_TRUE(comps->wait_all(5s)) << comps->completed() << " of " << n;
    ASSERT_TRUE(pc.log->wait_message("drop-9", 5s));
    ASSERT_TRUE(c.send_text("drop-end").ok());
    ASSERT_TRUE(pc.log->wait_message("drop-end", 5s));
    std::lock_guard lk(comps->mu);
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
        EXPECT_EQ(comps->calls[i][0].code, i < 5 ? Errc::queue_full : Errc::ok) << i;
    }
    auto expect = numbered("drop-", 5, 10);
    expect.push_back("drop-end");
    EXPECT_EQ(received_with(*pc.log, "drop-"), expect);
}

TEST(SendPolicyBuffer, GivingUpFailsBufferedSendsOnce) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    Config cfg = buffer_config();
    cfg.retry_count = 3;
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, cfg)) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();
    constexpr int n = 10;
    auto comps = std::make_shared<Completions>(n);
    for (int i = 0; i < n; ++i) (void)c.send_text("gu-" + std::to_string(i), comps->callback(i));
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::disconnected, 5s)) << pc.log->describe();
    ASSERT_TRUE(comps->wait_all(3s)) << comps->completed() << " of " << n;
    std::this_thread::sleep_for(200ms);
    std::lock_guard lk(comps->mu);
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
        EXPECT_EQ(comps->calls[i][0].code, Errc::not_connected) << i;
    }
    EXPECT_EQ(c.metrics().send_queue_depth, 0u);
}

// A sender thread keeps sending through an outage and the reconnect. Every send is accounted for: completed once,
// written, and echoed back in order (a send that lands between the queue flush and the state change must not be
// stranded in the queue).
TEST(SendPolicyBuffer, SenderRacingTheReconnectLosesNothing) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, buffer_config(1u << 20))) << pc.error;
    Client& c = *pc.client;
    constexpr int max_msgs = 60000;
    auto comps = std::make_shared<Completions>(max_msgs);
    int next = 0;
    for (int round = 0; round < 3 && next < max_msgs; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        ASSERT_TRUE(begin_outage(pc)) << pc.log->describe();
        std::atomic<bool> stop{false};
        std::atomic<int> failures{0};
        const int first = next;
        std::thread sender([&] {
            while (!stop.load() && next < max_msgs) {
                int i = next;
                if (!c.send_text("race-" + std::to_string(i), comps->callback(i)).ok()) ++failures;
                next = i + 1;
                if (i % 8 == 0) std::this_thread::sleep_for(20us);
            }
        });
        std::this_thread::sleep_for(150ms);
        bool back = end_outage(pc).has_value();
        std::this_thread::sleep_for(150ms);
        stop = true;
        sender.join();
        ASSERT_TRUE(back) << pc.log->describe();
        EXPECT_EQ(failures.load(), 0);
        ASSERT_TRUE(comps->wait(5s, [&] {
            for (int i = first; i < next; ++i)
                if (comps->calls[i].empty()) return false;
            return true;
        })) << "sends " << first << ".." << next - 1 << ": " << comps->completed() - first << " completed; state "
            << to_string(c.state()) << ", queue depth " << c.metrics().send_queue_depth
            << " (sends stranded in the queue of a connected client)";
        const std::string last = "race-" + std::to_string(next - 1);
        ASSERT_TRUE(pc.log->wait_message(last, 10s)) << "last message of the round not echoed";
    }
    EXPECT_EQ(c.metrics().send_queue_depth, 0u);
    std::lock_guard lk(comps->mu);
    for (int i = 0; i < next; ++i) {
        ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
        ASSERT_FALSE(comps->calls[i][0]) << i << ": " << comps->calls[i][0].explain();
    }
    auto got = received_with(*pc.log, "race-");
    EXPECT_EQ(got.size(), static_cast<std::size_t>(next));
    EXPECT_TRUE(got == numbered("race-", 0, next)) << "echoes out of order or missing (" << next << " sent)";
}

// ---- requests in flight ------------------------------------------------------------------------------------------

TEST(SendPolicyRequests, InFlightRequestsCompleteWithDisconnectedOnce) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, resilient_config(""))) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(pc.proxy->blackhole("up"));  // the server never sees the requests: they stay pending
    constexpr int n = 3;
    auto comps = std::make_shared<Completions>(n);
    for (int i = 0; i < n; ++i) {
        c.request(R"({"jsonrpc":"2.0","id":)" + std::to_string(100 + i) + R"(,"method":"public/test"})",
                  comps->reply_callback(i), 1000ms);
    }
    for (auto deadline = Clock::now() + 2s; c.metrics().pending_requests != n && Clock::now() < deadline;)
        std::this_thread::sleep_for(10ms);
    ASSERT_EQ(c.metrics().pending_requests, static_cast<std::size_t>(n));
    EXPECT_EQ(comps->completed(), 0u);

    auto since = Clock::now();
    ASSERT_TRUE(pc.proxy->reset());
    ASSERT_TRUE(pc.proxy->blackhole("off"));
    ASSERT_TRUE(comps->wait_all(3s)) << comps->completed() << " of " << n;
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s, since)) << pc.log->describe();
    std::this_thread::sleep_for(1200ms);  // past the requests' own 1 s deadline: no second completion
    std::lock_guard lk(comps->mu);
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
        EXPECT_EQ(comps->calls[i][0].code, Errc::disconnected) << comps->calls[i][0].explain();
        EXPECT_GE(comps->first_at[i], since);
    }
    EXPECT_EQ(c.metrics().pending_requests, 0u);
}

}  // namespace
}  // namespace zenws::test
