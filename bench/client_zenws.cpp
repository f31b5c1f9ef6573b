// bench/client_zenws.cpp — zenws::Client, as an application would use it.
//
// Client::connect(cfg, handlers) on an owned one-thread Runtime. The echo loop runs in Handlers::on_message, which
// zenws calls on its I/O thread, so every send after the first is issued on that thread without a hand-off. The
// main thread only starts the run (first send, or the first window of sends) and then sleeps on a condition
// variable until the handler reports completion. Sends use the copying form (send_text/send_binary of a view).
// Reconnection and heartbeats are off so that nothing but the echo traffic is measured.
#include <zenws/client.hpp>
#include <zenws/config.hpp>
#include <zenws/runtime.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

struct State {
    const bench::Options* o = nullptr;
    zenws::Client client;
    std::string payload;
    std::vector<std::uint64_t> samples;
    bench::Meter m;
    std::uint64_t t_send = 0;
    // touched only on the I/O thread (after the main thread's priming, which happens-before via the send path)
    std::size_t handler_sent = 0, received = 0, rounds = 0;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::string failure;

    void send() {
        zenws::Status s = o->text() ? client.send_text(std::string_view(payload))
                                    : client.send_binary(std::string_view(payload));
        if (!s.ok()) bench::die("zenws send:", s.error().message.c_str());
    }

    void on_message(zenws::MessageView msg) {
        if (msg.data.size() != o->size) bench::die("echo size mismatch");
        if (o->mode == bench::Mode::rtt) {
            std::uint64_t now = bench::now_ns();
            ++rounds;
            if (rounds > o->warmup) samples.push_back(now - t_send);
            if (rounds == o->warmup) m.start();
            if (rounds == o->warmup + o->count) return finish();
            t_send = bench::now_ns();
            send();
            return;
        }
        ++received;
        if (received == o->count) return finish();
        if (o->window + handler_sent < o->count) {
            ++handler_sent;
            send();
        }
    }

    void finish() {
        m.stop();
        std::lock_guard lk(mu);
        done = true;
        cv.notify_all();
    }

    void fail(std::string why) {
        std::lock_guard lk(mu);
        if (!done) failure = std::move(why);
        done = true;
        cv.notify_all();
    }
};

State g;

zenws::Config make_config(const bench::Options& o) {
    zenws::Config cfg;
    cfg.url = "ws://" + o.host + ":" + std::to_string(o.port) + "/";
    cfg.retry_count = 0;
    cfg.reconnect_on_error = false;
    cfg.heartbeat.type = zenws::HeartbeatType::disabled;
    cfg.timeout = std::chrono::milliseconds(10000);
    return cfg;
}

zenws::Client connect(const bench::Options& o, zenws::Runtime& rt, zenws::Handlers h) {
    auto r = zenws::Client::connect(make_config(o), std::move(h), &rt);
    if (!r.ok()) bench::die("zenws connect:", r.error().message.c_str());
    return std::move(r).value();
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    g.o = &o;
    g.payload = bench::make_payload(o.size);
    zenws::Runtime rt(1);

    if (o.mode == bench::Mode::idle) {
        std::vector<zenws::Client> conns;
        conns.reserve(o.conns);
        conns.push_back(connect(o, rt, {}));
        bench::MemSnapshot first = bench::snapshot();
        while (conns.size() < o.conns) conns.push_back(connect(o, rt, {}));
        bench::MemSnapshot last = bench::snapshot();
        bench::report_idle("zenws", o, first, last, conns.size());
        std::_Exit(0);
    }

    if (o.mode == bench::Mode::rtt) g.samples.reserve(o.count);
    zenws::Handlers h;
    h.on_message = [](zenws::MessageView m) { g.on_message(m); };
    h.on_close = [](const zenws::CloseInfo& ci) { g.fail("connection closed: " + ci.reason); };
    h.on_error = [](const zenws::Error& e) { g.fail("error: " + e.message); };
    g.client = connect(o, rt, std::move(h));

    if (o.mode == bench::Mode::rtt) {
        if (o.warmup == 0) g.m.start();
        g.t_send = bench::now_ns();
        g.send();
    } else {
        g.m.start();
        std::size_t prime = std::min(o.window, o.count);
        for (std::size_t i = 0; i < prime; ++i) g.send();
    }
    {
        std::unique_lock lk(g.mu);
        if (!g.cv.wait_for(lk, std::chrono::seconds(300), [] { return g.done; })) bench::die("zenws: did not finish");
        if (!g.failure.empty()) bench::die("zenws:", g.failure.c_str());
    }
    if (o.mode == bench::Mode::rtt) bench::report_rtt("zenws", o, g.samples, g.m);
    else bench::report_rate("zenws", o, g.received, g.m);
    std::_Exit(0);
}
