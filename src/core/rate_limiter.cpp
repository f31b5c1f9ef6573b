// rate_limiter.cpp — owns TokenBucket (GCRA on one atomic, compare-exchange only), RateLimitPolicy::admit and
// the exchange presets. See zenws/rate_limiter.hpp for the algorithm and its guarantee.
#include "zenws/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace zenws {
namespace {

constexpr std::int64_t never_used = std::numeric_limits<std::int64_t>::min();
constexpr double ns_per_second = 1e9;
// Largest capacity in ns of refill we accept (~31 years): keeps every sum below far from int64 overflow.
constexpr double max_tau_ns = 1e18;

std::int64_t to_ns(TokenBucket::Clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool TokenBucket::valid(double capacity, double refill_per_second) noexcept {
    if (!(capacity > 0) || !(refill_per_second > 0)) return false;  // also rejects NaN
    if (!std::isfinite(capacity) || !std::isfinite(refill_per_second)) return false;
    if (refill_per_second > TokenBucket::max_rate) return false;
    return capacity * ns_per_second / refill_per_second < max_tau_ns;
}

namespace {
// Slack for refill periods that are not a whole number of ns: costs are rounded UP to whole ns (never under-charged),
// so a full burst of `capacity` tokens could be a few ns short; one ns per token of capacity restores it.
std::int64_t burst_slack(double capacity, double ns_per_token) {
    return std::floor(ns_per_token) == ns_per_token ? 0 : static_cast<std::int64_t>(std::ceil(capacity));
}
double sane_capacity(double c) { return (c > 0 && std::isfinite(c)) ? c : 1.0; }
double sane_rate(double r) { return (r > 0 && std::isfinite(r)) ? std::min(r, TokenBucket::max_rate) : 1.0; }
}  // namespace

TokenBucket::TokenBucket(double capacity, double refill_per_second)
    : capacity_(sane_capacity(capacity)),
      rate_(sane_rate(refill_per_second)),
      ns_per_token_(ns_per_second / rate_),
      tau_ns_(0),
      tat_ns_(never_used) {
    if (capacity_ * ns_per_token_ >= max_tau_ns) capacity_ = max_tau_ns / 2 / ns_per_token_;
    tau_ns_ = static_cast<std::int64_t>(std::ceil(capacity_ * ns_per_token_)) + burst_slack(capacity_, ns_per_token_);
}

// Cost in ns of refill, or -1 when it can never be granted (negative, NaN, above capacity).
std::int64_t TokenBucket::cost_ns(double cost) const noexcept {
    if (!(cost >= 0) || cost > capacity_) return -1;
    if (cost == 0) return 0;
    const auto ns = static_cast<std::int64_t>(std::ceil(cost * ns_per_token_));
    return std::clamp<std::int64_t>(ns, 1, tau_ns_);
}

bool TokenBucket::try_acquire(double cost, Clock::time_point now) noexcept {
    return reserve(cost, now, Clock::duration::zero()).has_value();
}

std::optional<TokenBucket::Clock::duration> TokenBucket::reserve(double cost, Clock::time_point now,
                                                                 Clock::duration max_wait) noexcept {
    const std::int64_t c = cost_ns(cost);
    if (c < 0) return std::nullopt;
    if (c == 0) return Clock::duration::zero();
    const std::int64_t now_ns = to_ns(now);
    const std::int64_t wait_limit = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::nanoseconds>(max_wait).count());
    std::int64_t tat = tat_ns_.load(std::memory_order_acquire);
    // Every failed compare-exchange means another thread made progress (took tokens), so this terminates.
    for (;;) {
        const std::int64_t base = std::max(tat, now_ns);
        const std::int64_t new_tat = base + c;
        // Tokens after the grant must be >= 0 at the instant the caller will send (now + wait):
        //   new_tat - (now + wait) <= tau   =>   wait = max(0, new_tat - now - tau)
        const std::int64_t wait = std::max<std::int64_t>(0, new_tat - now_ns - tau_ns_);
        if (wait > wait_limit) return std::nullopt;
        if (tat_ns_.compare_exchange_weak(tat, new_tat, std::memory_order_acq_rel, std::memory_order_acquire))
            return std::chrono::ceil<Clock::duration>(std::chrono::nanoseconds{wait});
    }
}

TokenBucket::Clock::duration TokenBucket::time_until_available(double cost, Clock::time_point now) const noexcept {
    const std::int64_t c = cost_ns(cost);
    if (c < 0) return Clock::duration::max();
    if (c == 0) return Clock::duration::zero();
    const std::int64_t now_ns = to_ns(now);
    const std::int64_t tat = tat_ns_.load(std::memory_order_acquire);
    const std::int64_t wait = std::max<std::int64_t>(0, std::max(tat, now_ns) + c - now_ns - tau_ns_);
    // Round up so that now + result is never a nanosecond too early on clocks coarser than 1 ns.
    return std::chrono::ceil<Clock::duration>(std::chrono::nanoseconds{wait});
}

double TokenBucket::available(Clock::time_point now) const noexcept {
    const std::int64_t now_ns = to_ns(now);
    const std::int64_t tat = tat_ns_.load(std::memory_order_acquire);
    if (tat <= now_ns) return capacity_;
    const std::int64_t debt = tat - now_ns;  // ns of refill still owed
    if (debt >= tau_ns_) return 0.0;
    const double tokens = static_cast<double>(tau_ns_ - debt) / ns_per_token_;
    return std::clamp(tokens, 0.0, capacity_);
}

// ---- policy ----------------------------------------------------------------------------------------------------

namespace {

Result<TokenBucket::Clock::duration> charge(const RateLimitPolicy& policy, TokenBucket::Clock::time_point now,
                                            const std::vector<double>& costs) {
    using Dur = TokenBucket::Clock::duration;
    const Dur max_wait = policy.mode == RateLimitPolicy::Mode::delay
                             ? std::chrono::duration_cast<Dur>(policy.max_delay)
                             : Dur::zero();
    Dur wait = Dur::zero();
    for (std::size_t i = 0; i < policy.rules.size(); ++i) {
        const auto& rule = policy.rules[i];
        const double cost = costs[i];
        if (!rule.bucket || cost == 0) continue;
        auto granted = rule.bucket->reserve(cost, now, max_wait);
        if (!granted) {
            std::string msg = "local rate limit: a message costing " + std::to_string(cost) + " tokens exceeds ";
            if (!(cost <= rule.bucket->capacity())) {
                msg += "the bucket capacity " + std::to_string(rule.bucket->capacity()) + " (it can never be sent)";
            } else {
                auto until = rule.bucket->time_until_available(cost, now);
                msg += "the tokens available; next in " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(until).count()) + " ms";
            }
            Error e(Errc::rate_limited, std::move(msg));
            e.raw = "rule " + std::to_string(i);
            return e;
        }
        wait = std::max(wait, *granted);
    }
    return wait;
}

}  // namespace

