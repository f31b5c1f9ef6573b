// bench/soak/soak.cpp — zenws_soak: a long run of many supervised clients against local servers with injected
// faults, checking the invariants a 24/7 client must keep. Not a CI test (it runs for minutes); see
// bench/soak/README.md and bench/soak/run.sh.
//
//   clients   N supervised clients (--clients, default 1,000) under K ClientSupervisors (--supervisors, 2) on one
//             Runtime (--threads, 2), spread over E endpoints (--endpoints, 8): ping_pong heartbeats every 1-2 s,
//             SendPolicy::buffer on every third client (drop_oldest on every sixth), a small message every few
//             seconds (--send-every-ms, 3000 ± 50 %) with a completion callback, and every third one a JSON-RPC
//             request (the server answers it with the same id).
//   servers   in-process (soak_server.cpp): one epoll thread, one listener per endpoint on 127.0.0.1, and a fault
//             layer: kill, reset, blackhole, flap, http429 at seeded random times (--seed, --fault-mean-s).
//   phases    faults for --minutes (fractional), then no faults for --recovery-s (30), then traffic stops and the
//             ledger is drained, then the supervisors and the Runtime are destroyed.
//
// Invariants (exit 1 if one fails; the summary table says which):
//   ledger     every send and request issued gets exactly one completion: none stranded after the drain (while
//              every client is connected), none after shutdown, none twice; every reply carries its request's id
//   attempts   no client makes more connection attempts in any 60 s window than its ladder allows (the bound
//              computed by ladder_bound.hpp from the Config and the supervisor options), hence no endpoint more in
//              any minute than (its clients x that bound); no two attempts of one Client instance closer than
//              min_attempt_interval; the server never sees more handshakes from a client than it reported attempts
//   stuck      after the faults stop and the recovery period, every client is connected again
//   memory     after the warm-up (--warmup-min, 3), every per-minute RSS sample is within ±5 % (--rss-tol) of the
//              sample at the end of the warm-up
//   lifecycle  on_connect and on_disconnect balance for every client after shutdown
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ladder_bound.hpp"
#include "soak_server.hpp"
#include "zenws/client.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/runtime.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
    int clients = 1000;
    double minutes = 30;
    std::uint64_t seed = 1;
    int endpoints = 8;
    int supervisors = 2;
    int threads = 2;
    int send_every_ms = 3000;
    int request_every = 3;
    double fault_mean_s = 30;
    int recovery_s = 30;
    double warmup_min = 3;
    double rss_tol = 5.0;
    int port_base = 0;
    int retry_count = 5;
    int retry_delay_ms = 500;
    int max_backoff_ms = 8000;
    int timeout_ms = 2000;
    int hb_min_ms = 1000, hb_max_ms = 2000;
    int request_timeout_ms = 5000;
    int stable_after_ms = 10000;
    int min_attempt_interval_ms = 250;
    int failed_retry_after_ms = 15000;
    bool verbose = false;
};

void usage() {
    std::puts(
        "usage: zenws_soak [--clients N] [--minutes M] [--seed S] [--endpoints E] [--supervisors K] [--threads T]\n"
        "                  [--send-every-ms MS] [--request-every K] [--fault-mean-s S] [--recovery-s S]\n"
        "                  [--warmup-min M] [--rss-tol PCT] [--port-base P] [--retry-count N] [--retry-delay-ms MS]\n"
        "                  [--max-backoff-ms MS] [--timeout-ms MS] [--hb-min-ms MS] [--hb-max-ms MS]\n"
        "                  [--request-timeout-ms MS] [--stable-after-ms MS] [--min-attempt-interval-ms MS]\n"
        "                  [--failed-retry-after-ms MS] [--verbose]\n"
        "defaults: 1000 clients, 30 minutes, seed 1, 8 endpoints, 2 supervisors, 2 runtime threads");
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "zenws_soak: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--clients") o.clients = std::atoi(next());
        else if (a == "--minutes") o.minutes = std::atof(next());
        else if (a == "--seed") o.seed = std::strtoull(next(), nullptr, 10);
        else if (a == "--endpoints") o.endpoints = std::atoi(next());
        else if (a == "--supervisors") o.supervisors = std::atoi(next());
        else if (a == "--threads") o.threads = std::atoi(next());
        else if (a == "--send-every-ms") o.send_every_ms = std::atoi(next());
        else if (a == "--request-every") o.request_every = std::atoi(next());
        else if (a == "--fault-mean-s") o.fault_mean_s = std::atof(next());
        else if (a == "--recovery-s") o.recovery_s = std::atoi(next());
        else if (a == "--warmup-min") o.warmup_min = std::atof(next());
        else if (a == "--rss-tol") o.rss_tol = std::atof(next());
        else if (a == "--port-base") o.port_base = std::atoi(next());
        else if (a == "--retry-count") o.retry_count = std::atoi(next());
        else if (a == "--retry-delay-ms") o.retry_delay_ms = std::atoi(next());
        else if (a == "--max-backoff-ms") o.max_backoff_ms = std::atoi(next());
        else if (a == "--timeout-ms") o.timeout_ms = std::atoi(next());
        else if (a == "--hb-min-ms") o.hb_min_ms = std::atoi(next());
        else if (a == "--hb-max-ms") o.hb_max_ms = std::atoi(next());
        else if (a == "--request-timeout-ms") o.request_timeout_ms = std::atoi(next());
        else if (a == "--stable-after-ms") o.stable_after_ms = std::atoi(next());
        else if (a == "--min-attempt-interval-ms") o.min_attempt_interval_ms = std::atoi(next());
        else if (a == "--failed-retry-after-ms") o.failed_retry_after_ms = std::atoi(next());
        else if (a == "--verbose") o.verbose = true;
        else if (a == "--help" || a == "-h") {
            usage();
            std::exit(0);
        } else {
            std::fprintf(stderr, "zenws_soak: unknown option %s\n", a.c_str());
            usage();
            return false;
        }
    }
    if (o.clients < 1 || o.minutes <= 0 || o.endpoints < 1 || o.endpoints > 256 || o.supervisors < 1 ||
        o.threads < 1 || o.send_every_ms < 10 || o.request_every < 1 || o.recovery_s < 1 || o.hb_min_ms < 50 ||
        o.hb_max_ms < o.hb_min_ms || o.retry_count < 0) {
        std::fprintf(stderr, "zenws_soak: invalid option value\n");
        return false;
    }
    return true;
}

