// resilience_test.cpp — owns the integration tests of the resilient client's reconnection (src/io/client.cpp) against
// real servers on 127.0.0.1, with tests/servers/fault_proxy.py in front of them where a fault is injected:
//   * recovery after a server kill + restart on the same port (node ws and python websockets): reconnects counter,
//     on_state connected -> reconnecting -> connected, messages flow again
//   * recovery after an RST (proxy `reset`) and after a FIN without a close frame (proxy `close`)
//   * the backoff timeline when the 101 never comes (conformance_server.py /handshake/never_101): attempts, failures
//     and scheduled delays in order via the Observer, then retries_exhausted and Client::connect's error
//   * the ladder after losing an established connection (immediate first), retry exhaustion -> disconnected with
//     last_error() set and no exception
//   * user close while reconnecting: no further attempts, buffered sends fail closed_by_user once
//   * stale timers: after a recovery no extra attempt fires; one socket close causes exactly one reconnect (proxy
//     `count` of accepted connections)
//   * fast DNS failure for a .invalid name, only when resolution cannot leave the machine (else skipped)
// Timing is asserted only within generous bounds; every wait is bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
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

// ---- kill + restart on the same port -----------------------------------------------------------------------

class ResilienceServerRestart : public ::testing::TestWithParam<bool> {};  // param: node (true) / python (false)

TEST_P(ResilienceServerRestart, ReconnectsAfterKillAndRestartOnSamePort) {
    const bool node = GetParam();
    if (interpreter_missing(node)) GTEST_SKIP() << (node ? "node" : "python3") << " not installed";
    std::string err;
    auto server = start_echo(node, 0, &err);
    ASSERT_TRUE(server) << err;
    const std::uint16_t port = server->port();

    auto log = std::make_shared<Log>();
    auto r = Client::connect(resilient_config(ws_url(port)), Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(c.send_text("before").ok());
    ASSERT_TRUE(log->wait_message("before", 5s));

    server.reset();  // kill: the process exits, the kernel closes its sockets
    ASSERT_TRUE(log->wait_transition(State::connected, State::reconnecting, 5s)) << log->describe();
    // Let the client fail against the closed port a couple of times before the server comes back.
    ASSERT_TRUE(log->wait_count(ObsEvent::failed, 2, 5s)) << log->describe();
    EXPECT_EQ(c.state(), State::reconnecting);
    EXPECT_EQ(c.counters().reconnects, 0u);

    server = start_echo(node, port, &err);
    ASSERT_TRUE(server) << "restart on port " << port << ": " << err;
    ASSERT_TRUE(log->wait_transition(State::reconnecting, State::connected, 5s)) << log->describe();
    EXPECT_EQ(c.state(), State::connected);
    EXPECT_EQ(c.counters().reconnects, 1u);

    ASSERT_TRUE(c.send_text("after").ok());
    EXPECT_TRUE(log->wait_message("after", 5s));

    auto ts = log->transitions_snapshot();
    ASSERT_EQ(ts.size(), 3u) << log->describe();
    EXPECT_TRUE(ts[0].from == State::connecting && ts[0].to == State::connected);
    EXPECT_TRUE(ts[1].from == State::connected && ts[1].to == State::reconnecting);
    EXPECT_TRUE(ts[2].from == State::reconnecting && ts[2].to == State::connected);
    EXPECT_EQ(ts[1].cause.category(), ErrorCategory::transport) << ts[1].cause.explain();
    EXPECT_TRUE(ts[1].cause.retryable());
    EXPECT_EQ(log->count(ObsEvent::disconnected), 1);
    EXPECT_TRUE(c.close_and_wait(3s));
}

INSTANTIATE_TEST_SUITE_P(Peers, ResilienceServerRestart, ::testing::Values(true, false),
                         [](const auto& info) { return std::string(info.param ? "node" : "python"); });

// ---- RST and FIN through the fault proxy --------------------------------------------------------------------

class ResilienceLinkFault : public ::testing::TestWithParam<bool> {};  // param: node (true) / python (false)

TEST_P(ResilienceLinkFault, ReconnectsAfterReset) {
    if (interpreter_missing(GetParam())) GTEST_SKIP() << "interpreter not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(GetParam(), resilient_config(""))) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(c.send_text("one").ok());
    ASSERT_TRUE(pc.log->wait_message("one", 5s));

    ASSERT_TRUE(pc.proxy->reset());
    ASSERT_TRUE(pc.log->wait_transition(State::connected, State::reconnecting, 5s)) << pc.log->describe();
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s)) << pc.log->describe();
    EXPECT_EQ(c.counters().reconnects, 1u);
    auto t = pc.log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::connection_reset) << t->cause.explain();
    {
        std::lock_guard lk(pc.log->mu);
        ASSERT_EQ(pc.log->closes.size(), 1u);
        EXPECT_EQ(pc.log->closes[0].code, close_code::abnormal);
        EXPECT_FALSE(pc.log->closes[0].by_peer);
    }
    ASSERT_TRUE(c.send_text("two").ok());
    EXPECT_TRUE(pc.log->wait_message("two", 5s));
    EXPECT_EQ(pc.proxy->count(), 2);  // the first connection and exactly one reconnection
}

