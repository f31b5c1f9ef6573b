// heartbeat_test.cpp — owns the integration tests of the client's liveness checks (src/io/client.cpp heartbeats and
// idle timeout) against real servers on 127.0.0.1:
//   * a half-open link (fault proxy `blackhole both`) found by ping_pong heartbeats: closed with heartbeat_timeout
//     after failure_threshold misses, reconnects once the blackhole is off; heartbeat_health() before and after
//   * a server that stops answering pings (echo servers' "!nopong"): closed after the threshold, reconnected
//   * server_ping: a python websockets server pinging every 200 ms keeps the client healthy; a server that never
//     pings is a failure
//   * idle_timeout: a silent link is closed and reconnected; pongs count as traffic
// Timing is asserted only within generous bounds; every wait is bounded.
#include <gtest/gtest.h>

#include <algorithm>
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

Config ping_pong_config(milliseconds interval, int threshold = 2) {
    Config cfg = resilient_config("");
    cfg.heartbeat.type = HeartbeatType::ping_pong;
    cfg.heartbeat.interval = interval;
    cfg.heartbeat.failure_threshold = threshold;
    return cfg;
}

// ---- half-open link ---------------------------------------------------------------------------------------

TEST(HeartbeatHalfOpen, BlackholeFoundByPingPongThenRecovers) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    Config cfg = ping_pong_config(200ms, 2);
    cfg.timeout = 400ms;  // attempts into the blackhole time out quickly
    ProxiedClient pc;
    ASSERT_TRUE(pc.start(true, cfg)) << pc.error;
    Client& c = *pc.client;

    ASSERT_TRUE(pc.log->wait_count(ObsEvent::hb_ack, 2, 3s)) << pc.log->describe();
    HeartbeatHealth h = c.heartbeat_health();
    EXPECT_EQ(h.type, HeartbeatType::ping_pong);
    EXPECT_TRUE(h.active);
    EXPECT_TRUE(h.last_heartbeat_at.has_value());
    EXPECT_EQ(h.consecutive_failures, 0);
    EXPECT_EQ(h.total_failures, 0u);
    EXPECT_GT(h.last_rtt.count(), 0);
    EXPECT_GE(c.metrics().ping_rtt.count, 2u);

    auto since = Clock::now();
    ASSERT_TRUE(pc.proxy->blackhole("both"));
    ASSERT_TRUE(pc.log->wait_transition(State::connected, State::reconnecting, 5s)) << pc.log->describe();
    auto t = pc.log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::heartbeat_timeout) << t->cause.explain();
    // two missed pings: more than one interval, well under the OS's minutes
    EXPECT_GE(ms_of(t->at - since), 150);
    EXPECT_LT(ms_of(t->at - since), 3000);
    {
        std::lock_guard lk(pc.log->mu);
        std::vector<int> missed;
        for (auto& e : pc.log->events)
            if (e.kind == ObsEvent::hb_missed && e.at >= since) missed.push_back(e.n);
        EXPECT_EQ(missed, (std::vector<int>{1, 2}));
        ASSERT_EQ(pc.log->closes.size(), 1u);
    }
    // While the blackhole lasts, attempts reach the proxy but the upgrade never completes.
    ASSERT_TRUE(pc.log->wait_count(ObsEvent::failed, 1, 5s, since)) << pc.log->describe();
    EXPECT_EQ(c.state(), State::reconnecting);
    {
        std::lock_guard lk(pc.log->mu);
        for (auto& e : pc.log->events)
            if (e.kind == ObsEvent::failed && e.at >= since)
                EXPECT_EQ(e.error.code, Errc::connect_timeout) << e.error.explain();
    }

    auto off = Clock::now();
    ASSERT_TRUE(pc.proxy->blackhole("off"));
    ASSERT_TRUE(pc.log->wait_transition(State::reconnecting, State::connected, 5s)) << pc.log->describe();
    EXPECT_EQ(c.counters().reconnects, 1u);
    ASSERT_TRUE(pc.log->wait_count(ObsEvent::hb_ack, 1, 3s, off)) << "no heartbeat acknowledged after reconnecting";
    h = c.heartbeat_health();
    EXPECT_TRUE(h.active);
    EXPECT_EQ(h.consecutive_failures, 0);
    EXPECT_GE(h.total_failures, 2u);
    ASSERT_TRUE(c.send_text("alive").ok());
    EXPECT_TRUE(pc.log->wait_message("alive", 5s));
}

