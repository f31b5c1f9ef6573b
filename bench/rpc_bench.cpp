// bench/rpc_bench.cpp — Google Benchmark of request correlation and rate limiting:
//   * id extraction: scan_json + IdRef::key_into on typical Deribit / Binance messages (ns per message)
//   * RequestTracker track + resolve (ns per pair), with 0 / 100 / 10,000 other requests pending
//   * TokenBucket::try_acquire, single-threaded and with two threads on one bucket
//   * round trip through a real zenws::Client against the local echo server (bench/echo_server.cpp): plain echo
//     (send_text -> on_message) vs request/reply (request() -> reply callback; the request text is a JSON-RPC
//     reply-shaped object {"id":N,"result":...} so the echo IS its reply). Batches of 1 and 64 in flight.
//     Counters: proc_cpu_us = process CPU time (all threads: caller + I/O thread) per message; the difference
//     between the two variants is what correlation costs. Goal: <= 0.5 us CPU per message.
//
//   cmake -S . -B build-rpcbench -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENWS_BUILD_BENCH=ON
//   ninja -C build-rpcbench zenws_rpc_bench zenws_echo_server && build-rpcbench/bench/zenws_rpc_bench
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/client.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/request_tracker.hpp"

namespace {

using namespace std::chrono_literals;

// ---- messages --------------------------------------------------------------------------------------------------

const std::string deribit_reply =
    R"({"jsonrpc":"2.0","id":8163,"result":{"trades":[{"trade_seq":30289432,"trade_id":"48079254","timestamp":)"
    R"(1590484156350,"tick_direction":0,"state":"filled","self_trade":false,"reduce_only":false,"price":8954,)"
    R"("post_only":false,"order_type":"market","order_id":"4008965646","matching_id":null,"mark_price":8952.86,)"
    R"("liquidity":"T","instrument_name":"BTC-PERPETUAL","index_price":8956.73,"fee_currency":"BTC",)"
    R"("fee":0.00000168,"direction":"sell","amount":10}]},"usIn":1590484156349812,"usOut":1590484156352419,)"
    R"("usDiff":2607,"testnet":false})";
const std::string deribit_notification =
    R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{)"
    R"("type":"change","timestamp":1554373962454,"instrument_name":"BTC-PERPETUAL","prev_change_id":297217,)"
    R"("change_id":297218,"bids":[["new",5042.34,30],["change",5041.94,20]],"asks":[["delete",5042.64,0]]}}})";
const std::string deribit_string_id = R"({"jsonrpc":"2.0","id":"order-7f3a-42","result":{"order_state":"open"}})";
const std::string binance_reply = R"({"result":null,"id":312})";
const std::string binance_event =
    R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"0.001",)"
    R"("q":"100","T":1672515782136,"m":true,"M":true}})";

