// demo_command.cpp — `zenws demo`, the tool's built-in default: an offline story of supervised connections
// surviving failures. Starts two mock exchanges in-process (Deribit and Binance dialects on 127.0.0.1), a
// ClientSupervisor with --clients Deribit clients (each with a deribit::Adapter installed: auth, set_heartbeat,
// ticker subscription) and a binance::StreamAdapter, keeps balanced JSON-RPC requests flowing from a background
// thread, injects a seeded schedule of faults (dropped connection, silent server, throwing handler, exchange down
// for several restart windows, 10028 rate-limit burst) while the Binance mock rotates its connection, and ends
// with a summary and a list of invariants (exit 0 when every one holds, 4 otherwise).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tools/commands.hpp"
#include "tools/demo_console.hpp"
#include "zenws/venues/binance.hpp"
#include "zenws/venues/deribit.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/latency_stats.hpp"
#include "zenws/mock/exchange.hpp"
#include "zenws/runtime.hpp"

namespace zenws::tool {

void add_demo_options(CLI::App& app, DemoOptions& o) {
    app.add_option("--duration", o.duration_s, "Seconds of scripted faults (default 40; 8..10 in CI)")
        ->check(CLI::Range(4, 3600));
    app.add_option("--clients", o.clients, "Supervised Deribit clients (default 3)")->check(CLI::Range(1, 32));
    app.add_option("--seed", o.seed, "Seed of the fault schedule (order and timing jitter)");
    app.add_flag("--jsonl", o.jsonl, "Every event and the summary as JSON lines on stdout");
}

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum class FaultKind { drop, silence, handler_throw, exchange_down, rate_limit, rotation };

const char* fault_name(FaultKind k) {
    switch (k) {
        case FaultKind::drop: return "dropped_connection";
        case FaultKind::silence: return "silent_server";
        case FaultKind::handler_throw: return "handler_throws";
        case FaultKind::exchange_down: return "exchange_down";
        case FaultKind::rate_limit: return "rate_limit_10028";
        case FaultKind::rotation: return "binance_rotation";
    }
    return "?";
}

struct Fault {
    FaultKind kind;
    double at_s = 0;             // planned, seconds since start
    double injected_s = -1;      // actual
    std::string what;
    std::vector<int> targets;    // Deribit client indices (empty: Binance)
    std::vector<int> phase;      // per target: 0 waiting for the disconnect, 1 waiting for the connect, 2 recovered
    std::vector<double> down_s, up_s;
    bool injected() const { return injected_s >= 0; }
    bool recovered() const {
        return injected() && std::all_of(phase.begin(), phase.end(), [](int p) { return p == 2; });
    }
    double reconnect_s() const {  // from the fault to the last target connected again
        double m = 0;
        for (double u : up_s) m = std::max(m, u - injected_s);
        return m;
    }
};

struct DemoClient {
    int index = 0;
    std::string name;
    std::shared_ptr<deribit::Adapter> adapter;
    ClientHandle handle;
    std::atomic<std::uint64_t> ticks{0};
    std::atomic<std::uint64_t> connects{0}, disconnects{0};
    std::atomic<bool> throw_next{false};
    std::atomic<bool> connected{false};
    std::vector<double> disconnect_times;  // guarded by Demo::mutex
};

std::string fixed(double v, int digits = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

struct Demo {
    DemoOptions opt;
    Clock::time_point t0 = Clock::now();
    std::unique_ptr<Console> console;
    std::mutex mutex;  // faults, disconnect times, failure reasons, latencies
    std::vector<std::unique_ptr<DemoClient>> clients;
    std::vector<Fault> faults;
    std::unique_ptr<mock::MockExchange> deribit_mock, binance_mock;
    std::unique_ptr<Runtime> runtime;
    std::unique_ptr<ClientSupervisor> pool;
    std::shared_ptr<binance::StreamAdapter> streams;

    // requests
    std::atomic<std::uint64_t> sent{0}, answered{0}, failed{0};
    std::map<std::string, std::uint64_t> failed_by_reason;
    std::vector<std::uint64_t> latencies_us;
    double last_answer_s = -1;
    std::atomic<std::uint64_t> unmatched{0};

    // binance
    std::atomic<std::uint64_t> binance_events{0};
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>> last_by_stream;  // stream -> (connection, id)
    std::map<std::string, std::int64_t> last_global_by_stream;
    std::uint64_t binance_dup_same_connection = 0, binance_id_regressions = 0;
    std::set<std::uint64_t> binance_connections_seen;
    std::atomic<std::uint64_t> adapter_events{0}, supervisor_restarts{0};

    double now_s() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }

    std::atomic<bool> finished{false};  // the summary is out: no more event lines
    void emit(const std::string& kind, const std::string& fields, const std::string& human) {
        if (finished) return;
        if (opt.jsonl) {
            std::string line = "{\"event\":\"" + kind + "\",\"t\":" + fixed(now_s(), 3);
            if (!fields.empty()) line += "," + fields;
            line += "}";
            console->line(line);
        } else if (!human.empty()) {
            char prefix[32];
            std::snprintf(prefix, sizeof prefix, "[%6.2fs] ", now_s());
            console->line(prefix + human);
        }
    }

    // ---- lifecycle of Deribit clients -------------------------------------------------------------------------
    void on_connect(int i) {
        auto& c = *clients[i];
        c.connected = true;
        ++c.connects;
        double t = now_s();
        {
            std::lock_guard lock(mutex);
            for (auto& f : faults) {
                if (!f.injected()) continue;
                for (std::size_t k = 0; k < f.targets.size(); ++k) {
                    if (f.targets[k] == i && f.phase[k] == 1) {
                        f.phase[k] = 2;
                        f.up_s[k] = t;
                    }
                }
            }
        }
        if (c.connects > 1) {
            emit("connected", "\"client\":" + json_quote(c.name), c.name + " connected again");
        } else {
            emit("connected", "\"client\":" + json_quote(c.name), c.name + " connected");
        }
    }

    void on_disconnect(int i) {
        auto& c = *clients[i];
        c.connected = false;
        ++c.disconnects;
        double t = now_s();
        Error why = c.handle.valid() && c.handle.client().valid() ? c.handle.client().last_error() : Error();
        {
            std::lock_guard lock(mutex);
            c.disconnect_times.push_back(t);
            for (auto& f : faults) {
                if (!f.injected() || t < f.injected_s) continue;
                for (std::size_t k = 0; k < f.targets.size(); ++k) {
                    if (f.targets[k] == i && f.phase[k] == 0) {
                        f.phase[k] = 1;
                        f.down_s[k] = t;
                    }
                }
            }
        }
        std::string reason = why ? std::string(why.name()) : "";
        emit("disconnected", "\"client\":" + json_quote(c.name) + ",\"reason\":" + json_quote(reason),
             c.name + " lost its connection" + (reason.empty() ? "" : " (" + reason + ")"));
    }

    // ---- requests ---------------------------------------------------------------------------------------------
    void send_one(std::uint64_t n) {
        JsonRpcRequest req = (n % 2 == 0) ? build_request("public/ticker", R"({"instrument_name":"BTC-PERPETUAL"})")
                                          : build_request("public/test", "{}");
        ++sent;
        auto started = Clock::now();
        BalancedOptions bo;
        bo.max_attempts = 3;
        bo.timeout = 2000ms;
        pool->send_balanced_async(std::move(req.text), bo, [this, started](Result<std::string> r) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
            std::lock_guard lock(mutex);
            if (r) {
                ++answered;
                latencies_us.push_back(static_cast<std::uint64_t>(us));
                last_answer_s = now_s();
            } else {
                ++failed;
                ++failed_by_reason[std::string(r.error().name())];
            }
        });
    }

