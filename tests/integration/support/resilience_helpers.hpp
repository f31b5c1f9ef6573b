// support/resilience_helpers.hpp — owns the helpers shared by the resilience-style integration tests
// (heartbeat_test.cpp, resilience_test.cpp, send_policy_test.cpp): a timestamped log of everything the client
// reports (Observer events, on_state transitions, on_close, on_message) with bounded waits, exactly-once completion
// bookkeeping for sends and requests, a quickly-reconnecting config, echo servers (started on demand, one of each
// kind shared by the tests) and a client connected through a FaultProxy.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/proxy.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/telemetry.hpp"

namespace zenws::test {

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

inline std::string ws_url(std::uint16_t port, const std::string& path = "/") {
    return "ws://127.0.0.1:" + std::to_string(port) + path;
}

// A config that reconnects quickly and deterministically (no jitter) and keeps trying.
inline Config resilient_config(std::string url) {
    Config c;
    c.url = std::move(url);
    c.timeout = 1000ms;
    c.retry_count = 100;
    c.retry_delay = 100ms;
    c.max_backoff = 400ms;
    c.backoff_jitter = false;
    c.close_timeout = 300ms;
    // These tests time the ladder after a connection that lived only as long as the test needed (ms to s): count
    // every upgrade as stable and drop the attempt floor, so the immediate retry they check stays immediate. The
    // flap guard has its own tests (flap_guard_test.cpp) with the defaults.
    c.stable_after = 0ms;
    c.min_attempt_interval = 0ms;
    return c;
}

// Starts an echo server (node ws or python websockets) on `port` (0 = any). A restart on the same port right after
// a kill is retried for a short, bounded while in case the port is not bindable at once.
inline std::unique_ptr<ChildProcess> start_echo(bool node, std::uint16_t port, std::string* err,
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

// The echo server of each kind shared by the tests that use it (started on first use, lives until exit).
inline std::uint16_t shared_echo_port(bool node, std::string* err) {
    static std::mutex mu;
    static std::unique_ptr<ChildProcess> procs[2];
    std::lock_guard lk(mu);
    auto& p = procs[node ? 0 : 1];
    if (!p || !p->running()) p = start_echo(node, 0, err);
    return p ? p->port() : 0;
}

inline bool interpreter_missing(bool node) { return node ? node_path().empty() : python3_path().empty(); }

// A FaultProxy in front of the shared echo server, and a client (recorded by a Log) connected through it.
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

}  // namespace zenws::test
