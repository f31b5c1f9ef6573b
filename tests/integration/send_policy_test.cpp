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
