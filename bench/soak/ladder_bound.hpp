// bench/soak/ladder_bound.hpp — the most connection attempts one supervised client may make in any window of W ms,
// as allowed by its Config (retry_count, retry_delay, max_backoff, backoff_jitter, stable_after,
// min_attempt_interval) and its ClientSupervisor (restart backoff, restart intensity, failed_retry_after).
//
// Model (a transcription of src/core/reconnect_ladder.cpp, src/core/backoff.cpp, src/core/restart_intensity.cpp and
// ClientSupervisor::Impl::crashed in src/io/client_supervisor.cpp), chosen so that it can only over-count:
//   - every attempt takes no time, and every jittered delay is at the bottom of its range (d - floor(d/4));
//   - Retry-After and connect timeouts are ignored (they only lengthen delays);
//   - after each attempt an adversary chooses the outcome: F = it fails, or the connection drops before
//     stable_after (a flap: the ladder goes on, same retry budget), S = it connects and stays up exactly
//     stable_after (its loss starts a fresh ladder with an immediate retry), R = it stays up max(stable_after,
//     reset_after) (as S, and the next supervisor restart is immediate again). Longer up-times only delay;
//   - within one Client instance: the first connection's ladder has retry_count backoff retries (no immediate
//     one), an outage after a stable connection has an immediate retry then retry_count - 1 backoff retries; every
//     delay is at least min_attempt_interval after the previous attempt of the instance started;
//   - the instance gives up when its retries are spent: the supervisor restarts it after RestartDelay (first
//     crash immediate, then base, 2 base, ... up to cap; reset by a connection that stayed up reset_after), and a
//     new Client instance starts a fresh first-connection ladder. Its first attempt is NOT held back by
//     min_attempt_interval (the floor lives in the instance's ladder, which is new);
//   - the window may start at any attempt, in any ladder position and any restart-backoff position (every such
//     state is enumerated). Parking (restart intensity exceeded) only removes attempts, so it is ignored; the model
//     also computes the most crashes possible in max_time and says whether parking can happen at all.
// The answer is exact for this model (depth-first search with memoisation over (time, ladder, restart state)).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <unordered_map>

namespace soak {

struct LadderParams {
    int retry_count = 3;
    std::int64_t retry_delay = 1000, max_backoff = 30000;  // ms
    bool jitter = true;
    std::int64_t stable_after = 10000, min_attempt_interval = 250;
    bool restart_backoff = true;
    std::int64_t restart_base = 100, restart_cap = 10000, reset_after = 30000;
    bool restart_jitter = true;
    int max_restarts = 10;
    std::int64_t max_time = 60000;
};

class LadderBound {
public:
    explicit LadderBound(LadderParams p) : p_(p) {}

    // Most attempts in [0, window).
    int max_attempts(std::int64_t window) { return run(window, false); }
    // Most crashes (supervisor restarts) in [0, window).
    int max_crashes(std::int64_t window) { return run(window, true); }

private:
    static std::int64_t nominal(std::int64_t base, std::int64_t cap, std::int64_t n) {
        if (base <= 0) return 0;
        if (base >= cap) return cap;
        std::int64_t d = base;
        for (std::int64_t i = 0; i < n && d < cap; ++i) d *= 2;
        return std::min(d, cap);
    }
    static std::int64_t low(std::int64_t d, bool jitter) { return (!jitter || d <= 1) ? d : d - d / 4; }

    // Ladder delay for the decision taken with `r` retries already spent in this outage.
    std::int64_t ladder_delay(int r, bool immediate) const {
        if (immediate && r == 0) return 0;
        return low(nominal(p_.retry_delay, p_.max_backoff, r - (immediate ? 1 : 0)), p_.jitter);
    }
    std::int64_t restart_delay(int rd) const {
        if (!p_.restart_backoff || rd == 0) return 0;
        return low(nominal(p_.restart_base, p_.restart_cap, rd - 1), p_.restart_jitter);
    }
    int rd_cap_index() const {
        int i = 1;
        while (i < 62 && nominal(p_.restart_base, p_.restart_cap, i - 1) < p_.restart_cap) ++i;
        return i;  // indexes >= this all give the cap
    }

    // An attempt happens at `t` with `r` retries spent (immediate = this outage began after a stable connection),
    // restart backoff at index `rd`, `rs` = a connection of this child stayed up reset_after since the last crash.
    int f(std::int64_t t, int r, bool immediate, int rd, bool rs) {
        if (t >= window_) return 0;
        rd = std::min(rd, rd_cap_);
        std::uint64_t key = (std::uint64_t(t) << 24) | (std::uint64_t(r) << 10) | (std::uint64_t(immediate) << 9) |
                            (std::uint64_t(rd) << 1) | std::uint64_t(rs);
        if (auto it = memo_.find(key); it != memo_.end()) return it->second;
        const int here = count_crashes_ ? 0 : 1;
        int best = 0;
        // F: fails (or flaps).
        best = std::max(best, after_failure(t, r, immediate, rd, rs));
        // S / R: stays up, then its loss starts a fresh outage with an immediate retry.
        for (int kind = 0; kind < 2; ++kind) {
            std::int64_t up = kind == 0 ? p_.stable_after : std::max(p_.stable_after, p_.reset_after);
            bool rs2 = rs || up >= p_.reset_after;
            std::int64_t lost = t + up;
            if (lost >= window_) continue;
            int v;
            if (p_.retry_count <= 0) {
                v = crash(lost, rd, rs2);
            } else {
                std::int64_t floor = std::max<std::int64_t>(0, p_.min_attempt_interval - up);
                v = f(lost + std::max(ladder_delay(0, true), floor), 1, true, rd, rs2);
            }
            best = std::max(best, v);
        }
        int value = here + best;
        memo_.emplace(key, value);
        return value;
    }

    int after_failure(std::int64_t t, int r, bool immediate, int rd, bool rs) {
        if (r >= p_.retry_count) return crash(t, rd, rs);
        std::int64_t d = std::max(ladder_delay(r, immediate), p_.min_attempt_interval);
        return f(t + d, r + 1, immediate, rd, rs);
    }

    // The instance gave up at `t`: the supervisor restarts it (a fresh Client: first-connection ladder).
    int crash(std::int64_t t, int rd, bool rs) {
        if (t >= window_) return 0;
        if (rs) rd = 0;
        std::int64_t d = restart_delay(rd);
        return (count_crashes_ ? 1 : 0) + f(t + d, 0, false, rd + 1, false);
    }

    int run(std::int64_t window, bool crashes) {
        window_ = window;
        count_crashes_ = crashes;
        rd_cap_ = rd_cap_index();
        memo_.clear();
        int best = 0;
        for (int rd = 0; rd <= rd_cap_; ++rd) {
            for (int rs = 0; rs < 2; ++rs) {
                for (int r = 0; r <= std::max(0, p_.retry_count); ++r) {
                    best = std::max(best, f(0, r, false, rd, rs));
                    if (r >= 1) best = std::max(best, f(0, r, true, rd, rs));
                }
            }
        }
        return best;
    }

    LadderParams p_;
    std::int64_t window_ = 60000;
    bool count_crashes_ = false;
    int rd_cap_ = 1;
    std::unordered_map<std::uint64_t, int> memo_;
};

}  // namespace soak
