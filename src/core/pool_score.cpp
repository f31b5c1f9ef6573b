// pool_score.cpp — owns the pool health score, the decayed error records and the round-robin ranking (PoolRouter).
#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "zenws/pool_router.hpp"

namespace zenws {

int health_score(const HealthInputs& in, double recent_errors, const PoolScoring& s) noexcept {
    if (!in.connected) return -1;
    auto capped = [](std::uint64_t v, std::uint64_t cap) { return static_cast<int>(std::min(v, cap)); };
    int pending = capped(static_cast<std::uint64_t>(in.pending_requests) * static_cast<std::uint64_t>(s.pending_weight),
                         static_cast<std::uint64_t>(s.pending_cap));
    std::uint64_t p99_ms = in.p99_request_us / 1000;
    int latency = s.latency_step_ms > 0 ? capped(p99_ms / static_cast<std::uint64_t>(s.latency_step_ms),
                                                 static_cast<std::uint64_t>(s.latency_cap))
                                        : 0;
    int heartbeat = capped(static_cast<std::uint64_t>(std::max(0, in.heartbeat_failures)) *
                               static_cast<std::uint64_t>(s.heartbeat_weight),
                           static_cast<std::uint64_t>(s.heartbeat_cap));
    double e = std::max(0.0, recent_errors) * s.error_weight;
    int errors = static_cast<int>(std::min(std::lround(std::min(e, 1e6)), static_cast<long>(s.error_cap)));
    return std::max(0, 100 - pending - latency - heartbeat - errors);
}

PoolRouter::PoolRouter(PoolScoring scoring) : scoring_(scoring) {}

double PoolRouter::decayed(const ErrorRecord& r, SteadyTime now) const {
    if (now <= r.at || scoring_.error_half_life.count() <= 0) return r.level;
    double half_lives = std::chrono::duration<double, std::milli>(now - r.at).count() /
                        static_cast<double>(scoring_.error_half_life.count());
    return r.level * std::exp2(-half_lives);
}

void PoolRouter::record_error(std::uint64_t id, SteadyTime now) {
    std::lock_guard lock(mutex_);
    auto& r = errors_[id];
    r.level = decayed(r, now) + 1.0;
    r.at = std::max(r.at, now);
    // Bound the table: drop records that decayed to nothing.
    if (errors_.size() > 1024) {
        for (auto it = errors_.begin(); it != errors_.end();) {
            it = decayed(it->second, now) < 0.01 ? errors_.erase(it) : std::next(it);
        }
    }
}

void PoolRouter::record_success(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    errors_.erase(id);
}

void PoolRouter::forget(std::uint64_t id) { record_success(id); }

double PoolRouter::recent_errors(std::uint64_t id, SteadyTime now) const {
    std::lock_guard lock(mutex_);
    auto it = errors_.find(id);
    return it == errors_.end() ? 0.0 : decayed(it->second, now);
}

int PoolRouter::score(const PoolCandidate& c, SteadyTime now) const {
    return health_score(c.health, recent_errors(c.id, now), scoring_);
}

std::size_t PoolRouter::tracked() const {
    std::lock_guard lock(mutex_);
    return errors_.size();
}

std::vector<RankedCandidate> PoolRouter::rank(std::span<const PoolCandidate> candidates, SteadyTime now) {
    std::vector<RankedCandidate> out;
    out.reserve(candidates.size());
    std::unordered_set<std::uint64_t> seen;
    std::uint64_t turn;
    {
        std::lock_guard lock(mutex_);
        turn = round_robin_++;
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            const auto& c = candidates[i];
            if (!seen.insert(c.id).second) continue;
            auto it = errors_.find(c.id);
            double errs = it == errors_.end() ? 0.0 : decayed(it->second, now);
            int s = health_score(c.health, errs, scoring_);
            if (s >= 0) out.push_back(RankedCandidate{i, c.id, s});
        }
    }
    // Best score first; equal scores in id order, then rotated by the round-robin turn.
    std::sort(out.begin(), out.end(), [](const RankedCandidate& a, const RankedCandidate& b) {
        return a.score != b.score ? a.score > b.score : a.id < b.id;
    });
    for (std::size_t begin = 0; begin < out.size();) {
        std::size_t end = begin;
        while (end < out.size() && out[end].score == out[begin].score) ++end;
        std::size_t n = end - begin;
        if (n > 1) std::rotate(out.begin() + static_cast<std::ptrdiff_t>(begin),
                               out.begin() + static_cast<std::ptrdiff_t>(begin + turn % n),
                               out.begin() + static_cast<std::ptrdiff_t>(end));
        begin = end;
    }
    return out;
}

}  // namespace zenws
