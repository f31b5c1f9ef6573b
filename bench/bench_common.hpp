// bench/bench_common.hpp — shared plumbing for the benchmark clients: flags, clocks, CPU and RSS probes, payloads,
// and the single machine-readable result line every client prints.
//
// Every client executable takes the same flags:
//   --port P  --mode rtt|pipeline|throughput|idle  --size BYTES  --count N  --window W  --conns C  --warmup N
// and prints exactly one line starting with "RESULT " made of key=value pairs (scripts/bench.sh parses it).
//
// Modes (defaults in parentheses):
//   rtt         one connection, one text message (64 B) in flight; --warmup (1000) untimed, then --count (50000)
//               timed round trips; reports p50/p99/p99.9 in microseconds.
//   pipeline    one connection, text messages (64 B) with up to --window (1000) in flight; --count (200000) echoes
//               received; reports messages per second.
//   throughput  one connection, binary messages (16384 B) with up to --window (16) in flight; --count (20000);
//               reports MB/s of payload echoed (10^6 bytes per second, one direction).
//   idle        opens --conns (1000) connections and keeps them open; VmRSS after the first connection vs after the
//               last; reports KiB per extra connection.
// CPU per message is getrusage(RUSAGE_SELF) user+sys over the timed phase divided by the messages received.
#pragma once

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

enum class Mode { rtt, pipeline, throughput, idle };

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    Mode mode = Mode::rtt;
    std::size_t size = 0;      // 0 = default for the mode
    std::size_t count = 0;     // 0 = default for the mode
    std::size_t window = 0;    // 0 = default for the mode
    std::size_t conns = 1000;  // idle mode
    std::size_t warmup = 1000; // rtt mode (also used as a short warm-up by pipeline/throughput)

    bool text() const { return mode != Mode::throughput; }  // 64 B modes send text, 16 KiB sends binary
    std::string_view mode_name() const {
        switch (mode) {
            case Mode::rtt: return "rtt";
            case Mode::pipeline: return "pipeline";
            case Mode::throughput: return "throughput";
            case Mode::idle: return "idle";
        }
        return "?";
    }
};

[[noreturn]] inline void die(const char* what, const char* detail = "") {
    std::fprintf(stderr, "bench: %s %s\n", what, detail);
    std::exit(2);
}

inline Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) die("missing value for", argv[i]);
            return argv[++i];
        };
        if (a == "--port") o.port = std::atoi(value());
        else if (a == "--host") o.host = value();
        else if (a == "--size") o.size = std::strtoull(value(), nullptr, 10);
        else if (a == "--count") o.count = std::strtoull(value(), nullptr, 10);
        else if (a == "--window") o.window = std::strtoull(value(), nullptr, 10);
        else if (a == "--conns") o.conns = std::strtoull(value(), nullptr, 10);
        else if (a == "--warmup") o.warmup = std::strtoull(value(), nullptr, 10);
        else if (a == "--mode") {
            std::string_view m = value();
            if (m == "rtt") o.mode = Mode::rtt;
            else if (m == "pipeline") o.mode = Mode::pipeline;
            else if (m == "throughput") o.mode = Mode::throughput;
            else if (m == "idle") o.mode = Mode::idle;
            else die("unknown mode", argv[i]);
        } else if (a == "--help" || a == "-h") {
            std::printf("usage: %s --port P [--mode rtt|pipeline|throughput|idle] [--size B] [--count N] "
                        "[--window W] [--conns C] [--warmup N]\n", argv[0]);
            std::exit(0);
        } else {
            die("unknown flag", argv[i]);
        }
    }
    if (o.port <= 0 || o.port > 65535) die("--port is required");
    switch (o.mode) {
        case Mode::rtt:
            if (!o.size) o.size = 64;
            if (!o.count) o.count = 50000;
            o.window = 1;
            break;
        case Mode::pipeline:
            if (!o.size) o.size = 64;
            if (!o.count) o.count = 200000;
            if (!o.window) o.window = 1000;
            break;
        case Mode::throughput:
            if (!o.size) o.size = 16384;
            if (!o.count) o.count = 20000;
            if (!o.window) o.window = 16;
            break;
        case Mode::idle:
            if (!o.size) o.size = 64;
            if (o.conns < 2) o.conns = 2;
            break;
    }
    if (o.window == 0) o.window = 1;
    if (o.count > 100'000'000) die("--count too large");
    if (o.conns > 100'000) die("--conns too large");
    return o;
}