TEST_P(ResilienceLinkFault, ReconnectsAfterFinWithoutCloseFrame) {
    if (interpreter_missing(GetParam())) GTEST_SKIP() << "interpreter not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(GetParam(), resilient_config(""))) << pc.error;
    Client& c = *pc.client;
    ASSERT_TRUE(c.send_text("one").ok());
    ASSERT_TRUE(pc.log->wait_message("one", 5s));

    ASSERT_TRUE(pc.proxy->close_all());
    ASSERT_TRUE(pc.log->wait_transition(State::connected, State::reconnecting, 5s)) << pc.log->describe();
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s)) << pc.log->describe();
    EXPECT_EQ(c.counters().reconnects, 1u);
    auto t = pc.log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::eof_without_close) << t->cause.explain();
    {
        std::lock_guard lk(pc.log->mu);
        ASSERT_EQ(pc.log->closes.size(), 1u);
        EXPECT_EQ(pc.log->closes[0].code, close_code::abnormal);  // 1006: no close frame
    }
    ASSERT_TRUE(c.send_text("two").ok());
    EXPECT_TRUE(pc.log->wait_message("two", 5s));
    EXPECT_EQ(pc.proxy->count(), 2);
}

INSTANTIATE_TEST_SUITE_P(Peers, ResilienceLinkFault, ::testing::Values(true, false),
                         [](const auto& info) { return std::string(info.param ? "node" : "python"); });

// ---- the backoff timeline when the 101 never comes ---------------------------------------------------------

TEST(ResilienceBackoff, Never101TimelineThenRetriesExhausted) {
    if (python3_path().empty()) GTEST_SKIP() << "python3 not installed";
    std::string err;
    auto server = start_python_server("conformance_server.py", {}, &err);
    ASSERT_TRUE(server) << err;

    Config cfg;
    cfg.url = ws_url(server->port(), "/handshake/never_101");
    cfg.timeout = 200ms;
    cfg.retry_count = 3;
    cfg.retry_delay = 100ms;
    cfg.max_backoff = 400ms;
    cfg.backoff_jitter = false;
    auto log = std::make_shared<Log>();
    auto t0 = Clock::now();
    auto r = Client::connect(cfg, Log::handlers(log));  // must return (no exception, no hang)
    auto took = Clock::now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::connect_timeout) << r.error().explain();

    auto ev = log->snapshot();
    std::vector<ObsEvent> lifecycle;
    for (auto& e : ev)
        if (e.kind != ObsEvent::hb_sent && e.kind != ObsEvent::hb_ack && e.kind != ObsEvent::hb_missed)
            lifecycle.push_back(e);
    // attempt, failed, scheduled(100), attempt, failed, scheduled(200), attempt, failed, scheduled(400), attempt,
    // failed, exhausted
    const std::vector<ObsEvent::Kind> expected = {
        ObsEvent::attempt, ObsEvent::failed, ObsEvent::scheduled, ObsEvent::attempt, ObsEvent::failed,
        ObsEvent::scheduled, ObsEvent::attempt, ObsEvent::failed, ObsEvent::scheduled, ObsEvent::attempt,
        ObsEvent::failed, ObsEvent::exhausted};
    ASSERT_EQ(lifecycle.size(), expected.size()) << log->describe();
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(lifecycle[i].kind, expected[i]) << "event " << i;
    const long long delays[] = {100, 200, 400};
    int attempt_no = 0, sched_no = 0;
    for (std::size_t i = 0; i < lifecycle.size(); ++i) {
        const auto& e = lifecycle[i];
        if (e.kind == ObsEvent::attempt) EXPECT_EQ(e.n, ++attempt_no);
        if (e.kind == ObsEvent::failed) {
            EXPECT_EQ(e.error.code, Errc::connect_timeout) << e.error.explain();
            // each attempt waits for the 200 ms deadline (generous upper bound: noisy machine)
            auto spent = ms_of(e.at - lifecycle[i - 1].at);
            EXPECT_GE(spent, 150) << "attempt " << attempt_no;
            EXPECT_LT(spent, 2000) << "attempt " << attempt_no;
        }
        if (e.kind == ObsEvent::scheduled) {
            EXPECT_EQ(e.n, sched_no + 1);
            EXPECT_EQ(e.delay.count(), delays[sched_no]);
            // the next attempt starts no earlier than the delay
            auto gap = ms_of(lifecycle[i + 1].at - e.at);
            EXPECT_GE(gap, delays[sched_no] - 20) << "gap before attempt " << attempt_no + 1;
            EXPECT_LT(gap, delays[sched_no] + 1500) << "gap before attempt " << attempt_no + 1;
            ++sched_no;
        }
    }
    EXPECT_EQ(lifecycle.back().error.code, Errc::connect_timeout);
    // 4 x 200 ms + 100 + 200 + 400 = 1.5 s nominal
    EXPECT_GE(ms_of(took), 1300);
    EXPECT_LT(ms_of(took), 8000);
    auto ts = log->transitions_snapshot();
    ASSERT_EQ(ts.size(), 1u) << log->describe();  // connecting -> disconnected, never "reconnecting"
    EXPECT_EQ(ts[0].from, State::connecting);
    EXPECT_EQ(ts[0].to, State::disconnected);
    EXPECT_EQ(ts[0].cause.code, Errc::connect_timeout);
}

