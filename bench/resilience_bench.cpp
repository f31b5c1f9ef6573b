// bench/resilience_bench.cpp — owns the resilience benchmark of zenws::Client (a standalone executable, not a test).
// Everything runs on 127.0.0.1 against tests/servers/echo_node.js, with tests/servers/fault_proxy.py in front of it
// for the outage. Prints one small table per measurement:
//
//   1. reconnect time after a 1 s outage: kill = proxy `refuse on` + `reset`, restore = `refuse off` 1 s later; the
//      time from the kill until the client is `connected` again, for Config defaults and Config::low_latency
//      (goal: <= 1.3 s for low_latency; defaults: no later than the next backoff step after the server is back)
//   2. echo RTT p50/p99 with ping_pong heartbeats every 100 ms vs heartbeats off (one message in flight)
//   3. cost of Client::metrics(), heartbeat_health(), counters() and state() reads, ns per call, while a sender
//      thread keeps echo traffic flowing
//
//   zenws_resilience_bench [--runs N] [--rtt-count N] [--reads N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using zenws::Client;
using zenws::Config;
using zenws::State;

namespace {

struct Options {
    int runs = 3;          // outages per profile
    int rtt_count = 10000;  // timed round trips per heartbeat setting, one every ~200 us (spans many heartbeats)
    int reads = 1000000;    // metrics()/heartbeat_health() calls per measurement
};

double ms_since(Clock::time_point t0, Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - t0).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// Watches on_state for the next transition into `connected`.
struct StateWatch {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Clock::time_point> connected_at;
    int attempts = 0;

    zenws::Handlers handlers(const std::shared_ptr<StateWatch>& self) {
        zenws::Handlers h;
        h.on_state = [self](State, State to, const zenws::Error&) {
            if (to != State::connected) return;
            {
                std::lock_guard lk(self->mu);
                self->connected_at = Clock::now();
            }
            self->cv.notify_all();
        };
        h.on_message = [](zenws::MessageView) {};
        return h;
    }
    void arm() {
        std::lock_guard lk(mu);
        connected_at.reset();
    }
    std::optional<Clock::time_point> wait(std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        cv.wait_for(lk, timeout, [&] { return connected_at.has_value(); });
        return connected_at;
    }
};

// ---- 1. reconnect after a 1 s outage ---------------------------------------------------------------------------

struct OutageResult {
    std::vector<double> ms;  // kill -> connected, per run (negative = did not reconnect)
};

OutageResult measure_outage(zenws::test::FaultProxy& proxy, Config cfg, int runs) {
    OutageResult out;
    auto watch = std::make_shared<StateWatch>();
    auto r = Client::connect(cfg, watch->handlers(watch));
    if (!r.ok()) {
        std::fprintf(stderr, "connect: %s\n", r.error().explain().c_str());
        return out;
    }
    Client c = r.value();
    for (int i = 0; i < runs; ++i) {
        watch->arm();
        auto t0 = Clock::now();
        proxy.refuse(true);
        proxy.reset();
        std::this_thread::sleep_until(t0 + 1s);
        proxy.refuse(false);
        auto at = watch->wait(15s);
        out.ms.push_back(at ? ms_since(t0, *at) : -1.0);
        if (!at || c.state() != State::connected) {
            std::fprintf(stderr, "run %d: not reconnected (state %s)\n", i, std::string(zenws::to_string(c.state())).c_str());
            break;
        }
        std::this_thread::sleep_for(300ms);  // settle before the next outage
    }
    c.close_and_wait(2s);
    return out;
}

// Counts acknowledged heartbeats (metrics().ping_rtt only keeps the last latency_buffer_size samples).
struct AckCounter final : zenws::Observer {
    std::atomic<std::uint64_t> acks{0};
    void heartbeat_acknowledged(zenws::HeartbeatType, std::chrono::microseconds) override { ++acks; }
};

// ---- 2. echo RTT -----------------------------------------------------------------------------------------------

struct RttResult {
    double p50 = 0, p99 = 0, max = 0;
    std::size_t samples = 0;
    std::uint64_t pings = 0;
};

RttResult measure_rtt(std::uint16_t port, bool heartbeat, int count) {
    RttResult res;
    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    if (heartbeat) {
        cfg.heartbeat.type = zenws::HeartbeatType::ping_pong;
        cfg.heartbeat.interval = 100ms;
    }
    auto received = std::make_shared<std::atomic<std::uint64_t>>(0);
    zenws::Handlers h;
    h.on_message = [received](zenws::MessageView) { received->fetch_add(1, std::memory_order_release); };
    auto acks = std::make_shared<AckCounter>();
    h.observer = acks;
    auto r = Client::connect(cfg, h);
    if (!r.ok()) {
        std::fprintf(stderr, "connect: %s\n", r.error().explain().c_str());
        return res;
    }
    Client c = r.value();
    const std::string payload(64, 'x');
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(count));
    const int warmup = std::min(500, count / 5);
    for (int i = 0; i < warmup + count; ++i) {
        auto want = received->load(std::memory_order_acquire) + 1;
        auto t0 = Clock::now();
        if (!c.send_text(std::string_view(payload)).ok()) break;
        auto deadline = t0 + 2s;
        while (received->load(std::memory_order_acquire) < want && Clock::now() < deadline) std::this_thread::yield();
        if (received->load(std::memory_order_acquire) < want) break;
        if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        std::this_thread::sleep_until(t0 + 200us);  // pace: the run spans seconds, i.e. many 100 ms heartbeats
    }
    res.samples = us.size();
    res.p50 = percentile(us, 50);
    res.p99 = percentile(us, 99);
    res.max = us.empty() ? 0 : *std::max_element(us.begin(), us.end());
    res.pings = acks->acks.load();
    c.close_and_wait(2s);
    return res;
}

