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
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/telemetry.hpp"

namespace zenws::test {
namespace {

// ---- shared helpers (each resilience test file carries its own copy: no new shared header) ------------------

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

template <class D>
long long ms_of(D d) {
    return std::chrono::duration_cast<milliseconds>(d).count();
}

// One observer event, as the client reported it.
struct ObsEvent {
    enum Kind { attempt, connected, failed, disconnected, scheduled, exhausted, hb_sent, hb_ack, hb_missed } kind;
    Clock::time_point at;
    int n = 0;                  // attempt number / reconnect_scheduled attempt / consecutive heartbeat failures
    milliseconds delay{0};      // reconnect_scheduled
    Error error;                // connect_failed / disconnected cause / retries_exhausted
};

struct Transition {
    State from, to;
    Error cause;
    Clock::time_point at;
};

// Records everything the client tells us (observer, on_state, on_close, on_message) with timestamps; the test thread
// waits on it with deadlines. Handlers run on the I/O thread, so every access takes the lock.
class Log final : public Observer {
public:
    std::mutex mu;
    std::condition_variable cv;
    std::vector<ObsEvent> events;
    std::vector<Transition> transitions;
    std::vector<CloseInfo> closes;
    std::vector<std::string> messages;  // text (and binary) messages received, in order

    static Handlers handlers(const std::shared_ptr<Log>& log) {
        Handlers h;
        h.observer = log;
        h.on_state = [log](State from, State to, const Error& cause) {
            log->push([&] { log->transitions.push_back({from, to, cause, Clock::now()}); });
        };
        h.on_close = [log](const CloseInfo& c) { log->push([&] { log->closes.push_back(c); }); };
        h.on_message = [log](MessageView m) { log->push([&] { log->messages.emplace_back(m.data); }); };
        return h;
    }

    // Observer
    void connect_attempt(std::string_view, int attempt) override { add(ObsEvent::attempt, attempt); }
    void connected(std::string_view, std::chrono::microseconds) override { add(ObsEvent::connected); }
    void connect_failed(std::string_view, const Error& e) override { add(ObsEvent::failed, 0, {}, e); }
    void disconnected(const CloseInfo&, const Error& cause) override { add(ObsEvent::disconnected, 0, {}, cause); }
    void reconnect_scheduled(int attempt, milliseconds delay) override { add(ObsEvent::scheduled, attempt, delay); }
    void retries_exhausted(const Error& e) override { add(ObsEvent::exhausted, 0, {}, e); }
    void heartbeat_sent(HeartbeatType) override { add(ObsEvent::hb_sent); }
    void heartbeat_acknowledged(HeartbeatType, std::chrono::microseconds) override { add(ObsEvent::hb_ack); }
    void heartbeat_missed(HeartbeatType, int n) override { add(ObsEvent::hb_missed, n); }

    // Waits (bounded) until pred() holds; pred runs under the lock.
    template <class P>
    bool wait(milliseconds timeout, P pred) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, pred);
    }
    int count(ObsEvent::Kind k, Clock::time_point since = {}) {
        std::lock_guard lk(mu);
        return count_locked(k, since);
    }
    int count_locked(ObsEvent::Kind k, Clock::time_point since = {}) const {
        int n = 0;
        for (const auto& e : events) n += (e.kind == k && e.at >= since) ? 1 : 0;
        return n;
    }
    bool has_transition_locked(State from, State to, Clock::time_point since = {}) const {
        for (const auto& t : transitions)
            if (t.from == from && t.to == to && t.at >= since) return true;
        return false;
    }
    bool wait_transition(State from, State to, milliseconds timeout, Clock::time_point since = {}) {
        return wait(timeout, [&] { return has_transition_locked(from, to, since); });
    }
    std::optional<Transition> find_transition(State from, State to) {
        std::lock_guard lk(mu);
        for (const auto& t : transitions)
            if (t.from == from && t.to == to) return t;
        return std::nullopt;
    }
    bool wait_count(ObsEvent::Kind k, int n, milliseconds timeout, Clock::time_point since = {}) {
        return wait(timeout, [&] { return count_locked(k, since) >= n; });
    }
    bool wait_message(const std::string& text, milliseconds timeout) {
        return wait(timeout, [&] { return std::find(messages.begin(), messages.end(), text) != messages.end(); });
    }
    std::vector<ObsEvent> snapshot() {
        std::lock_guard lk(mu);
        return events;
    }
    std::vector<Transition> transitions_snapshot() {
        std::lock_guard lk(mu);
        return transitions;
    }
    std::vector<std::string> messages_snapshot() {
        std::lock_guard lk(mu);
        return messages;
    }
    std::string describe() {
        std::lock_guard lk(mu);
        std::string s;
        Clock::time_point t0 = events.empty() ? Clock::now() : events.front().at;
        static const char* names[] = {"attempt", "connected", "failed", "disconnected", "scheduled",
                                      "exhausted", "hb_sent", "hb_ack", "hb_missed"};
        for (const auto& e : events) {
            if (e.kind == ObsEvent::hb_sent || e.kind == ObsEvent::hb_ack) continue;
            s += "  +" + std::to_string(ms_of(e.at - t0)) + "ms " + names[e.kind] + " n=" + std::to_string(e.n);
            if (e.kind == ObsEvent::scheduled) s += " delay=" + std::to_string(e.delay.count());
            if (e.error) s += " " + std::string(e.error.name()) + " (" + e.error.message + ")";
            s += "\n";
        }
        for (const auto& t : transitions) {
            s += "  state " + std::string(to_string(t.from)) + " -> " + std::string(to_string(t.to)) + " cause " +
                 std::string(t.cause.name()) + "\n";
        }
        return s;
    }

private:
    template <class F>
    void push(F&& f) {
        {
            std::lock_guard lk(mu);
            f();
        }
        cv.notify_all();
    }
    void add(ObsEvent::Kind k, int n = 0, milliseconds delay = {}, Error e = {}) {
        push([&] { events.push_back(ObsEvent{k, Clock::now(), n, delay, std::move(e)}); });
    }
};