inline std::uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

// user+sys CPU time of this process, in microseconds
inline double cpu_us() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// VmRSS from /proc/self/status, in KiB
inline long rss_kib() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmRSS:", 6) == 0) {
            kib = std::strtol(line + 6, nullptr, 10);
            break;
        }
    }
    std::fclose(f);
    return kib;
}

// Printable ASCII payload (valid UTF-8 for text frames), deterministic.
inline std::string make_payload(std::size_t size) {
    std::string s(size, ' ');
    for (std::size_t i = 0; i < size; ++i) s[i] = char('a' + (i * 7) % 26);
    return s;
}

// Timed-phase bookkeeping shared by all clients.
struct Meter {
    std::uint64_t t0 = 0, t1 = 0;
    double c0 = 0, c1 = 0;
    void start() { c0 = cpu_us(); t0 = now_ns(); }
    void stop() { t1 = now_ns(); c1 = cpu_us(); }
    double seconds() const { return double(t1 - t0) / 1e9; }
};

inline void report_rtt(const char* impl, const Options& o, std::vector<std::uint64_t>& samples_ns, const Meter& m) {
    if (samples_ns.empty()) die("no samples");
    std::sort(samples_ns.begin(), samples_ns.end());
    auto pct = [&](double p) {
        std::size_t idx = std::size_t(p * double(samples_ns.size() - 1) + 0.5);
        return double(samples_ns[std::min(idx, samples_ns.size() - 1)]) / 1000.0;
    };
    double sum = 0;
    for (auto s : samples_ns) sum += double(s);
    std::printf("RESULT impl=%s mode=rtt size=%zu n=%zu p50_us=%.2f p99_us=%.2f p999_us=%.2f mean_us=%.2f "
                "max_us=%.2f cpu_us_per_msg=%.3f\n",
                impl, o.size, samples_ns.size(), pct(0.50), pct(0.99), pct(0.999), sum / double(samples_ns.size()) / 1000.0,
                double(samples_ns.back()) / 1000.0, (m.c1 - m.c0) / double(samples_ns.size()));
    std::fflush(stdout);
}

inline void report_rate(const char* impl, const Options& o, std::size_t messages, const Meter& m) {
    double s = m.seconds();
    if (s <= 0) s = 1e-9;
    std::printf("RESULT impl=%s mode=%s size=%zu window=%zu n=%zu seconds=%.4f msgs_per_s=%.0f mb_per_s=%.2f "
                "cpu_us_per_msg=%.3f\n",
                impl, std::string(o.mode_name()).c_str(), o.size, o.window, messages, s, double(messages) / s,
                double(messages) * double(o.size) / s / 1e6, (m.c1 - m.c0) / double(messages ? messages : 1));
    std::fflush(stdout);
}

// Memory snapshot for the idle mode: VmRSS plus the bytes malloc has handed out (heap in use).
struct MemSnapshot {
    long rss_kib = 0;
    std::size_t heap_bytes = 0;
};
inline MemSnapshot snapshot() {
    struct mallinfo2 mi = mallinfo2();
    return MemSnapshot{rss_kib(), mi.uordblks + mi.hblkhd};
}

inline void report_idle(const char* impl, const Options& /*o*/, const MemSnapshot& first, const MemSnapshot& last,
                        std::size_t opened) {
    double n = opened > 1 ? double(opened - 1) : 1.0;
    double per = double(last.rss_kib - first.rss_kib) / n;
    double heap = (double(last.heap_bytes) - double(first.heap_bytes)) / n / 1024.0;
    std::printf("RESULT impl=%s mode=idle conns=%zu rss_first_kib=%ld rss_last_kib=%ld kib_per_conn=%.2f "
                "heap_kib_per_conn=%.2f\n",
                impl, opened, first.rss_kib, last.rss_kib, per, heap);
    std::fflush(stdout);
}

// Deadline guard: every client loop checks this so that nothing runs forever.
struct Deadline {
    std::uint64_t end;
    explicit Deadline(double seconds) : end(now_ns() + std::uint64_t(seconds * 1e9)) {}
    bool passed() const { return now_ns() > end; }
};

}  // namespace bench
