// demo_console.hpp — shared by `zenws demo` and `zenws pool`: the per-client status rows (state, restarts,
// heartbeat RTT, messages in/out, request p50/p99) and a console that either redraws a live table in place (ANSI, on
// a terminal) or prints plain lines, with event lines scrolling above the table.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "zenws/supervisor.hpp"

namespace zenws::tool {

struct StatusRow {
    std::string name;
    std::string state;
    int restarts = 0;
    double heartbeat_rtt_ms = 0;
    std::uint64_t in = 0, out = 0;
    double p50_ms = 0, p99_ms = 0;
    std::string extra;  // free text at the end of the row
};

inline StatusRow status_row(std::string name, const ClientHandle& h) {
    StatusRow r;
    r.name = std::move(name);
    ClientMetrics m = h.metrics();
    r.state = std::string(to_string(h.state()));
    if (h.status() == ChildStatus::failed) r.state = "parked";
    r.restarts = h.restarts();
    auto rtt = m.heartbeat.last_rtt.count();
    if (rtt == 0) rtt = static_cast<long long>(m.ping_rtt.last);
    r.heartbeat_rtt_ms = static_cast<double>(rtt) / 1000.0;
    r.in = m.counters.messages_in;
    r.out = m.counters.messages_out;
    r.p50_ms = static_cast<double>(m.request_rtt.p50) / 1000.0;
    r.p99_ms = static_cast<double>(m.request_rtt.p99) / 1000.0;
    return r;
}

inline std::string status_header() {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%-12s %-13s %8s %9s %9s %9s %8s %8s  %s", "client", "state", "restarts", "hb rtt ms",
                  "msgs in", "msgs out", "p50 ms", "p99 ms", "");
    return buf;
}

inline std::string format_row(const StatusRow& r) {
    char buf[400];
    char rtt[32] = "-";  // no RTT for heartbeats the server initiates (Deribit test_request, Binance pings)
    if (r.heartbeat_rtt_ms > 0) std::snprintf(rtt, sizeof rtt, "%.2f", r.heartbeat_rtt_ms);
    std::snprintf(buf, sizeof buf, "%-12s %-13s %8d %9s %9llu %9llu %8.2f %8.2f  %s", r.name.c_str(),
                  r.state.c_str(), r.restarts, rtt, static_cast<unsigned long long>(r.in),
                  static_cast<unsigned long long>(r.out), r.p50_ms, r.p99_ms, r.extra.c_str());
    return buf;
}

// Event lines go to `lines` (stdout); the live table goes to `table_out`. When live, the table is erased before an
// event line is printed and drawn again below it, so the two never interleave.
class Console {
public:
    Console(bool live, std::FILE* lines, std::FILE* table_out) : live_(live), lines_(lines), table_out_(table_out) {}

    static bool is_terminal(std::FILE* f) { return ::isatty(::fileno(f)) == 1; }

    void line(const std::string& text) {
        std::lock_guard lock(mutex_);
        erase_locked();
        std::fwrite(text.data(), 1, text.size(), lines_);
        std::fputc('\n', lines_);
        std::fflush(lines_);
        draw_locked();
    }

    // Replaces the table (live) — a no-op otherwise.
    void table(std::vector<std::string> rows) {
        if (!live_) return;
        std::lock_guard lock(mutex_);
        erase_locked();
        rows_ = std::move(rows);
        draw_locked();
    }

    // Leaves the last table on screen and stops redrawing.
    void finish() {
        std::lock_guard lock(mutex_);
        drawn_ = 0;
        rows_.clear();
        live_ = false;
    }

    bool live() const { return live_; }

private:
    void erase_locked() {
        if (!live_ || drawn_ == 0) return;
        std::fprintf(table_out_, "\x1b[%dA\x1b[J", drawn_);
        drawn_ = 0;
    }
    void draw_locked() {
        if (!live_ || rows_.empty()) return;
        if (table_out_ != lines_) std::fflush(lines_);
        for (const auto& r : rows_) {
            std::fwrite(r.data(), 1, r.size(), table_out_);
            std::fputs("\x1b[K\n", table_out_);
        }
        drawn_ = static_cast<int>(rows_.size());
        std::fflush(table_out_);
    }

    bool live_;
    std::FILE* lines_;
    std::FILE* table_out_;
    std::mutex mutex_;
    std::vector<std::string> rows_;
    int drawn_ = 0;
};

}  // namespace zenws::tool