Result<TokenBucket::Clock::duration> RateLimitPolicy::admit(std::string_view message,
                                                            TokenBucket::Clock::time_point now) const {
    std::vector<double> costs;
    costs.reserve(rules.size());
    for (const auto& r : rules) costs.push_back(r.cost_of(message));
    return charge(*this, now, costs);
}

Result<TokenBucket::Clock::duration> RateLimitPolicy::admit_control(TokenBucket::Clock::time_point now) const {
    std::vector<double> costs;
    costs.reserve(rules.size());
    for (const auto& r : rules) costs.push_back(r.control_frame_cost);
    return charge(*this, now, costs);
}

RateLimitPolicy RateLimitPolicy::single(std::shared_ptr<TokenBucket> bucket, CostFunction cost, Mode mode,
                                        std::chrono::milliseconds max_delay) {
    RateLimitPolicy p;
    p.mode = mode;
    p.max_delay = max_delay;
    p.rules.push_back(RateLimitRule{std::move(bucket), std::move(cost), 0});
    return p;
}

// ---- presets ---------------------------------------------------------------------------------------------------

namespace rate_limits {

RateLimitPreset per_second(double n, double burst) {
    if (!(burst > 0)) burst = n;
    return RateLimitPreset{std::make_shared<TokenBucket>(burst, n), [](std::string_view) { return 1.0; }, 0};
}

}  // namespace rate_limits
}  // namespace zenws