// ---- no pong ------------------------------------------------------------------------------------------------

class HeartbeatNoPong : public ::testing::TestWithParam<bool> {};  // param: node (true) / python (false)

TEST_P(HeartbeatNoPong, ClosesAfterThresholdAndReconnects) {
    const bool node = GetParam();
    if (interpreter_missing(node)) GTEST_SKIP() << "interpreter not installed";
    std::string err;
    auto port = shared_echo_port(node, &err);
    ASSERT_NE(port, 0) << err;
    Config cfg = ping_pong_config(200ms, 2);
    cfg.url = ws_url(port);
    auto log = std::make_shared<Log>();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(log->wait_count(ObsEvent::hb_ack, 1, 3s)) << log->describe();

    auto since = Clock::now();
    ASSERT_TRUE(c.send_text("!nopong").ok());  // this connection stops answering pings
    ASSERT_TRUE(log->wait_transition(State::connected, State::reconnecting, 5s)) << log->describe();
    auto t = log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::heartbeat_timeout) << t->cause.explain();
    EXPECT_GE(ms_of(t->at - since), 150);
    EXPECT_LT(ms_of(t->at - since), 3000);
    EXPECT_GE(log->count(ObsEvent::hb_missed, since), 2);

    // The new connection answers pings again.
    ASSERT_TRUE(log->wait_transition(State::reconnecting, State::connected, 5s)) << log->describe();
    EXPECT_EQ(c.counters().reconnects, 1u);
    auto back = Clock::now();
    ASSERT_TRUE(log->wait_count(ObsEvent::hb_ack, 2, 3s, back)) << log->describe();
    EXPECT_EQ(c.heartbeat_health().consecutive_failures, 0);
    EXPECT_EQ(c.state(), State::connected);
    EXPECT_EQ(log->count(ObsEvent::disconnected), 1);
    EXPECT_TRUE(c.close_and_wait(3s));
}

INSTANTIATE_TEST_SUITE_P(Peers, HeartbeatNoPong, ::testing::Values(true, false),
                         [](const auto& info) { return std::string(info.param ? "node" : "python"); });

// ---- server_ping ---------------------------------------------------------------------------------------------

TEST(HeartbeatServerPing, ServerPingsKeepTheClientHealthy) {
    if (interpreter_missing(false)) GTEST_SKIP() << "python3 not installed";
    std::string err;
    auto server = start_echo(false, 0, &err, {"--ping", "0.2"});  // websockets ping_interval = 0.2 s
    ASSERT_TRUE(server) << err;
    Config cfg = resilient_config(ws_url(server->port()));
    cfg.heartbeat.type = HeartbeatType::server_ping;
    cfg.heartbeat.interval = 600ms;
    cfg.heartbeat.failure_threshold = 2;
    auto log = std::make_shared<Log>();
    auto t0 = Clock::now();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(log->wait_count(ObsEvent::hb_ack, 4, 5s)) << log->describe();
    // Span at least three heartbeat ticks.
    auto left = 1900ms - (Clock::now() - t0);
    if (left > 0ms) std::this_thread::sleep_for(left);
    EXPECT_EQ(c.state(), State::connected);
    EXPECT_EQ(log->count(ObsEvent::disconnected), 0) << log->describe();
    EXPECT_EQ(log->count(ObsEvent::hb_missed), 0) << log->describe();
    HeartbeatHealth h = c.heartbeat_health();
    EXPECT_EQ(h.type, HeartbeatType::server_ping);
    EXPECT_TRUE(h.active);
    EXPECT_EQ(h.consecutive_failures, 0);
    EXPECT_EQ(h.total_failures, 0u);
    ASSERT_TRUE(h.last_heartbeat_at.has_value());
    EXPECT_LT(ms_of(Clock::now() - *h.last_heartbeat_at), 1000);
    EXPECT_TRUE(c.close_and_wait(3s));
}

