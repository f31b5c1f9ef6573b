// backoff.cpp — owns ReconnectBackoff (capped exponential reconnect delays with optional jitter) and make_backoff().
#include "zenws/backoff.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "zenws/config.hpp"

namespace zenws {

using std::chrono::milliseconds;

std::uint64_t random_backoff_seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ static_cast<std::uint64_t>(rd());
}

ReconnectBackoff::ReconnectBackoff(milliseconds base, milliseconds cap, bool jitter, bool immediate_first,
                                   std::uint64_t seed)
    : base_(std::max(base, milliseconds{0})),
      cap_(std::max(cap, milliseconds{0})),
      jitter_(jitter),
      immediate_first_(immediate_first),
      rng_{seed} {}

milliseconds ReconnectBackoff::nominal(std::uint64_t n) const noexcept {
    const std::int64_t base = base_.count();
    const std::int64_t cap = cap_.count();
    if (base == 0) return milliseconds{0};
    if (base >= cap) return cap_;
    // base < cap here, so base * 2^n < cap  <=>  base < cap >> n (for n < 63); beyond that it is always the cap.
    if (n >= 62) return cap_;
    if (base > (cap >> n)) return cap_;
    const std::int64_t d = base << n;  // <= cap, no overflow
    return milliseconds{std::min(d, cap)};
}

milliseconds ReconnectBackoff::next() {
    const int index = attempts_;
    if (attempts_ < INT_MAX) ++attempts_;
    if (immediate_first_ && index == 0) return milliseconds{0};
    const auto step = static_cast<std::uint64_t>(index - (immediate_first_ ? 1 : 0));
    const std::int64_t d = nominal(step).count();
    if (!jitter_ || d <= 1) return milliseconds{d};
    const std::int64_t low = d - d / 4;  // ceil(0.75 * d): >= 1 whenever d >= 1
    std::uniform_int_distribution<std::int64_t> pick(low, d);
    return milliseconds{pick(rng_)};
}

ReconnectBackoff make_backoff(const Config& config, bool immediate_first) {
    return ReconnectBackoff(config.retry_delay, config.max_backoff, config.backoff_jitter, immediate_first);
}

}  // namespace zenws