// Completion bookkeeping for sends and requests: every callback must run exactly once.
struct Completions : std::enable_shared_from_this<Completions> {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::vector<Error>> calls;  // per message: every completion it got
    std::vector<Clock::time_point> first_at;

    explicit Completions(std::size_t n) : calls(n), first_at(n) {}
    SendCallback callback(std::size_t i) {
        return [self = shared_from_this(), i](const Error& e) { self->record(i, e); };
    }
    Client::ReplyCallback reply_callback(std::size_t i) {
        return [self = shared_from_this(), i](Result<std::string> r) { self->record(i, r.ok() ? Error() : r.error()); };
    }
    void record(std::size_t i, const Error& e) {
        {
            std::lock_guard lk(mu);
            calls[i].push_back(e);
            if (calls[i].size() == 1) first_at[i] = Clock::now();
        }
        cv.notify_all();
    }
    template <class P>
    bool wait(milliseconds timeout, P pred) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, pred);
    }
    bool wait_all(milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] {
            for (auto& c : calls)
                if (c.empty()) return false;
            return true;
        });
    }
    std::size_t completed() {
        std::lock_guard lk(mu);
        std::size_t n = 0;
        for (auto& c : calls) n += c.empty() ? 0 : 1;
        return n;
    }
};

std::string ws_url(std::uint16_t port, const std::string& path = "/") {
    return "ws://127.0.0.1:" + std::to_string(port) + path;
}

// A config that reconnects quickly and deterministically (no jitter) and keeps trying.
Config resilient_config(std::string url) {
    Config c;
    c.url = std::move(url);
    c.timeout = 1000ms;
    c.retry_count = 100;
    c.retry_delay = 100ms;
    c.max_backoff = 400ms;
    c.backoff_jitter = false;
    c.close_timeout = 300ms;
    return c;
}

// Starts an echo server (node ws or python websockets) on `port` (0 = any). A restart on the same port right after
// a kill is retried for a short, bounded while in case the port is not bindable at once.
std::unique_ptr<ChildProcess> start_echo(bool node, std::uint16_t port, std::string* err,
                                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args = std::move(extra);
    if (port != 0) {
        args.push_back("--port");
        args.push_back(std::to_string(port));
    }
    for (int i = 0; i < 10; ++i) {
        auto p = node ? start_node_server("echo_node.js", args, err) : start_python_server("echo_python.py", args, err);
        if (p || port == 0) return p;
        std::this_thread::sleep_for(100ms);
    }
    return nullptr;
}

// The echo server shared by the tests of this file (started on first use, lives until exit).
std::uint16_t shared_echo_port(bool node, std::string* err) {
    static std::mutex mu;
    static std::unique_ptr<ChildProcess> procs[2];
    std::lock_guard lk(mu);
    auto& p = procs[node ? 0 : 1];
    if (!p || !p->running()) p = start_echo(node, 0, err);
    return p ? p->port() : 0;
}

bool interpreter_missing(bool node) { return node ? node_path().empty() : python3_path().empty(); }

struct ProxiedClient {
    std::unique_ptr<FaultProxy> proxy;
    std::shared_ptr<Log> log = std::make_shared<Log>();
    std::optional<Client> client;
    std::string error;

    // Proxy in front of the shared echo server of this kind, client connected through it.
    bool start(bool node, Config cfg) {
        auto port = shared_echo_port(node, &error);
        if (port == 0) return false;
        proxy = FaultProxy::start("127.0.0.1", port, &error);
        if (!proxy) return false;
        cfg.url = ws_url(proxy->port());
        auto r = Client::connect(cfg, Log::handlers(log));
        if (!r.ok()) {
            error = r.error().explain();
            return false;
        }
        client = r.value();
        return true;
    }
    ~ProxiedClient() {
        if (client) client->close_and_wait(3s);
    }
};

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
