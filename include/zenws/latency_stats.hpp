// zenws/latency_stats.hpp — owns LatencyStats: a fixed-capacity window of the most recent latency samples (µs) and
// the summary (count, last, min, max, mean, percentiles) computed from it.
//
// Single-threaded: the client guards it. The ring is allocated once, by the first add() (so an idle client holds
// no samples memory); later add() calls never allocate. snapshot() sorts a copy of the window.
//
// Percentiles use the nearest-rank method on the samples in the window, with integer arithmetic (no floating
// point rounding): for n samples sorted ascending and a percentile given in per mille q (500 = p50, 999 = p99.9),
//     rank = ceil(q * n / 1000), clamped to [1, n];   value = sorted[rank - 1].
// So for the samples 1..100: p50 = 50, p90 = 90, p99 = 99, p99.9 = 100, and for a single sample every percentile
// is that sample. The mean is the arithmetic mean rounded to the nearest microsecond (halves up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace zenws {

struct LatencySummary {
    std::size_t count = 0;       // samples in the window (<= capacity); all other fields are 0 when count == 0
    std::uint64_t last = 0;      // the newest sample
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    std::uint64_t mean = 0;
    std::uint64_t p50 = 0;
    std::uint64_t p90 = 0;
    std::uint64_t p99 = 0;
    std::uint64_t p999 = 0;      // p99.9
};

class LatencyStats {
public:
    // Keeps the newest `capacity` samples (Config::latency_buffer_size). A capacity of 0 is treated as 1.
    explicit LatencyStats(std::size_t capacity = 100);

    // Records one sample in microseconds; once the window is full the oldest sample is dropped. Allocates only on
    // the first call (if that allocation fails the sample is dropped).
    void add(std::uint64_t micros) noexcept;
    // The summary of the samples currently in the window.
    LatencySummary snapshot() const;
    // Forgets every sample (capacity unchanged).
    void clear() noexcept;

    std::size_t size() const noexcept { return count_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return count_ == 0; }
    // Samples ever added (including evicted ones) since construction or clear().
    std::uint64_t total_added() const noexcept { return total_; }

    // Nearest-rank percentile (see above) of an ascending range; `per_mille` in 0..1000. 0 for an empty range.
    static std::uint64_t percentile(std::span<const std::uint64_t> sorted, unsigned per_mille) noexcept;

private:
    std::size_t capacity_;
    std::vector<std::uint64_t> ring_;  // empty until the first sample
    std::size_t next_ = 0;   // where the next sample goes
    std::size_t count_ = 0;
    std::uint64_t total_ = 0;
};

}  // namespace zenws