// After an established connection drops, the ladder starts with an immediate attempt; exhausting it leaves the
// client disconnected with last_error() set.
TEST(ResilienceBackoff, LostConnectionLadderThenDisconnected) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    Config cfg = resilient_config("");
    cfg.retry_count = 3;
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, cfg)) << pc.error;
    Client& c = *pc.client;
    auto since = Clock::now();
    ASSERT_TRUE(pc.proxy->refuse(true));
    ASSERT_TRUE(pc.proxy->reset());
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::disconnected, 8s)) << pc.log->describe();
    EXPECT_EQ(c.state(), State::disconnected);
    Error last = c.last_error();
    EXPECT_TRUE(static_cast<bool>(last));
    EXPECT_TRUE(last.retryable()) << last.explain();  // a transport failure, given up on by policy
    EXPECT_EQ(c.counters().reconnects, 0u);

    std::vector<long long> delays;
    int attempts = 0, exhausted = 0;
    for (auto& e : pc.log->snapshot()) {
        if (e.at < since) continue;
        if (e.kind == ObsEvent::scheduled) delays.push_back(e.delay.count());
        if (e.kind == ObsEvent::attempt) ++attempts;
        if (e.kind == ObsEvent::exhausted) ++exhausted;
    }
    EXPECT_EQ(delays, (std::vector<long long>{0, 100, 200})) << pc.log->describe();
    EXPECT_EQ(attempts, 3) << pc.log->describe();
    EXPECT_EQ(exhausted, 1);
    // The error says how many attempts were made for this outage; it must match what the observer saw.
    EXPECT_NE(last.message.find("after " + std::to_string(attempts) + " attempts"), std::string::npos)
        << "last_error: " << last.message << " (observer saw " << attempts << " attempts after the drop)";
    // Stays disconnected: no late timer revives it.
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(c.state(), State::disconnected);
    EXPECT_EQ(pc.log->count(ObsEvent::attempt, since), 3);
    // Sends fail cleanly.
    auto st = c.send_text("x");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::not_connected);
}

TEST(ResilienceBackoff, InitialConnectToDeadPortReturnsErrorAfterRetries) {
    // A port nobody listens on: bind an ephemeral port, note it, close it.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    const std::uint16_t port = ntohs(addr.sin_port);
    Config cfg = resilient_config(ws_url(port));
    cfg.retry_count = 2;
    cfg.retry_delay = 50ms;
    cfg.max_backoff = 100ms;
    auto log = std::make_shared<Log>();
    auto t0 = Clock::now();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::connection_refused) << r.error().explain();
    EXPECT_LT(ms_of(Clock::now() - t0), 5000);
    EXPECT_EQ(log->count(ObsEvent::attempt), 3) << log->describe();
    EXPECT_EQ(log->count(ObsEvent::exhausted), 1);
}

// ---- stale timers ------------------------------------------------------------------------------------------