double rss_mib() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return double(resident) * double(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// Bytes malloc has handed out and not got back (main arena + other arenas + mmapped chunks): separates a leak
// (this grows) from allocator fragmentation (RSS grows, this does not).
double heap_mib() {
    struct mallinfo2 mi = ::mallinfo2();
    return double(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- the ledger: one atomic state byte per issued operation ---------------------------------------------------
// 0 = free, 1 = issued, 2 = completed once, 3+ = completed more than once. Preallocated and touched up front so
// that it does not show up as RSS growth.
constexpr int kCodes = 128;

struct Ledger {
    std::size_t capacity = 0;
    std::unique_ptr<std::atomic<std::uint8_t>[]> state;
    std::unique_ptr<std::uint32_t[]> meta;  // client << 1 | is_request
    std::atomic<std::uint64_t> next{0};
    std::atomic<std::uint64_t> issued_sends{0}, issued_requests{0}, completed{0};
    std::atomic<std::uint64_t> duplicates{0}, unissued_completion{0}, wrong_reply_id{0}, skipped{0};
    std::atomic<std::uint64_t> send_codes[kCodes] = {}, request_codes[kCodes] = {};

    void init(std::size_t cap) {
        capacity = cap;
        state.reset(new std::atomic<std::uint8_t>[cap]);
        meta.reset(new std::uint32_t[cap]);
        for (std::size_t i = 0; i < cap; ++i) {
            state[i].store(0, std::memory_order_relaxed);
            meta[i] = 0;
        }
    }
    // Returns capacity when full.
    std::size_t issue(std::uint32_t client, bool request) {
        std::size_t op = next.fetch_add(1, std::memory_order_relaxed);
        if (op >= capacity) {
            skipped.fetch_add(1, std::memory_order_relaxed);
            return capacity;
        }
        meta[op] = client << 1 | (request ? 1u : 0u);
        state[op].store(1, std::memory_order_release);
        (request ? issued_requests : issued_sends).fetch_add(1, std::memory_order_relaxed);
        return op;
    }
    void complete(std::size_t op, zenws::Errc code, bool request) {
        std::uint8_t prev = state[op].fetch_add(1, std::memory_order_acq_rel);
        if (prev == 0) unissued_completion.fetch_add(1, std::memory_order_relaxed);
        if (prev >= 2) duplicates.fetch_add(1, std::memory_order_relaxed);
        completed.fetch_add(1, std::memory_order_relaxed);
        int c = std::min(int(code), kCodes - 1);
        (request ? request_codes : send_codes)[c].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t issued() const {
        return issued_sends.load(std::memory_order_relaxed) + issued_requests.load(std::memory_order_relaxed);
    }
    std::uint64_t stranded_scan(std::vector<std::size_t>* first = nullptr) const {
        std::uint64_t n = 0;
        std::size_t end = std::min<std::size_t>(capacity, next.load());
        for (std::size_t i = 0; i < end; ++i) {
            if (state[i].load(std::memory_order_acquire) == 1) {
                ++n;
                if (first && first->size() < 10) first->push_back(i);
            }
        }
        return n;
    }
};

// ---- per-client attempt accounting ---------------------------------------------------------------------------
constexpr int kRing = 128;  // attempt timestamps kept per client (more than any sane 60 s bound)

struct ClientStat {
    std::mutex mutex;  // attempts come from the client's strand; instances of one child may differ
    std::int64_t ring[kRing] = {};
    int head = 0, size = 0;
    std::int64_t last_attempt = -1;
    std::uint32_t attempts = 0, max_window = 0;
    std::int64_t min_gap_in = INT64_MAX, min_gap_cross = INT64_MAX;
    std::uint32_t viol_in = 0, viol_cross = 0;
    std::int64_t not_before = -1;  // a 429's Retry-After: no attempt before this
    std::uint32_t ra_in = 0, ra_cross = 0, ra_seen = 0;
    std::int64_t ra_early_max = 0;  // how much earlier than Retry-After allowed (ms), worst case
    std::atomic<std::uint32_t> connects{0}, disconnects{0}, hb_missed{0}, exhausted{0}, connected_events{0};
    int endpoint = 0;
};

struct Soak;

class ClientObserver final : public zenws::Observer {
public:
    ClientObserver(Soak& s, std::uint32_t c) : soak_(s), c_(c) {}
    void connect_attempt(std::string_view, int attempt) override;
    void connected(std::string_view, std::chrono::microseconds) override;
    void connect_failed(std::string_view, const zenws::Error& e) override;
    void heartbeat_missed(zenws::HeartbeatType, int) override;
    void retries_exhausted(const zenws::Error&) override;

private:
    Soak& soak_;
    std::uint32_t c_;
};

struct Soak {
    Options o;
    Clock::time_point t0;
    int bucket_minutes = 1;
    Ledger ledger;
    std::unique_ptr<ClientStat[]> stats;
    std::vector<zenws::ClientHandle> handles;
    std::vector<std::atomic<std::uint32_t>> attempts_per_minute;  // [endpoint * bucket_minutes + minute]
    std::atomic<std::uint64_t> attempts_total{0}, echoes_in{0}, unmatched{0};
    std::atomic<std::uint64_t> sup_events[16] = {};
    std::atomic<bool> traffic_on{true};

    std::int64_t now_ms() const {
        return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
    }

    void on_attempt(std::uint32_t c, int attempt) {
        std::int64_t now = now_ms();
        ClientStat& s = stats[c];
        {
            std::lock_guard lock(s.mutex);
            ++s.attempts;
            if (s.last_attempt >= 0) {
                std::int64_t gap = now - s.last_attempt;
                // attempt == 1: the first attempt of a new Client instance (a supervisor restart).
                if (attempt > 1) {
                    s.min_gap_in = std::min(s.min_gap_in, gap);
                    if (gap + 1 < o.min_attempt_interval_ms) ++s.viol_in;  // 1 ms for clock granularity
                } else {
                    s.min_gap_cross = std::min(s.min_gap_cross, gap);
                    if (gap + 1 < o.min_attempt_interval_ms) ++s.viol_cross;
                }
            }
            if (s.not_before >= 0) {
                if (now + 5 < s.not_before) {  // 5 ms: timer granularity
                    ++(attempt > 1 ? s.ra_in : s.ra_cross);
                    s.ra_early_max = std::max(s.ra_early_max, s.not_before - now);
                }
                s.not_before = -1;
            }
            s.last_attempt = now;
            s.ring[s.head] = now;
            s.head = (s.head + 1) % kRing;
            if (s.size < kRing) ++s.size;
            std::uint32_t in_window = 0;
            for (int i = 0; i < s.size; ++i) {
                if (now - s.ring[(s.head - 1 - i + kRing) % kRing] < 60000) ++in_window;
                else break;
            }
            s.max_window = std::max(s.max_window, in_window);
        }
        int minute = int(std::min<std::int64_t>(now / 60000, bucket_minutes - 1));
        attempts_per_minute[std::size_t(s.endpoint) * bucket_minutes + minute].fetch_add(1, std::memory_order_relaxed);
        attempts_total.fetch_add(1, std::memory_order_relaxed);
    }

    int connected_count() const {
        int n = 0;
        for (auto& h : handles) n += h.state() == zenws::State::connected;
        return n;
    }
};

void ClientObserver::connect_attempt(std::string_view, int attempt) { soak_.on_attempt(c_, attempt); }
void ClientObserver::connected(std::string_view, std::chrono::microseconds) {
    soak_.stats[c_].connected_events.fetch_add(1, std::memory_order_relaxed);
}
void ClientObserver::connect_failed(std::string_view, const zenws::Error& e) {
    if (!e.retry_after || *e.retry_after <= 0) return;
    ClientStat& st = soak_.stats[c_];
    std::int64_t now = soak_.now_ms();
    std::lock_guard lock(st.mutex);
    ++st.ra_seen;
    st.not_before = now + std::min<std::int64_t>(*e.retry_after, 60) * 1000;  // max_retry_after 60 s (default)
}
void ClientObserver::heartbeat_missed(zenws::HeartbeatType, int) {
    soak_.stats[c_].hb_missed.fetch_add(1, std::memory_order_relaxed);
}
void ClientObserver::retries_exhausted(const zenws::Error&) {
    soak_.stats[c_].exhausted.fetch_add(1, std::memory_order_relaxed);
}

// Reply {"jsonrpc":"2.0","id":<n>,"result":"ok"}: does it carry `op`?
bool reply_has_id(const std::string& reply, std::size_t op) {
    auto p = reply.find("\"id\":");
    if (p == std::string::npos) return false;
    p += 5;
    std::size_t v = 0;
    bool any = false;
    while (p < reply.size() && reply[p] >= '0' && reply[p] <= '9') {
        v = v * 10 + std::size_t(reply[p] - '0');
        ++p;
        any = true;
    }
    return any && v == op;
}

void traffic(Soak& s) {
    std::mt19937_64 rng(s.o.seed ^ 0x5eedf00dull);
    std::uniform_real_distribution<double> spread(0.5, 1.5);
    const int n = s.o.clients;
    std::vector<std::int64_t> due(static_cast<std::size_t>(n), 0);
    for (int c = 0; c < n; ++c) due[std::size_t(c)] = 2000 + std::int64_t(spread(rng) * s.o.send_every_ms);
    std::uint64_t k = 0;
    std::string text;
    text.reserve(128);
    while (s.traffic_on.load(std::memory_order_acquire)) {
        std::int64_t now = s.now_ms();
        for (int c = 0; c < n; ++c) {
            if (now < due[std::size_t(c)]) continue;
            due[std::size_t(c)] = now + std::int64_t(spread(rng) * s.o.send_every_ms);
            bool request = (++k % std::uint64_t(s.o.request_every)) == 0;
            std::size_t op = s.ledger.issue(std::uint32_t(c), request);
            if (op >= s.ledger.capacity) continue;
            Ledger* ledger = &s.ledger;
            if (request) {
                text = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(op) +
                       ",\"method\":\"soak/echo\",\"params\":{\"c\":" + std::to_string(c) + "}}";
                s.handles[std::size_t(c)].request(
                    text, [ledger, op](zenws::Result<std::string> r) {
                        if (r.ok() && !reply_has_id(r.value(), op)) {
                            ledger->wrong_reply_id.fetch_add(1, std::memory_order_relaxed);
                        }
                        ledger->complete(op, r.ok() ? zenws::Errc::ok : r.error().code, true);
                    });
            } else {
                text = "{\"c\":" + std::to_string(c) + ",\"n\":" + std::to_string(op) + "}";
                (void)s.handles[std::size_t(c)].send_text(
                    text, [ledger, op](const zenws::Error& e) { ledger->complete(op, e.code, false); });
            }
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
}

const char* pass(bool ok) { return ok ? "PASS" : "FAIL"; }

std::string fmt_u(std::uint64_t v) {
    const std::string digits = std::to_string(v);
    std::string out;
    out.reserve(digits.size() + digits.size() / 3);
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) return 2;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    // Descriptors: N client sockets plus up to a few per client on the server side (blackholed attempts linger).
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rlim_t(o.clients) * 4 + 256) {
        std::fprintf(stderr, "zenws_soak: RLIMIT_NOFILE %llu is low for %d clients (want >= %d)\n",
                     (unsigned long long)rl.rlim_cur, o.clients, o.clients * 4 + 256);
    }

    auto soak = std::make_unique<Soak>();
    Soak& s = *soak;
    s.o = o;
    const double fault_s = o.minutes * 60.0;
    const double total_s = fault_s + o.recovery_s + o.request_timeout_ms / 1000.0 + 10;
    s.bucket_minutes = int(std::ceil(total_s / 60.0)) + 1;
    s.attempts_per_minute = std::vector<std::atomic<std::uint32_t>>(std::size_t(o.endpoints) * s.bucket_minutes);
    s.stats.reset(new ClientStat[std::size_t(o.clients)]);
    {
        double per_client = (fault_s + o.recovery_s + 5) * 1000.0 / (0.5 * o.send_every_ms) + 4;
        s.ledger.init(std::size_t(double(o.clients) * per_client));
    }

    // ---- the bound on attempts ----
    soak::LadderParams lp;
    lp.retry_count = o.retry_count;
    lp.retry_delay = o.retry_delay_ms;
    lp.max_backoff = std::max(o.max_backoff_ms, o.retry_delay_ms);
    lp.jitter = true;
    lp.stable_after = o.stable_after_ms;
    lp.min_attempt_interval = o.min_attempt_interval_ms;
    zenws::ClientSupervisorOptions so;
    so.max_restarts = 10;
    so.max_time = std::chrono::seconds(60);
    so.backoff.base = milliseconds(100);
    so.backoff.cap = milliseconds(5000);
    so.backoff.reset_after = std::chrono::seconds(30);
    so.failed_retry_after = milliseconds(o.failed_retry_after_ms);
    lp.restart_backoff = so.backoff.enabled;
    lp.restart_base = so.backoff.base.count();
    lp.restart_cap = so.backoff.cap.count();
    lp.reset_after = so.backoff.reset_after.count();
    lp.restart_jitter = so.backoff.jitter;
    lp.max_restarts = so.max_restarts;
    lp.max_time = so.max_time.count();
    auto tb = Clock::now();
    soak::LadderBound model(lp);
    const int bound = model.max_attempts(60000);
    const int crash_bound = model.max_crashes(lp.max_time);
    const double model_ms = std::chrono::duration<double, std::milli>(Clock::now() - tb).count();

    // ---- servers ----
    soak::FaultOptions fo;
    fo.mean_gap_s = o.fault_mean_s;
    const int hb_detect_ms = o.hb_max_ms * (2 + 1);  // failure_threshold 2: detected within (threshold + 1) ticks
    fo.blackhole_ms[0] = std::max(fo.blackhole_ms[0], hb_detect_ms + 1000);
    fo.blackhole_ms[1] = std::max(fo.blackhole_ms[1], fo.blackhole_ms[0] + 5000);
    int port_base = o.port_base ? o.port_base : 20000 + int((o.seed * 7919) % 900) * 10;
    s.t0 = Clock::now();
    soak::SoakServer server(o.endpoints, port_base, o.seed, fo, o.clients, s.bucket_minutes, s.t0);
    if (auto err = server.start(); !err.empty()) {
        std::fprintf(stderr, "zenws_soak: %s\n", err.c_str());
        return 2;
    }

    std::printf("zenws_soak: %d clients, %.2f min of faults + %d s recovery, seed %" PRIu64
                ", %d endpoints (ports %d..%d), %d supervisors, Runtime(%d)\n",
                o.clients, o.minutes, o.recovery_s, o.seed, o.endpoints, server.ports().front(), server.ports().back(),
                o.supervisors, o.threads);
    const char* arena_max = std::getenv("MALLOC_ARENA_MAX");
    std::printf("allocator: glibc malloc, MALLOC_ARENA_MAX=%s\n", arena_max ? arena_max : "(unset)");
    std::printf("client config: timeout %d ms, retry_count %d, retry_delay %d ms, max_backoff %d ms, jitter on, "
                "stable_after %d ms, min_attempt_interval %d ms, ping_pong %d-%d ms x2, request_timeout %d ms\n",
                o.timeout_ms, o.retry_count, o.retry_delay_ms, int(lp.max_backoff), o.stable_after_ms,
                o.min_attempt_interval_ms, o.hb_min_ms, o.hb_max_ms, o.request_timeout_ms);
    std::printf("supervisor: %d restarts in %lld ms per client, restart backoff %lld..%lld ms (reset after %lld ms), "
                "parked for %d ms\n",
                so.max_restarts, (long long)so.max_time.count(), (long long)so.backoff.base.count(),
                (long long)so.backoff.cap.count(), (long long)so.backoff.reset_after.count(), o.failed_retry_after_ms);
    std::printf("faults: one at a time per endpoint, mean gap %.0f s; kill %d-%d ms, blackhole %d-%d ms, flap %d-%d "
                "ms, http429 %d-%d ms (Retry-After %d-%d s), reset instantaneous\n",
                fo.mean_gap_s, fo.kill_down_ms[0], fo.kill_down_ms[1], fo.blackhole_ms[0], fo.blackhole_ms[1],
                fo.flap_ms[0], fo.flap_ms[1], fo.http429_ms[0], fo.http429_ms[1], fo.retry_after_s[0],
                fo.retry_after_s[1]);
    std::printf("attempt bound (ladder_bound.hpp, %.0f ms): at most %d attempts per client in any 60 s window; at "
                "most %d crashes in %lld ms (%s)\n",
                model_ms, bound, crash_bound, (long long)lp.max_time,
                crash_bound <= lp.max_restarts ? "the restart intensity can never be exceeded: no parking"
                                               : "parking possible; the bound ignores it, which only over-counts");

    // ---- clients ----
    auto runtime = std::make_unique<zenws::Runtime>(unsigned(o.threads));
    so.on_event = [&s](const zenws::SupervisorEvent& e) {
        s.sup_events[std::min<int>(int(e.kind), 15)].fetch_add(1, std::memory_order_relaxed);
    };
    std::vector<std::unique_ptr<zenws::ClientSupervisor>> sups;
    for (int k = 0; k < o.supervisors; ++k) sups.push_back(std::make_unique<zenws::ClientSupervisor>(*runtime, so));
    s.handles.resize(std::size_t(o.clients));
    std::mt19937_64 crng(o.seed * 31 + 7);
    int buffered = 0;
    for (int c = 0; c < o.clients; ++c) {
        int ep = c % o.endpoints;
        s.stats[c].endpoint = ep;
        zenws::Config cfg;
        cfg.url = "ws://127.0.0.1:" + std::to_string(server.ports()[std::size_t(ep)]) + "/soak/" + std::to_string(c);
        cfg.timeout = milliseconds(o.timeout_ms);
        cfg.retry_count = o.retry_count;
        cfg.retry_delay = milliseconds(o.retry_delay_ms);
        cfg.max_backoff = milliseconds(lp.max_backoff);
        cfg.backoff_jitter = true;
        cfg.stable_after = milliseconds(o.stable_after_ms);
        cfg.min_attempt_interval = milliseconds(o.min_attempt_interval_ms);
        cfg.request_timeout = milliseconds(o.request_timeout_ms);
        cfg.close_timeout = milliseconds(1000);
        cfg.heartbeat.type = zenws::HeartbeatType::ping_pong;
        cfg.heartbeat.interval =
            milliseconds(o.hb_min_ms + std::int64_t(crng() % std::uint64_t(o.hb_max_ms - o.hb_min_ms + 1)));
        cfg.heartbeat.failure_threshold = 2;
        if (c % 3 == 0) {
            cfg.send_policy = zenws::SendPolicy::buffer;
            cfg.send_queue_limit = 16;
            cfg.overflow_policy = c % 6 == 0 ? zenws::OverflowPolicy::drop_oldest : zenws::OverflowPolicy::reject_new;
            ++buffered;
        }
        zenws::ClientOptions co;
        co.await_connection = false;
        co.handlers.observer = std::make_shared<ClientObserver>(s, std::uint32_t(c));
        co.handlers.on_message = [&s](zenws::MessageView) { s.echoes_in.fetch_add(1, std::memory_order_relaxed); };
        co.handlers.on_unmatched_response = [&s](std::string_view) {
            s.unmatched.fetch_add(1, std::memory_order_relaxed);
        };
        ClientStat* st = &s.stats[c];
        co.on_connect = [st](zenws::ClientHandle) { st->connects.fetch_add(1, std::memory_order_relaxed); };
        co.on_disconnect = [st](zenws::ClientHandle) { st->disconnects.fetch_add(1, std::memory_order_relaxed); };
        bool got = false;
        sups[std::size_t(c % o.supervisors)]->start_client_async(
            std::move(cfg), std::move(co), [&](zenws::Result<zenws::ClientHandle> r) {
                if (r.ok()) {
                    s.handles[std::size_t(c)] = r.value();
                    got = true;
                } else {
                    std::fprintf(stderr, "zenws_soak: start_client %d: %s\n", c, r.error().explain().c_str());
                }
            });
        if (!got) return 2;
    }
    std::printf("started %d clients (%d with SendPolicy::buffer) in %.2f s; ledger capacity %s operations\n",
                o.clients, buffered, std::chrono::duration<double>(Clock::now() - s.t0).count(),
                fmt_u(s.ledger.capacity).c_str());

    std::thread traffic_thread([&s] { traffic(s); });
    server.set_faults_enabled(true);

    // ---- fault phase: one row per minute ----
    std::printf("\n%4s %8s %8s %11s %9s %8s %6s %9s %9s %8s %7s %7s  %-18s %6s\n", "min", "RSS MiB", "heap MiB",
                "connected", "attempts", "accepts", "open", "ops", "done", "pending", "restart", "parked",
                "faults k/r/b/f/429", "CPU%");
    struct Sample {
        double minute;
        double rss;
        double heap;
    };
    std::vector<Sample> samples;
    samples.reserve(std::size_t(s.bucket_minutes) + 4);
    std::uint64_t last_attempts = 0, last_accepts = 0, last_issued = 0, last_done = 0, last_restarts = 0,
                  last_parked = 0;
    double last_cpu = cpu_seconds();
    auto last_row = Clock::now();
    auto row = [&](const char* label, double minute) {
        auto now = Clock::now();
        double cpu = cpu_seconds();
        double wall = std::chrono::duration<double>(now - last_row).count();
        double rss = rss_mib();
        double heap = heap_mib();
        samples.push_back({minute, rss, heap});
        std::uint64_t att = s.attempts_total.load(), acc = server.stats().accepts.load(), iss = s.ledger.issued(),
                      done = s.ledger.completed.load();
        std::uint64_t restarts = s.sup_events[int(zenws::SupervisorEvent::Kind::restart_scheduled)].load();
        std::uint64_t parked = s.sup_events[int(zenws::SupervisorEvent::Kind::intensity_exceeded)].load();
        std::uint64_t f[5];
        for (int i = 0; i < 5; ++i) f[i] = server.stats().faults_this_minute[i].exchange(0);
        char faults[64];
        std::snprintf(faults, sizeof faults, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, f[0], f[1],
                      f[2], f[3], f[4]);
        char conn[32];
        std::snprintf(conn, sizeof conn, "%d/%d", s.connected_count(), o.clients);
        std::printf("%4s %8.2f %8.2f %11s %9" PRIu64 " %8" PRIu64 " %6u %9" PRIu64 " %9" PRIu64 " %8" PRId64
                    " %7" PRIu64 " %7" PRIu64 "  %-18s %6.1f\n",
                    label, rss, heap, conn, att - last_attempts, acc - last_accepts,
                    server.stats().open_conns.load(), iss - last_issued, done - last_done,
                    std::int64_t(iss) - std::int64_t(done), restarts - last_restarts, parked - last_parked, faults,
                    wall > 0 ? 100.0 * (cpu - last_cpu) / wall : 0.0);
        last_attempts = att;
        last_accepts = acc;
        last_issued = iss;
        last_done = done;
        last_restarts = restarts;
        last_parked = parked;
        last_cpu = cpu;
        last_row = now;
    };
    const auto fault_end = s.t0 + milliseconds(std::int64_t(fault_s * 1000));
    int next_minute = 1;
    while (Clock::now() < fault_end) {
        auto next_mark = s.t0 + std::chrono::minutes(next_minute);
        auto wake = std::min(next_mark, fault_end);
        std::this_thread::sleep_until(wake);
        if (Clock::now() >= next_mark) {
            row(std::to_string(next_minute).c_str(), next_minute);
            ++next_minute;
        }
    }

    // ---- recovery: no more faults ----
    server.set_faults_enabled(false);
    while (!server.faults_quiet()) std::this_thread::sleep_for(milliseconds(10));
    const auto recovery_start = Clock::now();
    double all_connected_after = -1;
    while (Clock::now() < recovery_start + std::chrono::seconds(o.recovery_s)) {
        if (all_connected_after < 0 && s.connected_count() == o.clients) {
            all_connected_after = std::chrono::duration<double>(Clock::now() - recovery_start).count();
        }
        std::this_thread::sleep_for(milliseconds(250));
    }
    const int connected_end = s.connected_count();
    const int stuck = o.clients - connected_end;
    row("end", std::chrono::duration<double>(Clock::now() - s.t0).count() / 60.0);
    std::vector<int> stuck_list;
    for (int c = 0; c < o.clients && stuck_list.size() < 10; ++c) {
        if (s.handles[std::size_t(c)].state() != zenws::State::connected) stuck_list.push_back(c);
    }
    for (int c : stuck_list) {
        auto& h = s.handles[std::size_t(c)];
        auto cl = h.client();
        std::printf("  not connected: client %d (endpoint %d) status %s state %s restarts %d last error: %s\n", c,
                    s.stats[c].endpoint, std::string(zenws::to_string(h.status())).c_str(),
                    std::string(zenws::to_string(h.state())).c_str(), h.restarts(),
                    cl.valid() ? cl.last_error().message.c_str() : "(no client instance)");
    }

    // ---- drain: traffic stops, every issued operation must complete while everything is connected ----
    s.traffic_on.store(false, std::memory_order_release);
    traffic_thread.join();
    const auto drain_start = Clock::now();
    const auto drain_deadline = drain_start + milliseconds(o.request_timeout_ms + 3000);
    while (Clock::now() < drain_deadline && s.ledger.completed.load() < s.ledger.issued()) {
        std::this_thread::sleep_for(milliseconds(50));
    }
    const double drain_s = std::chrono::duration<double>(Clock::now() - drain_start).count();
    std::vector<std::size_t> stranded_ops;
    const std::uint64_t stranded_drain = s.ledger.stranded_scan(&stranded_ops);
    for (std::size_t op : stranded_ops) {
        std::uint32_t m = s.ledger.meta[op];
        int c = int(m >> 1);
        auto& h = s.handles[std::size_t(c)];
        auto met = h.metrics();
        std::printf("  stranded after drain: op %zu (%s) client %d state %s send_queue_depth %zu pending_requests %zu\n",
                    op, (m & 1) ? "request" : "send", c, std::string(zenws::to_string(h.state())).c_str(),
                    met.send_queue_depth, met.pending_requests);
    }

    // Per-client figures, read before shutdown (the handles' metrics go away with the clients).
    std::uint64_t hb_missed = 0, exhausted = 0, reconnects = 0;
    for (int c = 0; c < o.clients; ++c) {
        hb_missed += s.stats[c].hb_missed.load();
        exhausted += s.stats[c].exhausted.load();
    }
    for (auto& h : s.handles) reconnects += h.metrics().counters.reconnects;
    const double rss_before_shutdown = rss_mib();

    // ---- shutdown ----
    const auto shutdown_start = Clock::now();
    sups.clear();
    runtime.reset();
    const double shutdown_s = std::chrono::duration<double>(Clock::now() - shutdown_start).count();
    server.stop();
    std::vector<std::size_t> stranded_ops2;
    const std::uint64_t stranded_shutdown = s.ledger.stranded_scan(&stranded_ops2);

    // ---- attempts ----
    std::uint32_t max_window = 0, max_attempts_client = 0;
    int max_window_client = -1;
    std::uint64_t viol_in = 0, viol_cross = 0, unbalanced = 0, server_over = 0, ra_in = 0, ra_cross = 0, ra_seen = 0;
    std::int64_t ra_early_max = 0;
    std::int64_t min_gap_in = INT64_MAX, min_gap_cross = INT64_MAX;
    std::vector<std::uint32_t> windows;
    windows.reserve(std::size_t(o.clients));
    for (int c = 0; c < o.clients; ++c) {
        ClientStat& st = s.stats[c];
        std::lock_guard lock(st.mutex);
        windows.push_back(st.max_window);
        if (st.max_window > max_window) {
            max_window = st.max_window;
            max_window_client = c;
        }
        max_attempts_client = std::max(max_attempts_client, st.attempts);
        viol_in += st.viol_in;
        viol_cross += st.viol_cross;
        ra_in += st.ra_in;
        ra_cross += st.ra_cross;
        ra_seen += st.ra_seen;
        ra_early_max = std::max(ra_early_max, st.ra_early_max);
        min_gap_in = std::min(min_gap_in, st.min_gap_in);
        min_gap_cross = std::min(min_gap_cross, st.min_gap_cross);
        if (st.connects.load() != st.disconnects.load()) ++unbalanced;
        if (server.stats().handshakes_by_client[std::size_t(c)].load() > st.attempts) ++server_over;
    }
    std::sort(windows.begin(), windows.end());
    const std::uint32_t p50_window = windows[windows.size() / 2];
    const std::uint32_t p99_window = windows[std::min(windows.size() - 1, windows.size() * 99 / 100)];

    std::vector<int> per_endpoint_clients(std::size_t(o.endpoints), 0);
    for (int c = 0; c < o.clients; ++c) ++per_endpoint_clients[std::size_t(s.stats[c].endpoint)];
    std::uint32_t max_ep_minute = 0;
    int max_ep = 0, max_ep_min = 0;
    bool ep_ok = true;
    const int minutes_used = std::min(s.bucket_minutes, int(std::ceil(total_s / 60.0)));
    std::printf("\nconnection attempts per minute per endpoint (client side; in brackets: TCP accepts at the server)\n");
    std::printf("%4s", "min");
    for (int e = 0; e < o.endpoints; ++e) std::printf(" %14s", ("ep" + std::to_string(e)).c_str());
    std::printf("\n");
    for (int m = 0; m < minutes_used; ++m) {
        std::printf("%4d", m + 1);
        for (int e = 0; e < o.endpoints; ++e) {
            std::uint32_t a = s.attempts_per_minute[std::size_t(e) * s.bucket_minutes + m].load();
            std::uint32_t acc = server.stats().accepts_per_minute[std::size_t(e) * server.minutes() + m].load();
            char cell[32];
            std::snprintf(cell, sizeof cell, "%u (%u)", a, acc);
            std::printf(" %14s", cell);
            if (a > max_ep_minute) {
                max_ep_minute = a;
                max_ep = e;
                max_ep_min = m + 1;
            }
            if (std::uint64_t(a) > std::uint64_t(per_endpoint_clients[std::size_t(e)]) * std::uint64_t(bound)) {
                ep_ok = false;
            }
        }
        std::printf("\n");
    }
    std::printf("(an endpoint may see at most its %d-%d clients x %d = %d-%d attempts in a minute)\n",
                *std::min_element(per_endpoint_clients.begin(), per_endpoint_clients.end()),
                *std::max_element(per_endpoint_clients.begin(), per_endpoint_clients.end()), bound,
                *std::min_element(per_endpoint_clients.begin(), per_endpoint_clients.end()) * bound,
                *std::max_element(per_endpoint_clients.begin(), per_endpoint_clients.end()) * bound);

    // ---- RSS ----
    std::printf("\nRSS samples (MiB, heap in use in brackets):");
    for (auto& sm : samples) std::printf(" %.1f (%.1f)@%.1fm", sm.rss, sm.heap, sm.minute);
    std::printf("; before shutdown %.1f\n", rss_before_shutdown);
    const Sample* base = nullptr;
    for (auto& sm : samples) {
        if (sm.minute + 1e-9 >= o.warmup_min) {
            base = &sm;
            break;
        }
    }
    double rss_lo = 0, rss_hi = 0, heap_lo = 0, heap_hi = 0;
    int rss_checked = 0;
    bool rss_ok = true;
    if (base) {
        for (auto& sm : samples) {
            if (&sm == base || sm.minute < base->minute) continue;
            double d = 100.0 * (sm.rss - base->rss) / base->rss;
            double h = base->heap > 0 ? 100.0 * (sm.heap - base->heap) / base->heap : 0.0;
            heap_lo = std::min(heap_lo, h);
            heap_hi = std::max(heap_hi, h);
            rss_lo = std::min(rss_lo, d);
            rss_hi = std::max(rss_hi, d);
            ++rss_checked;
            if (std::fabs(d) > o.rss_tol) rss_ok = false;
        }
    }

    // ---- summary ----
    auto code_line = [&](const char* what, std::atomic<std::uint64_t>* codes) {
        std::printf("  %s:", what);
        for (int c = 0; c < kCodes; ++c) {
            if (auto v = codes[c].load()) {
                std::printf(" %s %s", std::string(zenws::to_string(zenws::Errc(c))).c_str(), fmt_u(v).c_str());
            }
        }
        std::printf("\n");
    };
    auto& sv = server.stats();
    std::printf("\ntotals: %s ops issued (%s sends, %s requests), %s completed, %s skipped (ledger full); %s echoes "
                "in, %s late replies; server: %s accepts, %s handshakes, %s upgrades, %s answered 429, %s flapped, %s "
                "request replies, max %u open connections, %s rebind retries\n",
                fmt_u(s.ledger.issued()).c_str(), fmt_u(s.ledger.issued_sends.load()).c_str(),
                fmt_u(s.ledger.issued_requests.load()).c_str(), fmt_u(s.ledger.completed.load()).c_str(),
                fmt_u(s.ledger.skipped.load()).c_str(), fmt_u(s.echoes_in.load()).c_str(),
                fmt_u(s.unmatched.load()).c_str(), fmt_u(sv.accepts.load()).c_str(),
                fmt_u(sv.handshakes.load()).c_str(), fmt_u(sv.upgrades.load()).c_str(),
                fmt_u(sv.rejected_429.load()).c_str(), fmt_u(sv.flapped.load()).c_str(),
                fmt_u(sv.replies.load()).c_str(), sv.max_open_conns.load(), fmt_u(sv.rebind_failures.load()).c_str());
    code_line("send completions", s.ledger.send_codes);
    code_line("request completions", s.ledger.request_codes);
    std::printf("  faults injected: kill %s, reset %s, blackhole %s, flap %s, http429 %s\n",
                fmt_u(sv.faults[0].load()).c_str(), fmt_u(sv.faults[1].load()).c_str(),
                fmt_u(sv.faults[2].load()).c_str(), fmt_u(sv.faults[3].load()).c_str(),
                fmt_u(sv.faults[4].load()).c_str());
    using K = zenws::SupervisorEvent::Kind;
    std::printf("  supervision: %s restarts scheduled, %s parked (intensity exceeded), %s permanent failures, %s "
                "callback errors; clients: %s reconnects, %s heartbeats missed, %s ladders exhausted\n",
                fmt_u(s.sup_events[int(K::restart_scheduled)].load()).c_str(),
                fmt_u(s.sup_events[int(K::intensity_exceeded)].load()).c_str(),
                fmt_u(s.sup_events[int(K::permanent_failure)].load()).c_str(),
                fmt_u(s.sup_events[int(K::callback_error)].load()).c_str(), fmt_u(reconnects).c_str(),
                fmt_u(hb_missed).c_str(), fmt_u(exhausted).c_str());
    std::printf("  attempts per client in its busiest 60 s: p50 %u, p99 %u, max %u (client %d); most attempts by one "
                "client over the run %u; shortest gap between attempts of one Client instance %s ms, across a "
                "supervisor restart %s ms\n",
                p50_window, p99_window, max_window, max_window_client, max_attempts_client,
                min_gap_in == INT64_MAX ? "-" : std::to_string(min_gap_in).c_str(),
                min_gap_cross == INT64_MAX ? "-" : std::to_string(min_gap_cross).c_str());
    std::printf("  timing: all connected %s after the faults stopped; drain %.2f s; shutdown %.2f s; process CPU "
                "%.1f %% of one core on average\n",
                all_connected_after < 0 ? "never (within the recovery period)"
                                        : (std::to_string(all_connected_after).substr(0, 5) + " s").c_str(),
                drain_s, shutdown_s,
                100.0 * cpu_seconds() / std::chrono::duration<double>(Clock::now() - s.t0).count());

    bool ok = true;
    std::printf("\n%-58s %-22s %-16s %s\n", "invariant", "observed", "limit", "result");
    auto line = [&](const char* what, const std::string& seen, const std::string& limit, bool good,
                    bool counts = true) {
        std::printf("%-58s %-22s %-16s %s\n", what, seen.c_str(), limit.c_str(), counts ? pass(good) : "INFO");
        if (counts && !good) ok = false;
    };
    line("ledger: stranded after drain (all connected)", fmt_u(stranded_drain), "0", stranded_drain == 0);
    line("ledger: stranded after shutdown", fmt_u(stranded_shutdown), "0", stranded_shutdown == 0);
    line("ledger: completed more than once", fmt_u(s.ledger.duplicates.load()), "0", s.ledger.duplicates == 0);
    line("ledger: completion of an op never issued", fmt_u(s.ledger.unissued_completion.load()), "0",
         s.ledger.unissued_completion == 0);
    line("ledger: reply with another request's id", fmt_u(s.ledger.wrong_reply_id.load()), "0",
         s.ledger.wrong_reply_id == 0);
    line("ledger: issued == completed", fmt_u(s.ledger.issued()) + " / " + fmt_u(s.ledger.completed.load()), "equal",
         s.ledger.issued() == s.ledger.completed.load() && s.ledger.skipped == 0);
    line("attempts: max per client in any 60 s window", std::to_string(max_window), "<= " + std::to_string(bound),
         max_window <= std::uint32_t(bound) && max_window < std::uint32_t(kRing));
    {
        char seen[48];
        std::snprintf(seen, sizeof seen, "%u (ep%d, min %d)", max_ep_minute, max_ep, max_ep_min);
        line("attempts: max per endpoint in a minute", seen,
             "<= " + std::to_string(per_endpoint_clients[std::size_t(max_ep)] * bound), ep_ok);
    }
    line("attempts: gaps < min_attempt_interval within an instance", fmt_u(viol_in), "0", viol_in == 0);
    line("attempts: gaps < min_attempt_interval across restarts", fmt_u(viol_cross), "0 (not counted)", viol_cross == 0,
         false);
    line("attempts: Retry-After not honoured within an instance", fmt_u(ra_in) + " of " + fmt_u(ra_seen) + " 429s",
         "0", ra_in == 0);
    if (ra_in + ra_cross) {
        std::printf("%-58s up to %lld ms before the Retry-After had passed\n", "", (long long)ra_early_max);
    }
    line("attempts: Retry-After not honoured across restarts", fmt_u(ra_cross) + " of " + fmt_u(ra_seen) + " 429s",
         "0 (not counted)", ra_cross == 0, false);
    line("attempts: clients with more handshakes than attempts", fmt_u(server_over), "0", server_over == 0);
    line("stuck: clients not connected after recovery", std::to_string(stuck) + " of " + std::to_string(o.clients),
         "0", stuck == 0);
    {
        char seen[48];
        if (rss_checked) {
            std::snprintf(seen, sizeof seen, "%+.2f%% / %+.2f%% (%d)", rss_lo, rss_hi, rss_checked);
        } else {
            std::snprintf(seen, sizeof seen, "n/a (no sample after)");
        }
        char limit[32];
        if (base) {
            std::snprintf(limit, sizeof limit, "±%.1f%% of %.1f", o.rss_tol, base->rss);
        } else {
            std::snprintf(limit, sizeof limit, "±%.1f%%", o.rss_tol);
        }
        line("memory: RSS after warm-up vs the warm-up's last sample", seen, limit, rss_ok, rss_checked > 0);
        if (rss_checked) {
            std::snprintf(seen, sizeof seen, "%+.2f%% / %+.2f%%", heap_lo, heap_hi);
            std::snprintf(limit, sizeof limit, "of %.1f MiB", base->heap);
            line("memory: malloc bytes in use after warm-up (mallinfo2)", seen, limit, true, false);
        }
    }
    line("lifecycle: clients with on_connect != on_disconnect", fmt_u(unbalanced), "0", unbalanced == 0);
    if (!rss_ok && rss_checked) {
        std::printf("\nnote: RSS grew %+.1f%% while malloc's bytes in use moved %+.1f%%..%+.1f%% (they follow how many "
                    "clients are connected at the sample): memory freed but kept by the allocator (glibc keeps one "
                    "arena per thread and returns little of it), not live objects. Run again with MALLOC_ARENA_MAX=1 "
                    "to tell the two apart.\n",
                    rss_hi, heap_lo, heap_hi);
    }
    std::printf("\nzenws_soak: %s\n", ok ? "all invariants hold" : "INVARIANT FAILED");
    return ok ? 0 : 1;
}