void id_extraction(benchmark::State& state, const std::string& msg) {
    std::string key;
    key.reserve(64);
    for (auto _ : state) {
        zenws::JsonEnvelope env = zenws::scan_json(msg);
        env.id.key_into(key);
        benchmark::DoNotOptimize(key.data());
        benchmark::DoNotOptimize(env.channel.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(msg.size()));
}
BENCHMARK_CAPTURE(id_extraction, deribit_reply_780B, deribit_reply);
BENCHMARK_CAPTURE(id_extraction, deribit_notification, deribit_notification);
BENCHMARK_CAPTURE(id_extraction, deribit_string_id, deribit_string_id);
BENCHMARK_CAPTURE(id_extraction, binance_reply, binance_reply);
BENCHMARK_CAPTURE(id_extraction, binance_event, binance_event);

// ---- RequestTracker --------------------------------------------------------------------------------------------

void tracker_track_resolve(benchmark::State& state) {
    using Tracker = zenws::RequestTracker<std::function<void(zenws::Result<std::string>)>>;
    Tracker tracker;
    auto now = std::chrono::steady_clock::now();
    const auto background = static_cast<std::int64_t>(state.range(0));
    for (std::int64_t i = 0; i < background; ++i) {
        (void)tracker.track(zenws::id_key(1'000'000'000 + i), now, now + 30s + std::chrono::microseconds(i), [](auto) {});
    }
    std::vector<std::string> keys;
    for (int i = 0; i < 1024; ++i) keys.push_back(zenws::id_key(i));
    std::size_t n = 0;
    for (auto _ : state) {
        const std::string& k = keys[n++ & 1023];
        auto st = tracker.track(k, now, now + 30s, [](auto) {});
        benchmark::DoNotOptimize(st);
        auto e = tracker.resolve(k);
        benchmark::DoNotOptimize(e);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(tracker_track_resolve)->Arg(0)->Arg(100)->Arg(10000);

// What correlation adds per message on top of a plain send/receive, as the client does it: the outgoing text is
// scanned for its id (Client::request), the id tracked; the reply is scanned, its key built, the entry resolved and
// the callback invoked. (Plain echo without requests in flight does no scan at all.)
void correlation_cpu_path(benchmark::State& state) {
    using Tracker = zenws::RequestTracker<std::function<void(zenws::Result<std::string>)>>;
    Tracker tracker;
    const std::string text =
        R"({"jsonrpc":"2.0","id":1234567,"result":{"instrument_name":"BTC-PERPETUAL","best_bid_price":8954.5,)"
        R"("best_ask_price":8955.0}})";
    std::string key_buffer;
    key_buffer.reserve(64);
    std::uint64_t calls = 0;
    auto now = std::chrono::steady_clock::now();
    for (auto _ : state) {
        auto out = zenws::scan_json(text);               // request(): find the id
        auto st = tracker.track(out.id.key(), now, now + 30s, [&calls](zenws::Result<std::string>) { ++calls; });
        benchmark::DoNotOptimize(st);
        auto in = zenws::scan_json(text);                // inbound: route the reply
        in.id.key_into(key_buffer);
        auto e = tracker.resolve(key_buffer);
        if (e) e->token(std::string(text));              // the reply handed over as a std::string
    }
    benchmark::DoNotOptimize(calls);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(correlation_cpu_path);

// ---- TokenBucket -----------------------------------------------------------------------------------------------

void bucket_try_acquire_fixed_now(benchmark::State& state) {
    zenws::TokenBucket bucket(1e12, zenws::TokenBucket::max_rate);
    auto now = zenws::TokenBucket::Clock::now();
    std::int64_t granted = 0;
    for (auto _ : state) granted += bucket.try_acquire(1.0, now);
    state.counters["granted_ratio"] = static_cast<double>(granted) / static_cast<double>(state.iterations());
}
BENCHMARK(bucket_try_acquire_fixed_now);

void bucket_try_acquire_clock(benchmark::State& state) {
    zenws::TokenBucket bucket(1e12, zenws::TokenBucket::max_rate);
    for (auto _ : state) benchmark::DoNotOptimize(bucket.try_acquire(1.0));
}
BENCHMARK(bucket_try_acquire_clock);

// Two threads hammering one bucket (the shared-limit case): every call is a compare-exchange on one cache line.
zenws::TokenBucket& contended_bucket() {
    static zenws::TokenBucket bucket(1e12, zenws::TokenBucket::max_rate);
    return bucket;
}
void bucket_try_acquire_contended(benchmark::State& state) {
    auto& bucket = contended_bucket();
    auto now = zenws::TokenBucket::Clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(bucket.try_acquire(1.0, now));
}
BENCHMARK(bucket_try_acquire_contended)->Threads(1)->Threads(2)->UseRealTime();

// ---- round trip through a real client ----------------------------------------------------------------------------

struct EchoServer {
    std::unique_ptr<zenws::test::ChildProcess> proc;
    std::string error;
    EchoServer() {
        proc = zenws::test::ChildProcess::spawn({ZENWS_ECHO_SERVER_PATH}, {}, std::chrono::seconds(10), &error);
    }
    std::string url() const { return "ws://127.0.0.1:" + std::to_string(proc->port()) + "/"; }
};
EchoServer& echo_server() {
    static EchoServer s;
    return s;
}

double process_cpu_us() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// A JSON object that is both a request (it has an id) and, echoed back, its own reply (it has a result).
std::string reply_shaped(std::int64_t id) {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
           R"(,"result":{"instrument_name":"BTC-PERPETUAL","best_bid_price":8954.5,"best_ask_price":8955.0}})";
}

struct Waiter {
    std::atomic<std::uint64_t> done{0};
    void add() {
        done.fetch_add(1, std::memory_order_release);
        done.notify_one();
    }
    void wait_for(std::uint64_t target) {
        for (auto v = done.load(std::memory_order_acquire); v < target; v = done.load(std::memory_order_acquire)) {
            done.wait(v, std::memory_order_acquire);
        }
    }
};

void round_trip(benchmark::State& state, bool correlated) {
    auto& srv = echo_server();
    if (!srv.proc) {
        state.SkipWithError(("echo server: " + srv.error).c_str());
        return;
    }
    const auto batch = static_cast<std::uint64_t>(state.range(0));
    auto waiter = std::make_shared<Waiter>();
    zenws::Handlers h;
    h.on_message = [waiter](zenws::MessageView) { waiter->add(); };
    zenws::Config cfg;
    cfg.url = srv.url();
    cfg.retry_count = 0;
    cfg.reconnect_on_error = false;
    auto c = zenws::Client::connect(cfg, h);
    if (!c.ok()) {
        state.SkipWithError(c.error().explain().c_str());
        return;
    }
    auto on_reply = [waiter](zenws::Result<std::string> r) {
        benchmark::DoNotOptimize(r);
        waiter->add();
    };
    std::uint64_t target = 0;
    std::int64_t next_id = 1'000'000;
    const double cpu0 = process_cpu_us();
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < batch; ++i) {
            if (correlated) {
                c->request(reply_shaped(next_id++), on_reply, 5s);
            } else {
                (void)c->send_text(reply_shaped(next_id++));  // same text building as the correlated variant
            }
        }
        target += batch;
        waiter->wait_for(target);
    }
    const double cpu = process_cpu_us() - cpu0;
    const double messages = static_cast<double>(state.iterations() * batch);
    state.counters["proc_cpu_us"] = cpu / messages;
    state.counters["msgs"] = messages;
    state.SetItemsProcessed(static_cast<std::int64_t>(messages));
    c->close_and_wait(2s);
}
// Both variants build each text the same way (one std::to_string + concatenation); only correlation differs.
void rtt_plain_echo(benchmark::State& state) { round_trip(state, false); }
void rtt_request_reply(benchmark::State& state) { round_trip(state, true); }
BENCHMARK(rtt_plain_echo)->Arg(1)->Arg(64)->UseRealTime()->MinTime(1.0);
BENCHMARK(rtt_request_reply)->Arg(1)->Arg(64)->UseRealTime()->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