TEST(HeartbeatServerPing, SilenceIsAFailure) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    std::string err;
    auto port = shared_echo_port(true, &err);  // node ws never pings on its own
    ASSERT_NE(port, 0) << err;
    Config cfg = resilient_config(ws_url(port));
    cfg.heartbeat.type = HeartbeatType::server_ping;
    cfg.heartbeat.interval = 300ms;
    cfg.heartbeat.failure_threshold = 2;
    auto log = std::make_shared<Log>();
    auto t0 = Clock::now();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(log->wait_transition(State::connected, State::reconnecting, 5s)) << log->describe();
    auto t = log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::heartbeat_timeout) << t->cause.explain();
    EXPECT_GE(ms_of(t->at - t0), 450);  // two whole intervals without a ping
    EXPECT_LT(ms_of(t->at - t0), 4000);
    EXPECT_GE(log->count(ObsEvent::hb_missed), 2);
    // The server is up: the client reconnects (and will fail the same way again, which is the point).
    ASSERT_TRUE(log->wait_transition(State::reconnecting, State::connected, 5s)) << log->describe();
    EXPECT_GE(c.counters().reconnects, 1u);
    EXPECT_GE(c.heartbeat_health().total_failures, 2u);
    EXPECT_TRUE(c.close_and_wait(3s));
}

// ---- idle timeout --------------------------------------------------------------------------------------------

TEST(HeartbeatIdle, SilentLinkIsClosedAndReconnected) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    std::string err;
    auto port = shared_echo_port(true, &err);
    ASSERT_NE(port, 0) << err;
    Config cfg = resilient_config(ws_url(port));
    cfg.idle_timeout = 400ms;  // no heartbeat: an echo server says nothing unless spoken to
    auto log = std::make_shared<Log>();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    auto t0 = Clock::now();
    Client c = r.value();
    ASSERT_TRUE(log->wait_transition(State::connected, State::reconnecting, 5s)) << log->describe();
    auto t = log->find_transition(State::connected, State::reconnecting);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->cause.code, Errc::heartbeat_timeout) << t->cause.explain();
    EXPECT_GE(ms_of(t->at - t0), 300);
    EXPECT_LT(ms_of(t->at - t0), 3000);
    ASSERT_TRUE(log->wait_transition(State::reconnecting, State::connected, 5s)) << log->describe();
    EXPECT_GE(c.counters().reconnects, 1u);
    EXPECT_TRUE(c.close_and_wait(3s));
}

TEST(HeartbeatIdle, PongsAndMessagesCountAsTraffic) {
    if (interpreter_missing(true)) GTEST_SKIP() << "node not installed";
    std::string err;
    auto port = shared_echo_port(true, &err);
    ASSERT_NE(port, 0) << err;
    Config cfg = ping_pong_config(100ms, 2);
    cfg.url = ws_url(port);
    cfg.idle_timeout = 500ms;
    auto log = std::make_shared<Log>();
    auto r = Client::connect(cfg, Log::handlers(log));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    std::this_thread::sleep_for(1500ms);  // three idle timeouts' worth, kept alive by pongs
    EXPECT_EQ(c.state(), State::connected);
    EXPECT_EQ(log->count(ObsEvent::disconnected), 0) << log->describe();
    EXPECT_GE(log->count(ObsEvent::hb_ack), 5);
    EXPECT_TRUE(c.close_and_wait(3s));
}

}  // namespace
}  // namespace zenws::test