    // ---- binance ----------------------------------------------------------------------------------------------
    void on_binance_event(const binance::Event& e) {
        ++binance_events;
        if (!e.id) return;
        std::lock_guard lock(mutex);
        std::string key = e.stream.empty() ? std::string(e.type) + "|" + std::string(e.symbol) : std::string(e.stream);
        binance_connections_seen.insert(e.connection);
        auto it = last_by_stream.find(key);
        if (it != last_by_stream.end() && it->second.first == e.connection && *e.id <= it->second.second) {
            ++binance_dup_same_connection;  // the same connection delivered an id twice / backwards
        }
        auto g = last_global_by_stream.find(key);
        if (g != last_global_by_stream.end() && *e.id <= g->second) ++binance_id_regressions;
        last_by_stream[key] = {e.connection, *e.id};
        last_global_by_stream[key] = *e.id;
    }
};

int run(Demo& d) {
    const DemoOptions& o = d.opt;
    const int n = o.clients;
    const double D = o.duration_s;
    const bool live = !o.jsonl && Console::is_terminal(stdout);
    d.console = std::make_unique<Console>(live, stdout, stdout);

    // Never hang: whatever happens, the process ends within duration + 25 s.
    std::thread([D] {
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>((D + 25) * 1000)));
        std::fprintf(stderr, "zenws demo: watchdog: the demo did not finish in time\n");
        std::fflush(stdout);
        std::_Exit(4);
    }).detach();

    // ---- mock exchanges ---------------------------------------------------------------------------------------
    mock::MockExchangeOptions dm;
    dm.dialect = mock::DialectKind::deribit;
    dm.control_port = -1;
    dm.deribit.accounts.clear();
    for (int i = 1; i <= n; ++i) dm.deribit.accounts.push_back({"demo_" + std::to_string(i), "secret_" + std::to_string(i)});
    dm.deribit.min_heartbeat_interval_ms = 100;
    dm.deribit.notification_interval = 200ms;
    d.deribit_mock = std::make_unique<mock::MockExchange>(dm);

    // The Binance mock cuts every connection after `lifetime`, announcing it 1 s before (serverShutdown): set so that
    // the first rotation happens around the middle of the run (jittered by the seed) and the next one after the end.
    std::mt19937 rng(o.seed);
    std::uniform_real_distribution<double> jitter(-1.0, 1.0);
    double rotation_at = D * (0.45 + 0.05 * jitter(rng));
    mock::MockExchangeOptions bm;
    bm.dialect = mock::DialectKind::binance;
    bm.control_port = -1;
    bm.binance.ping_interval = 1000ms;
    bm.binance.pong_timeout = 3000ms;
    bm.binance.event_interval = 100ms;
    bm.binance.shutdown_notice = 1000ms;
    bm.binance.lifetime = std::chrono::milliseconds(static_cast<long>((rotation_at + 1.0) * 1000));
    d.binance_mock = std::make_unique<mock::MockExchange>(bm);

    if (auto st = d.deribit_mock->start(); !st) {
        std::fprintf(stderr, "zenws demo: cannot start the Deribit mock: %s\n", st.error().explain().c_str());
        return 1;
    }
    if (auto st = d.binance_mock->start(); !st) {
        std::fprintf(stderr, "zenws demo: cannot start the Binance mock: %s\n", st.error().explain().c_str());
        return 1;
    }
    d.emit("mock_started",
           "\"deribit\":" + json_quote(d.deribit_mock->url()) + ",\"binance\":" + json_quote(d.binance_mock->url()),
           "mock Deribit on " + d.deribit_mock->url() + ", mock Binance on " + d.binance_mock->url());

    // ---- the supervised Deribit pool --------------------------------------------------------------------------
    d.runtime = std::make_unique<Runtime>(2);
    ClientSupervisorOptions so;
    so.max_restarts = 30;
    so.max_time = 60s;
    so.backoff.base = 100ms;
    so.backoff.cap = 500ms;
    so.failed_retry_after = 1s;
    so.on_event = [&d](const SupervisorEvent& e) {
        std::string name = "child " + e.child_id;
        for (auto& c : d.clients)
            if (c->handle.valid() && std::to_string(c->handle.id()) == e.child_id) name = c->name;
        if (e.kind == SupervisorEvent::Kind::restart_scheduled) {
            ++d.supervisor_restarts;
            d.emit("restart_scheduled", "\"child\":" + json_quote(name) + ",\"delay_ms\":" +
                                            std::to_string(e.delay.count()),
                   "supervisor: restarting " + name + " in " + std::to_string(e.delay.count()) + " ms");
        } else if (e.kind == SupervisorEvent::Kind::child_exited && e.exit.is_abnormal()) {
            d.emit("child_crashed",
                   "\"child\":" + json_quote(name) + ",\"error\":" + json_quote(std::string(e.exit.error.name())),
                   "supervisor: " + name + " crashed (" + std::string(e.exit.error.name()) + ")");
        } else if (e.kind == SupervisorEvent::Kind::intensity_exceeded) {
            d.emit("child_parked", "\"child\":" + json_quote(name),
                   "supervisor: " + name + " over its restart intensity: parked");
        }
    };
    d.pool = std::make_unique<ClientSupervisor>(*d.runtime, so);

    for (int i = 0; i < n; ++i) {
        auto c = std::make_unique<DemoClient>();
        c->index = i;
        c->name = "deribit-" + std::to_string(i + 1);
        d.clients.push_back(std::move(c));
    }
    for (int i = 0; i < n; ++i) {
        DemoClient& c = *d.clients[i];
        deribit::AdapterOptions ao;
        ao.config.url = d.deribit_mock->url();
        ao.config.timeout = 1000ms;
        ao.config.retry_count = 2;
        ao.config.retry_delay = 100ms;
        ao.config.max_backoff = 400ms;
        ao.config.request_timeout = 2000ms;
        ao.config.close_timeout = 300ms;
        ao.credentials = deribit::Credentials{"demo_" + std::to_string(i + 1), "secret_" + std::to_string(i + 1)};
        ao.heartbeat_seconds = 0.25;        // the server's test_request every 250 ms; silence for 1 s = a dead link
        ao.local_rate_limit = false;        // so the burst below reaches the exchange's own limit (10028)
        ao.call_timeout = 2000ms;
        ao.runtime = d.runtime.get();
        ao.handlers.on_message = [&c](MessageView m) {
            if (m.channel.substr(0, 7) == "ticker.") ++c.ticks;
            if (c.throw_next.exchange(false)) throw std::runtime_error("demo: a bug in the message handler");
        };
        ao.handlers.on_unmatched_response = [&d](std::string_view) { ++d.unmatched; };
        ao.on_event = [&d, &c](const deribit::AdapterEvent& e) {
            ++d.adapter_events;
            if (e.kind == deribit::AdapterEvent::Kind::rate_limited) {
                d.emit("rate_limited", "\"client\":" + json_quote(c.name),
                       c.name + ": Deribit answered 10028 too_many_requests and closed the session");
            }
        };
        c.adapter = deribit::Adapter::create(std::move(ao));
        (void)c.adapter->subscribe({"ticker.BTC-PERPETUAL.100ms"});
        auto [config, handlers] = c.adapter->client_setup();
        ClientOptions co;
        co.handlers = handlers;
        co.on_connect = [&d, i](ClientHandle) { d.on_connect(i); };
        co.on_disconnect = [&d, i](ClientHandle) { d.on_disconnect(i); };
        co.await_connection = true;
        auto h = d.pool->start_client(config, co);
        if (!h) {
            std::fprintf(stderr, "zenws demo: %s could not connect: %s\n", c.name.c_str(),
                         h.error().explain().c_str());
            return 1;
        }
        c.handle = h.value();
    }

    // ---- Binance streams --------------------------------------------------------------------------------------
    binance::StreamOptions bo;
    {
        std::string u = d.binance_mock->url();  // ws://127.0.0.1:<port>/ws
        bo.base_url = u.substr(0, u.find('/', 5));
    }
    bo.combined = true;
    bo.lifetime = 0ms;                  // rotate on the server's notice
    bo.rotation_timeout = 2000ms;
    bo.server_ping_timeout = 3000ms;
    bo.config.timeout = 1000ms;
    bo.config.retry_count = 5;
    bo.config.retry_delay = 100ms;
    bo.config.max_backoff = 400ms;
    bo.config.close_timeout = 300ms;
    bo.runtime = d.runtime.get();
    bo.on_event = [&d](const binance::Event& e) { d.on_binance_event(e); };
    d.streams = binance::StreamAdapter::create(bo);
    (void)d.streams->subscribe({"btcusdt@aggTrade", "ethusdt@trade"});
    if (!d.streams->wait_ready(5s)) {
        std::fprintf(stderr, "zenws demo: the Binance stream client could not connect\n");
        return 1;
    }
    d.emit("binance_connected", "", "binance: stream client connected (btcusdt@aggTrade, ethusdt@trade)");

    // ---- the fault schedule (seeded) --------------------------------------------------------------------------
    std::vector<FaultKind> kinds{FaultKind::drop, FaultKind::silence, FaultKind::handler_throw,
                                 FaultKind::exchange_down, FaultKind::rate_limit};
    std::shuffle(kinds.begin(), kinds.end(), rng);
    const double slot = 0.75 * D / kinds.size();
    const double silence_len = 1.6;  // > the 1 s idle timeout the adapter derives from 0.25 s heartbeats
    const double down_len = std::max(1.2, 0.1 * D);  // several restart windows (~0.3 s each)
    {
        std::lock_guard lock(d.mutex);
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            Fault f;
            f.kind = kinds[k];
            f.at_s = 0.06 * D + slot * k + 0.15 * slot * jitter(rng);
            d.faults.push_back(f);
        }
        Fault r;
        r.kind = FaultKind::rotation;
        r.at_s = rotation_at;
        r.what = "Binance announces serverShutdown and cuts the connection 1 s later (connection lifetime)";
        d.faults.push_back(r);
    }
    std::uniform_int_distribution<int> pick(0, n - 1);
    std::vector<int> victims;
    for (std::size_t k = 0; k < kinds.size(); ++k) victims.push_back(pick(rng));
    {
        std::string plan;
        for (std::size_t k = 0; k < kinds.size(); ++k) plan += (k ? ", " : "") + std::string(fault_name(kinds[k])) + "@" + fixed(d.faults[k].at_s, 1) + "s";
        d.emit("schedule", "\"seed\":" + std::to_string(o.seed) + ",\"faults\":" + json_quote(plan),
               "fault schedule (seed " + std::to_string(o.seed) + "): " + plan + ", binance_rotation@~" +
                   fixed(rotation_at, 1) + "s");
    }

    // ---- requests: a steady flow from a background thread -----------------------------------------------------
    std::atomic<bool> stop_requests{false};
    std::thread requester([&d, &stop_requests] {
        std::uint64_t k = 0;
        auto next = Clock::now();
        while (!stop_requests.load()) {
            d.send_one(k++);
            next += 50ms;  // 20 requests/s
            std::this_thread::sleep_until(next);
        }
    });

    // ---- status: a live table on a terminal, periodic lines otherwise -----------------------------------------
    std::atomic<bool> stop_status{false};
    std::thread status([&d, &stop_status, live, D] {
        auto last_plain = Clock::now();
        const auto plain_every = std::chrono::milliseconds(static_cast<long>(std::clamp(D / 5, 2.0, 5.0) * 1000));
        while (!stop_status.load()) {
            std::this_thread::sleep_for(500ms);
            std::vector<std::string> rows;
            rows.push_back(status_header());
            std::string plain;
            for (auto& c : d.clients) {
                StatusRow r = status_row(c->name, c->handle);
                r.extra = "ticks " + std::to_string(c->ticks.load());
                rows.push_back(format_row(r));
                plain += " " + c->name + "=" + r.state + "/r" + std::to_string(r.restarts);
            }
            auto st = d.streams->stats();
            Client bc = d.streams->client(0);
            StatusRow br;
            br.name = "binance";
            br.state = bc.valid() ? std::string(to_string(bc.state())) : "-";
            if (bc.valid()) {
                auto m = bc.metrics();
                br.in = m.counters.messages_in;
                br.out = m.counters.messages_out;
                br.heartbeat_rtt_ms = static_cast<double>(m.heartbeat.last_rtt.count()) / 1000.0;
            }
            br.extra = "events " + std::to_string(st.delivered) + ", rotations " + std::to_string(st.rotations);
            rows.push_back(format_row(br));
            std::uint64_t s = d.sent, a = d.answered, f = d.failed;
            std::string req = "requests: sent " + std::to_string(s) + ", answered " + std::to_string(a) +
                              ", failed " + std::to_string(f) + ", in flight " + std::to_string(s - a - f);
            rows.push_back(req);
            d.console->table(rows);
            if (!live && Clock::now() - last_plain >= plain_every) {
                last_plain = Clock::now();
                if (d.opt.jsonl) {
                    d.emit("status", "\"sent\":" + std::to_string(s) + ",\"answered\":" + std::to_string(a) +
                                         ",\"failed\":" + std::to_string(f) + ",\"binance_events\":" +
                                         std::to_string(st.delivered),
                           "");
                } else {
                    d.emit("status", "", "status:" + plain + " binance=" + br.state + " | " + req);
                }
            }
        }
    });

    // ---- inject the faults on schedule ------------------------------------------------------------------------
    auto inject = [&](std::size_t idx) {
        Fault f;
        {
            std::lock_guard lock(d.mutex);
            f = d.faults[idx];
        }
        int v = victims[idx];
        for (int k = 0; k < n && d.clients[v]->handle.state() != State::connected; ++k) v = (v + 1) % n;
        DemoClient& c = *d.clients[v];
        std::vector<int> targets;
        std::string what;
        switch (f.kind) {
            case FaultKind::drop: {
                std::uint64_t conn = 0;
                for (const auto& cs : d.deribit_mock->status().connections) {
                    if (cs.session.client_id == "demo_" + std::to_string(v + 1)) conn = cs.id;
                }
                targets = {v};
                what = "the exchange drops " + c.name + "'s TCP connection (no close frame)";
                // Mark injected before acting so the disconnect is attributed to this fault.
                {
                    std::lock_guard lock(d.mutex);
                    auto& g = d.faults[idx];
                    g.injected_s = d.now_s();
                    g.targets = targets;
                    g.phase.assign(targets.size(), 0);
                    g.down_s.assign(targets.size(), 0);
                    g.up_s.assign(targets.size(), 0);
                    g.what = what;
                }
                if (conn == 0 || d.deribit_mock->drop(conn) == 0) what += " [no open connection to drop]";
                break;
            }
            default: break;
        }
        if (f.kind != FaultKind::drop) {
            switch (f.kind) {
                case FaultKind::silence:
                    for (int i = 0; i < n; ++i) targets.push_back(i);
                    what = "the Deribit exchange goes silent for " + fixed(silence_len, 1) +
                           " s: no heartbeats, no replies (half-open links)";
                    break;
                case FaultKind::handler_throw:
                    targets = {v};
                    what = c.name + "'s message handler throws";
                    break;
                case FaultKind::exchange_down:
                    for (int i = 0; i < n; ++i) targets.push_back(i);
                    what = "the Deribit exchange goes down for " + fixed(down_len, 1) +
                           " s (connections dropped, connects refused)";
                    break;
                case FaultKind::rate_limit:
                    targets = {v};
                    what = c.name + " fires a burst of 150 requests: Deribit answers 10028 and closes the session";
                    break;
                default: break;
            }
            {
                std::lock_guard lock(d.mutex);
                auto& g = d.faults[idx];
                g.injected_s = d.now_s();
                g.targets = targets;
                g.phase.assign(targets.size(), 0);
                g.down_s.assign(targets.size(), 0);
                g.up_s.assign(targets.size(), 0);
                g.what = what;
            }
            switch (f.kind) {
                case FaultKind::silence: d.deribit_mock->set_silence(true); break;
                case FaultKind::handler_throw: c.throw_next = true; break;
                case FaultKind::exchange_down:
                    d.deribit_mock->refuse_for(std::chrono::milliseconds(static_cast<long>(down_len * 1000)));
                    d.deribit_mock->drop(0);
                    break;
                case FaultKind::rate_limit: {
                    Client cl = c.handle.client();
                    for (int k = 0; k < 150 && cl.valid(); ++k) {
                        (void)cl.send_text(build_request(static_cast<std::int64_t>(9'000'000'000 + k + idx * 1000), "public/test", "{}").text);
                    }
                    break;
                }
                default: break;
            }
        }
        std::string field_targets;
        for (int t : targets) field_targets += (field_targets.empty() ? "" : ",") + json_quote(d.clients[t]->name);
        d.emit("fault", "\"fault\":\"" + std::string(fault_name(f.kind)) + "\",\"what\":" + json_quote(what) +
                            ",\"targets\":[" + field_targets + "]",
               "FAULT " + std::string(fault_name(f.kind)) + ": " + what);
    };

    bool silence_on = false;
    double silence_off_at = 0;
    std::uint64_t notices_seen = 0, rotations_seen = 0;
    const std::size_t injected_count = kinds.size();
    std::size_t next_fault = 0;
    // Faults run one at a time: the next one waits for its planned time AND for the previous one to have recovered
    // (every client connected again), at most 4 s, so reconnect times are attributed to the right fault. The loop
    // ends at the duration once every fault was injected (hard cap: duration + 4 s).
    double waiting_since = -1;
    while (d.now_s() < D || (next_fault < injected_count && d.now_s() < D + 4)) {
        double t = d.now_s();
        if (next_fault < injected_count) {
            double at;
            bool prev_ok = true;
            {
                std::lock_guard lock(d.mutex);
                at = d.faults[next_fault].at_s;
                if (next_fault > 0) prev_ok = d.faults[next_fault - 1].recovered();
            }
            bool all_up = std::all_of(d.clients.begin(), d.clients.end(),
                                      [](const auto& c) { return c->handle.state() == State::connected; });
            if (t >= at) {
                if (waiting_since < 0) waiting_since = t;
                bool ready = !silence_on && prev_ok && all_up;
                if (ready || t - waiting_since > 4.0) {
                    inject(next_fault);
                    if (kinds[next_fault] == FaultKind::silence) {
                        silence_on = true;
                        silence_off_at = d.now_s() + silence_len;
                    }
                    ++next_fault;
                    waiting_since = -1;
                }
            }
        }
        if (silence_on && d.now_s() >= silence_off_at) {
            d.deribit_mock->set_silence(false);
            silence_on = false;
            d.emit("fault_lifted", "\"fault\":\"silent_server\"", "the Deribit exchange speaks again");
        }
        auto st = d.streams->stats();
        if (st.shutdown_notices > notices_seen) {
            notices_seen = st.shutdown_notices;
            std::lock_guard lock(d.mutex);
            auto& r = d.faults.back();
            if (!r.injected()) r.injected_s = d.now_s();
        }
        if (st.rotations > rotations_seen) {
            rotations_seen = st.rotations;
            d.emit("rotation", "\"rotations\":" + std::to_string(st.rotations) + ",\"duplicates_dropped\":" +
                                   std::to_string(st.duplicates),
                   "binance: make-before-break rotation done (" + std::to_string(st.duplicates) +
                       " overlapping events dropped)");
            std::lock_guard lock(d.mutex);
            auto& r = d.faults.back();
            if (r.injected() && r.up_s.empty()) r.up_s.push_back(d.now_s());
        }
        std::this_thread::sleep_for(20ms);
    }
    if (silence_on) d.deribit_mock->set_silence(false);

    // ---- wind down: stop the requests, let every pending one complete, let the last faults recover -------------
    stop_requests = true;
    requester.join();
    d.emit("winding_down", "", "duration reached: waiting for in-flight requests and recoveries");
    auto deadline = Clock::now() + 8s;
    auto all_recovered = [&] {
        std::lock_guard lock(d.mutex);
        for (std::size_t k = 0; k < injected_count; ++k) {
            if (!d.faults[k].recovered()) return false;
        }
        return true;
    };
    while (Clock::now() < deadline) {
        bool requests_done = d.sent == d.answered + d.failed;
        bool clients_up = std::all_of(d.clients.begin(), d.clients.end(),
                                      [](const auto& c) { return c->handle.state() == State::connected; });
        if (requests_done && all_recovered() && clients_up) break;
        std::this_thread::sleep_for(50ms);
    }
    // Requests answered after the last fault recovered: the pool serves again.
    double last_recovery = 0;
    {
        std::lock_guard lock(d.mutex);
        for (std::size_t k = 0; k < injected_count; ++k)
            for (double u : d.faults[k].up_s) last_recovery = std::max(last_recovery, u);
    }
    bool served_after = false;
    if (std::all_of(d.clients.begin(), d.clients.end(), [](const auto& c) { return c->handle.state() == State::connected; })) {
        for (int k = 0; k < 5 && !served_after; ++k) {
            auto r = d.pool->send_balanced(build_request("public/test", "{}").text, BalancedOptions{3, {}, 2000ms});
            ++d.sent;
            std::lock_guard lock(d.mutex);
            if (r) {
                ++d.answered;
                served_after = true;
                d.last_answer_s = d.now_s();
            } else {
                ++d.failed;
                ++d.failed_by_reason[std::string(r.error().name())];
            }
        }
    }
    stop_status = true;
    status.join();
    d.console->finish();

    // ---- summary ----------------------------------------------------------------------------------------------
    d.finished = true;
    auto bstats = d.streams->stats();  // before taking our mutex: the adapter's event callback takes it
    std::lock_guard lock(d.mutex);
    std::stable_sort(d.faults.begin(), d.faults.end(), [](const Fault& x, const Fault& y) {
        double a = x.injected() ? x.injected_s : 1e9, b = y.injected() ? y.injected_s : 1e9;
        return a < b;
    });
    std::vector<std::uint64_t> lat = d.latencies_us;
    std::sort(lat.begin(), lat.end());
    double p50 = LatencyStats::percentile(lat, 500) / 1000.0, p99 = LatencyStats::percentile(lat, 990) / 1000.0;
    std::uint64_t ticks = 0;
    for (auto& c : d.clients) ticks += c->ticks;
    int restarts = 0;
    for (auto& c : d.clients) restarts += c->handle.restarts();

    struct Invariant {
        std::string name;
        bool pass;
        std::string detail;
    };
    std::vector<Invariant> inv;
    std::uint64_t s = d.sent, a = d.answered, f = d.failed;
    inv.push_back({"every request accounted for exactly once (sent == answered + failed)", s == a + f,
                   std::to_string(s) + " == " + std::to_string(a) + " + " + std::to_string(f)});
    inv.push_back({"requests were answered during the run", a > 0, std::to_string(a) + " answered"});
    for (const Fault& ft : d.faults) {
        if (ft.kind == FaultKind::rotation) continue;
        inv.push_back({std::string("recovered from ") + fault_name(ft.kind), ft.recovered(),
                       ft.recovered() ? "targets connected again after " + fixed(ft.reconnect_s()) + " s"
                                      : "a target did not reconnect"});
        if (ft.kind == FaultKind::handler_throw && ft.injected()) {
            double until = ft.recovered() ? ft.injected_s + ft.reconnect_s() + 0.3 : d.now_s();
            bool siblings_ok = true;
            for (auto& c : d.clients) {
                if (c->index == ft.targets[0]) continue;
                for (double t : c->disconnect_times)
                    if (t >= ft.injected_s && t <= until) siblings_ok = false;
            }
            inv.push_back({"a throwing handler only restarts its own client (siblings unaffected)", siblings_ok,
                           siblings_ok ? "no sibling disconnected" : "a sibling lost its connection"});
            inv.push_back({"the supervisor restarted the crashed client", d.clients[ft.targets[0]]->handle.restarts() > 0,
                           d.clients[ft.targets[0]]->name + " restarts " +
                               std::to_string(d.clients[ft.targets[0]]->handle.restarts())});
        }
    }
    bool all_up = std::all_of(d.clients.begin(), d.clients.end(), [](const auto& c) { return c->handle.state() == State::connected; });
    inv.push_back({"every Deribit client connected at the end", all_up, ""});
    inv.push_back({"the pool answers requests after the last recovery", served_after,
                   "last recovery at " + fixed(last_recovery) + " s"});
    bool ticks_all = std::all_of(d.clients.begin(), d.clients.end(), [](const auto& c) { return c->ticks > 0; });
    inv.push_back({"every Deribit client received ticks (subscriptions restored)", ticks_all, std::to_string(ticks) + " ticks"});
    inv.push_back({"Binance rotated its connection (make-before-break)", bstats.rotations >= 1,
                   std::to_string(bstats.rotations) + " rotation(s), " + std::to_string(bstats.shutdown_notices) +
                       " serverShutdown notice(s)"});
    bool exactly_once = d.binance_dup_same_connection == 0 &&
                        (bstats.sequence_resets > 0 || d.binance_id_regressions == 0);
    inv.push_back({"Binance events delivered exactly once (no duplicate event id)", exactly_once,
                   std::to_string(d.binance_events.load()) + " events, " + std::to_string(bstats.duplicates) +
                       " overlap duplicates dropped" +
                       (bstats.sequence_resets > 0 ? ", ids restart per connection on the mock (" +
                                                         std::to_string(bstats.sequence_resets) + " sequence reset)"
                                                   : "")});
    bool all_pass = std::all_of(inv.begin(), inv.end(), [](const Invariant& i) { return i.pass; });

    if (o.jsonl) {
        for (const auto& ft : d.faults) {
            double rec = ft.kind == FaultKind::rotation ? (ft.up_s.empty() ? -1 : ft.up_s[0] - ft.injected_s)
                                                        : (ft.recovered() ? ft.reconnect_s() : -1);
            d.console->line("{\"event\":\"fault_summary\",\"fault\":\"" + std::string(fault_name(ft.kind)) +
                            "\",\"at\":" + fixed(ft.injected_s, 3) + ",\"what\":" + json_quote(ft.what) +
                            ",\"recovered\":" + (rec >= 0 ? "true" : "false") +
                            ",\"reconnect_s\":" + fixed(rec, 3) + "}");
        }
        for (const auto& i : inv) {
            d.console->line("{\"event\":\"invariant\",\"name\":" + json_quote(i.name) + ",\"pass\":" +
                            (i.pass ? "true" : "false") + ",\"detail\":" + json_quote(i.detail) + "}");
        }
        std::string reasons;
        for (auto& [r, c] : d.failed_by_reason) reasons += (reasons.empty() ? "" : ",") + json_quote(r) + ":" + std::to_string(c);
        d.console->line("{\"event\":\"summary\",\"duration_s\":" + fixed(d.now_s(), 2) + ",\"seed\":" +
                        std::to_string(o.seed) + ",\"clients\":" + std::to_string(n) + ",\"faults\":" +
                        std::to_string(d.faults.size()) + ",\"restarts\":" + std::to_string(restarts) +
                        ",\"requests\":{\"sent\":" + std::to_string(s) + ",\"answered\":" + std::to_string(a) +
                        ",\"failed\":" + std::to_string(f) + ",\"failed_by_reason\":{" + reasons + "}}" +
                        ",\"latency_ms\":{\"p50\":" + fixed(p50, 3) + ",\"p99\":" + fixed(p99, 3) + "}" +
                        ",\"deribit_ticks\":" + std::to_string(ticks) + ",\"binance_events\":" +
                        std::to_string(d.binance_events.load()) + ",\"binance_rotations\":" +
                        std::to_string(bstats.rotations) + ",\"binance_duplicates_dropped\":" +
                        std::to_string(bstats.duplicates) + ",\"pass\":" + (all_pass ? "true" : "false") + "}");
    } else {
        std::string out;
        out += "\n=== zenws demo summary (seed " + std::to_string(o.seed) + ", " + fixed(d.now_s(), 1) + " s, " +
               std::to_string(n) + " Deribit clients + 1 Binance stream client) ===\n";
        out += "faults injected:\n";
        for (const auto& ft : d.faults) {
            std::string rec;
            if (ft.kind == FaultKind::rotation) {
                rec = ft.up_s.empty() ? "no rotation seen" : "rotated in " + fixed(ft.up_s[0] - ft.injected_s) + " s";
            } else if (ft.recovered()) {
                rec = "reconnected after " + fixed(ft.reconnect_s()) + " s";
            } else {
                rec = ft.injected() ? "NOT recovered" : "not injected";
            }
            char line[512];
            std::snprintf(line, sizeof line, "  %7s  %-19s %s -> %s\n",
                          ft.injected() ? (fixed(ft.injected_s, 2) + "s").c_str() : "-", fault_name(ft.kind),
                          ft.what.c_str(), rec.c_str());
            out += line;
        }
        out += "restarts by the supervisor: " + std::to_string(restarts) + " (";
        for (std::size_t i = 0; i < d.clients.size(); ++i)
            out += (i ? ", " : "") + d.clients[i]->name + " " + std::to_string(d.clients[i]->handle.restarts());
        out += ")\n";
        out += "requests: sent " + std::to_string(s) + ", answered " + std::to_string(a) + ", failed " +
               std::to_string(f);
        std::string reasons;
        for (auto& [r, c] : d.failed_by_reason) reasons += (reasons.empty() ? "" : ", ") + r + " " + std::to_string(c);
        if (!reasons.empty()) out += " (" + reasons + ")";
        out += "\nrequest latency: p50 " + fixed(p50) + " ms, p99 " + fixed(p99) + " ms\n";
        out += "messages: " + std::to_string(ticks) + " Deribit ticks, " + std::to_string(d.binance_events.load()) +
               " Binance events (" + std::to_string(bstats.rotations) + " rotation(s), " +
               std::to_string(bstats.duplicates) + " overlap duplicates dropped)\n";
        out += "invariants:\n";
        for (const auto& i : inv) {
            out += std::string("  ") + (i.pass ? "PASS " : "FAIL ") + i.name +
                   (i.detail.empty() ? "" : " — " + i.detail) + "\n";
        }
        out += all_pass ? "result: PASS (every invariant held)\n" : "result: FAIL (an invariant was broken)\n";
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    }
    return all_pass ? 0 : 4;
}

}  // namespace

int run_demo(const DemoOptions& options) {
    // Everything the connections' callbacks reference lives until the process exits (main leaves with _Exit):
    // shutdown never waits for a connection, so it is bounded.
    auto* demo = new Demo;
    demo->opt = options;
    int code = run(*demo);
    if (demo->streams) demo->streams->close();
    if (demo->pool) demo->pool->stop_all();
    std::this_thread::sleep_for(200ms);  // let the close frames go out
    return code;
}

}  // namespace zenws::tool