TEST(ResilienceTimers, NoExtraAttemptAfterRecovery) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, resilient_config(""))) << pc.error;
    Client& c = *pc.client;
    auto since = Clock::now();
    ASSERT_TRUE(pc.proxy->refuse(true));
    ASSERT_TRUE(pc.proxy->reset());
    // Several refused attempts, so a retry timer is armed when the link comes back.
    ASSERT_TRUE(pc.log->wait_count(ObsEvent::failed, 3, 5s, since)) << pc.log->describe();
    ASSERT_TRUE(pc.proxy->refuse(false));
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s)) << pc.log->describe();
    const int accepted = pc.proxy->count();
    const int attempts = pc.log->count(ObsEvent::attempt);
    // Longer than the largest backoff step (400 ms), twice over: a stale timer would have fired by now.
    std::this_thread::sleep_for(1000ms);
    EXPECT_EQ(pc.proxy->count(), accepted);
    EXPECT_EQ(pc.log->count(ObsEvent::attempt), attempts) << pc.log->describe();
    EXPECT_EQ(pc.log->count(ObsEvent::scheduled, since), pc.log->count(ObsEvent::attempt, since));
    EXPECT_EQ(c.state(), State::connected);
    EXPECT_EQ(c.counters().reconnects, 1u);
    EXPECT_EQ(pc.proxy->active(), 1);
    ASSERT_TRUE(c.send_text("still-here").ok());
    EXPECT_TRUE(pc.log->wait_message("still-here", 5s));
}

TEST(ResilienceTimers, OneSocketCloseCausesExactlyOneReconnect) {
    if (interpreter_missing(false)) GTEST_SKIP() << "python3 not installed";
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(false, resilient_config(""))) << pc.error;
    Client& c = *pc.client;
    for (int round = 1; round <= 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        auto since = Clock::now();
        const int before = pc.proxy->count();
        ASSERT_TRUE(round % 2 ? pc.proxy->close_all() : pc.proxy->reset());
        ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s, since)) << pc.log->describe();
        std::this_thread::sleep_for(500ms);  // past any (stale) timer of this round
        EXPECT_EQ(pc.proxy->count(), before + 1);
        EXPECT_EQ(pc.proxy->active(), 1);
        EXPECT_EQ(pc.log->count(ObsEvent::attempt, since), 1) << pc.log->describe();
        EXPECT_EQ(pc.log->count(ObsEvent::disconnected, since), 1);
        EXPECT_EQ(c.counters().reconnects, static_cast<std::uint64_t>(round));
    }
    ASSERT_TRUE(c.send_text("end").ok());
    EXPECT_TRUE(pc.log->wait_message("end", 5s));
}

// ---- user close while reconnecting ----------------------------------------------------------------------------

TEST(ResilienceClose, UserCloseDuringReconnectStopsRetrying) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    Config cfg = resilient_config("");
    cfg.send_policy = SendPolicy::buffer;
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, cfg)) << pc.error;
    Client& c = *pc.client;
    auto since = Clock::now();
    ASSERT_TRUE(pc.proxy->refuse(true));
    ASSERT_TRUE(pc.proxy->reset());
    ASSERT_TRUE(pc.log->wait_count(ObsEvent::failed, 2, 5s, since)) << pc.log->describe();
    constexpr int n = 5;
    auto comps = std::make_shared<Completions>(n);
    for (int i = 0; i < n; ++i) EXPECT_TRUE(c.send_text("cl-" + std::to_string(i), comps->callback(i)).ok());

    EXPECT_TRUE(c.close_and_wait(3s));
    EXPECT_EQ(c.state(), State::closed);
    ASSERT_TRUE(comps->wait_all(2s)) << comps->completed() << " of " << n;
    const int attempts = pc.log->count(ObsEvent::attempt);
    const int accepted = pc.proxy->count();
    ASSERT_TRUE(pc.proxy->refuse(false));
    std::this_thread::sleep_for(700ms);  // past the largest backoff step: a live retry timer would fire
    EXPECT_EQ(pc.log->count(ObsEvent::attempt), attempts) << pc.log->describe();
    EXPECT_EQ(pc.proxy->count(), accepted);
    EXPECT_EQ(c.state(), State::closed);
    {
        std::lock_guard lk(comps->mu);
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(comps->calls[i].size(), 1u) << "completion " << i;
            EXPECT_EQ(comps->calls[i][0].code, Errc::closed_by_user) << i;
        }
    }
    auto ts = pc.log->transitions_snapshot();
    ASSERT_FALSE(ts.empty());
    EXPECT_EQ(ts.back().from, State::reconnecting);
    EXPECT_EQ(ts.back().to, State::closed);
    auto st = c.send_text("late");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::closed_by_user);
}

// DNS failure: see dns_failure_test.cpp (runs the tool in a mount namespace whose resolver is on loopback).

}  // namespace
}  // namespace zenws::test