// ---- 3. cost of the read-side API while traffic flows ------------------------------------------------------------

template <class F>
double ns_per_call(int n, F&& f) {
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) f();
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

struct ReadCost {
    double metrics_ns = 0, health_ns = 0, counters_ns = 0, state_ns = 0;
    std::uint64_t echoes = 0;
};

ReadCost measure_reads(std::uint16_t port, int n) {
    ReadCost rc;
    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    cfg.heartbeat.type = zenws::HeartbeatType::ping_pong;
    cfg.heartbeat.interval = 100ms;
    auto received = std::make_shared<std::atomic<std::uint64_t>>(0);
    zenws::Handlers h;
    h.on_message = [received](zenws::MessageView) { received->fetch_add(1, std::memory_order_release); };
    auto r = Client::connect(cfg, h);
    if (!r.ok()) {
        std::fprintf(stderr, "connect: %s\n", r.error().explain().c_str());
        return rc;
    }
    Client c = r.value();
    std::atomic<bool> stop{false};
    std::thread sender([&] {  // keeps up to 64 echoes in flight
        const std::string payload(64, 'y');
        std::uint64_t sent = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (sent - received->load(std::memory_order_acquire) < 64) {
                if (c.send_text(std::string_view(payload)).ok()) ++sent;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::this_thread::sleep_for(200ms);
    volatile std::size_t sink = 0;
    auto before = received->load();
    rc.metrics_ns = ns_per_call(n, [&] { sink = sink + c.metrics().counters.messages_in; });
    rc.health_ns = ns_per_call(n, [&] { sink = sink + static_cast<std::size_t>(c.heartbeat_health().total_failures); });
    rc.counters_ns = ns_per_call(n, [&] { sink = sink + c.counters().messages_in; });
    rc.state_ns = ns_per_call(n, [&] { sink = sink + static_cast<std::size_t>(c.state()); });
    rc.echoes = received->load() - before;
    stop = true;
    sender.join();
    c.close_and_wait(2s);
    return rc;
}

void print_outage_row(const char* name, const OutageResult& r, const char* goal) {
    std::string runs;
    double worst = 0;
    bool all_ok = !r.ms.empty();
    for (double v : r.ms) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.0f", runs.empty() ? "" : " ", v);
        runs += b;
        if (v < 0) all_ok = false;
        worst = std::max(worst, v);
    }
    std::printf("| %-12s | %-24s | %8.0f | %-52s |\n", name, runs.c_str(), all_ok ? worst : -1.0, goal);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--runs")) o.runs = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rtt-count")) o.rtt_count = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--reads")) o.reads = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: %s [--runs N] [--rtt-count N] [--reads N]\n", argv[0]);
            return 2;
        }
    }
    std::string err;
    auto server = zenws::test::start_node_server("echo_node.js", {}, &err);
    if (!server) {
        std::fprintf(stderr, "echo server: %s\n", err.c_str());
        return 1;
    }
    auto proxy = zenws::test::FaultProxy::start("127.0.0.1", server->port(), &err);
    if (!proxy) {
        std::fprintf(stderr, "fault proxy: %s\n", err.c_str());
        return 1;
    }
    const std::string via_proxy = "ws://127.0.0.1:" + std::to_string(proxy->port()) + "/";

    std::printf("## reconnect after a 1 s outage (kill = refuse on + reset, restore = refuse off at +1000 ms)\n\n");
    std::printf("| profile      | kill -> connected, ms    | worst ms | goal                                                 |\n");
    std::printf("|--------------|--------------------------|----------|------------------------------------------------------|\n");
    Config defaults;
    defaults.url = via_proxy;
    print_outage_row("defaults", measure_outage(*proxy, defaults, o.runs),
                     "next step after +1000 ms: 0, 750-1000, +1500-2000");
    print_outage_row("low_latency", measure_outage(*proxy, Config::low_latency(via_proxy), o.runs), "<= 1300");

    std::printf("\n## echo RTT, 64 B text, one in flight, %d round trips paced 200 us apart (node ws, no proxy)\n\n",
                o.rtt_count);
    std::printf("| heartbeat          | samples | p50 us | p99 us | max us | pongs during run |\n");
    std::printf("|--------------------|---------|--------|--------|--------|------------------|\n");
    for (bool hb : {false, true}) {
        auto r = measure_rtt(server->port(), hb, o.rtt_count);
        std::printf("| %-18s | %7zu | %6.1f | %6.1f | %6.0f | %16llu |\n", hb ? "ping_pong 100 ms" : "off", r.samples,
                    r.p50, r.p99, r.max, static_cast<unsigned long long>(r.pings));
    }

    std::printf("\n## read-side cost while echo traffic flows (%d calls each)\n\n", o.reads);
    auto rc = measure_reads(server->port(), o.reads);
    std::printf("| call               | ns/call |\n");
    std::printf("|--------------------|---------|\n");
    std::printf("| metrics()          | %7.1f |\n", rc.metrics_ns);
    std::printf("| heartbeat_health() | %7.1f |\n", rc.health_ns);
    std::printf("| counters()         | %7.1f |\n", rc.counters_ns);
    std::printf("| state()            | %7.1f |\n", rc.state_ns);
    std::printf("\n(echoes during the read measurements: %llu)\n", static_cast<unsigned long long>(rc.echoes));
    return 0;
}
