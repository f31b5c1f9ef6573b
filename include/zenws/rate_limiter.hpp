// zenws/rate_limiter.hpp — owns the lock-free token bucket (TokenBucket), the send-path policy that charges it
// (RateLimitPolicy) and the generic per-second preset; the venues' presets are in zenws/venues/.
//
// TokenBucket is GCRA ("generic cell rate algorithm"): the whole state is ONE std::atomic<int64_t>, the
// "theoretical arrival time" (TAT) = the instant at which the bucket would be full again, in nanoseconds of the
// clock's epoch. tokens(now) = capacity - rate * max(0, TAT - now). Acquiring `cost` moves TAT forward by
// cost / rate; it is granted only if afterwards TAT - now <= capacity / rate. The move is one compare-exchange, so
// any number of threads (several clients holding the same std::shared_ptr<TokenBucket>) can never be issued more
// than  capacity + rate * (t_last - t_first)  tokens between two instants — the defect of the original Elixir
// limiter (a non-atomic refill that resurrected spent tokens, up to 16% over-issue) cannot happen: there is no
// separate refill step at all, refill is implied by time passing.
//
// Time is a parameter (`now`) so tests drive it; the overloads without `now` use std::chrono::steady_clock::now().
// A `now` older than one another thread already used is safe: it can only make the answer more conservative.
// Precision: costs are converted to nanoseconds of refill rounded UP (a grant is never under-charged). When a
// token is not worth a whole number of ns (e.g. 3/s), the capacity gets a slack of 1 ns of refill per token so
// that a full burst is still granted; the bound is then  capacity * (1 + rate * 1e-9) + rate * elapsed, i.e. at
// most 0.1% of the capacity more, once (not per grant), at the maximum rate. Rates are capped at max_rate
// (1e6 tokens/s, at least 1 µs of refill per token): scale the units (e.g. 1 token = 1,000 credits) beyond that.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "zenws/error.hpp"

namespace zenws {

class TokenBucket {
public:
    using Clock = std::chrono::steady_clock;

    static constexpr double max_rate = 1e6;  // tokens per second

    // capacity: the burst (tokens when full; the bucket starts full). refill_per_second: sustained rate.
    // Both must be finite and > 0, and the rate <= max_rate. Invalid values are replaced (capacity or rate <= 0 /
    // NaN / infinite -> 1, rate above max_rate -> max_rate): check TokenBucket::valid() first when the numbers
    // come from configuration.
    TokenBucket(double capacity, double refill_per_second);

    TokenBucket(const TokenBucket&) = delete;
    TokenBucket& operator=(const TokenBucket&) = delete;

    static bool valid(double capacity, double refill_per_second) noexcept;

    // Takes `cost` tokens if they are all available at `now`; never takes part of them. cost == 0 is always
    // granted; a negative/NaN cost or a cost above the capacity is never granted.
    bool try_acquire(double cost, Clock::time_point now) noexcept;
    bool try_acquire(double cost = 1.0) noexcept { return try_acquire(cost, Clock::now()); }

    // How long from `now` until `cost` tokens are available (zero if they are now). Exact: try_acquire(cost,
    // now + result) succeeds if nobody else took tokens meanwhile. Clock::duration::max() ("never") when cost is
    // above the capacity or invalid.
    Clock::duration time_until_available(double cost, Clock::time_point now) const noexcept;
    Clock::duration time_until_available(double cost = 1.0) const noexcept {
        return time_until_available(cost, Clock::now());
    }

    // For the "delay" policy, without a check-then-act race: atomically reserves `cost` tokens if they will be
    // available within `max_wait` of `now` and returns how long the caller must wait before sending (zero =
    // send now). The tokens are committed: later acquirers queue behind them. nullopt = would wait longer than
    // max_wait (or cost > capacity / invalid); nothing is taken then.
    std::optional<Clock::duration> reserve(double cost, Clock::time_point now, Clock::duration max_wait) noexcept;

