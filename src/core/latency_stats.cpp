// latency_stats.cpp — owns LatencyStats: the ring of recent microsecond samples and its nearest-rank summary.
#include "zenws/latency_stats.hpp"

#include <algorithm>

namespace zenws {

LatencyStats::LatencyStats(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void LatencyStats::add(std::uint64_t micros) noexcept {
    if (ring_.empty()) {
        try {
            ring_.assign(capacity_, 0);
        } catch (...) {
            return;
        }
    }
    ring_[next_] = micros;
    next_ = (next_ + 1 == ring_.size()) ? 0 : next_ + 1;
    if (count_ < ring_.size()) ++count_;
    ++total_;
}

void LatencyStats::clear() noexcept {
    next_ = 0;
    count_ = 0;
    total_ = 0;
}

std::uint64_t LatencyStats::percentile(std::span<const std::uint64_t> sorted, unsigned per_mille) noexcept {
    const std::size_t n = sorted.size();
    if (n == 0) return 0;
    const std::uint64_t q = std::min(per_mille, 1000u);
    // ceil(q * n / 1000) without floating point; q * n cannot overflow for any realistic window (n < 2^54).
    std::uint64_t rank = (q * static_cast<std::uint64_t>(n) + 999) / 1000;
    rank = std::clamp<std::uint64_t>(rank, 1, n);
    return sorted[static_cast<std::size_t>(rank - 1)];
}

LatencySummary LatencyStats::snapshot() const {
    LatencySummary s;
    if (count_ == 0) return s;
    const std::size_t cap = ring_.size();
    // The window is ring_[0, count_) until the ring wraps, then all of it; order does not matter once sorted.
    std::vector<std::uint64_t> sorted(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(count_));
    std::sort(sorted.begin(), sorted.end());

    s.count = count_;
    s.last = ring_[(next_ + cap - 1) % cap];
    s.min = sorted.front();
    s.max = sorted.back();
    // Mean without overflow: quotient and remainder sums separately.
    std::uint64_t quotient_sum = 0, remainder_sum = 0;
    const std::uint64_t n = count_;
    for (std::uint64_t v : sorted) {
        quotient_sum += v / n;
        remainder_sum += v % n;  // < n * n: fine for any window up to 2^32 samples
    }
    const std::uint64_t rem_mean = remainder_sum / n;
    const std::uint64_t rem_left = remainder_sum % n;
    s.mean = quotient_sum + rem_mean + (rem_left * 2 >= n ? 1 : 0);
    s.p50 = percentile(sorted, 500);
    s.p90 = percentile(sorted, 900);
    s.p99 = percentile(sorted, 990);
    s.p999 = percentile(sorted, 999);
    return s;
}

}  // namespace zenws