    // Tokens available at `now`, in [0, capacity].
    double available(Clock::time_point now) const noexcept;
    double available() const noexcept { return available(Clock::now()); }

    double capacity() const noexcept { return capacity_; }
    double refill_per_second() const noexcept { return rate_; }

private:
    std::int64_t cost_ns(double cost) const noexcept;

    double capacity_;
    double rate_;
    double ns_per_token_;
    std::int64_t tau_ns_;                // capacity expressed as ns of refill
    std::atomic<std::int64_t> tat_ns_;   // the instant the bucket is full again; INT64_MIN = full since forever
};

// Cost of one outgoing message (the text or binary payload as it will be sent).
using CostFunction = std::function<double(std::string_view message)>;

// One bucket and how much each message costs it. A cost of 0 means "this rule does not apply to that message".
struct RateLimitRule {
    std::shared_ptr<TokenBucket> bucket;
    CostFunction cost;                   // empty = 1 per message
    double control_frame_cost = 0;       // charged by admit_control() for each ping/pong/close frame sent

    double cost_of(std::string_view message) const { return cost ? cost(message) : 1.0; }
};

// What the client send path does with a message:
//   auto r = policy.admit(text, now);   // before sending a data frame (heartbeat text frames included!)
//   if (!r) fail the send with r.error() (Errc::rate_limited)
//   else if (r.value() > 0) send after r.value() (the tokens are already reserved)
//   policy.admit_control(now)           // before sending a ping/pong/close frame (Binance counts them)
// A message is charged to every rule whose cost for it is > 0, in order. If a later rule refuses, the tokens
// taken from earlier rules are NOT given back (refunds could over-issue); they are lost, which is the safe side.
// The Deribit preset has one rule per message kind, so this cannot happen there.
struct RateLimitPolicy {
    enum class Mode : std::uint8_t {
        reject,  // not enough tokens now: the send fails at once with Errc::rate_limited
        delay,   // the send waits until the tokens are there, if that is within max_delay; else rate_limited
    };
    Mode mode = Mode::reject;
    std::chrono::milliseconds max_delay{0};
    std::vector<RateLimitRule> rules;

    bool enabled() const noexcept { return !rules.empty(); }

    // The delay before the message may be sent (zero = now), or Errc::rate_limited.
    Result<TokenBucket::Clock::duration> admit(std::string_view message, TokenBucket::Clock::time_point now) const;
    Result<TokenBucket::Clock::duration> admit(std::string_view message) const {
        return admit(message, TokenBucket::Clock::now());
    }
    // Same for a control frame: charges each rule its control_frame_cost (rules with 0 are not touched).
    Result<TokenBucket::Clock::duration> admit_control(TokenBucket::Clock::time_point now) const;

    // A policy with a single rule.
    static RateLimitPolicy single(std::shared_ptr<TokenBucket> bucket, CostFunction cost = {}, Mode mode = Mode::reject,
                                  std::chrono::milliseconds max_delay = std::chrono::milliseconds{0});
};

// ---- presets -------------------------------------------------------------------------------------------------
// Numbers from the venues' published limits (Deribit "Rate limits": credit pools per sub-account; Binance
// "WebSocket Limits": incoming messages per connection).
// Each call returns a NEW bucket: share the returned pointer between the clients that share the exchange-side
// limit (Deribit: per sub-account; Binance incoming: per connection, so one per client).
struct RateLimitPreset {
    std::shared_ptr<TokenBucket> bucket;
    CostFunction cost;
    double control_frame_cost = 0;

    RateLimitRule rule() const { return RateLimitRule{bucket, cost, control_frame_cost}; }
};

namespace rate_limits {

// The venues' presets (rate_limits::deribit(), binance_incoming(), ...) are declared in zenws/venues/*.hpp.

// n tokens per second, `burst` capacity (defaults to n), cost 1 per message.
RateLimitPreset per_second(double n, double burst = 0);

}  // namespace rate_limits
}  // namespace zenws
