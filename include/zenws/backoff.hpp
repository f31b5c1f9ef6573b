// zenws/backoff.hpp — owns ReconnectBackoff: the delay ladder between reconnection attempts (exponential, capped,
// optionally jittered) and make_backoff(), which builds one from a Config.
//
// Sequence of next():
//   - immediate_first: the first call returns 0 ms (reconnect at once after a connected session drops);
//   - then d(n) = min(base * 2^n, cap) for n = 0, 1, 2, ...  (ZenWebsocket's calculate_backoff), saturating: a huge
//     n never overflows, it just stays at the cap;
//   - with jitter the delay is drawn uniformly from [d - floor(d/4), d], i.e. [0.75 d, d] rounded up at the low end:
//     never above the cap and never 0 unless d itself is 0. Spreads the reconnects of many clients that lost the
//     same server at the same moment.
// reset() starts over (call it after a successful upgrade). Single-threaded; the client guards it.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace zenws {

struct Config;

// A seed from std::random_device (the default for ReconnectBackoff).
std::uint64_t random_backoff_seed();

class ReconnectBackoff {
public:
    // base <= 0 is treated as 0 (every delay 0); cap < base caps every delay at cap.
    ReconnectBackoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, bool jitter, bool immediate_first,
                     std::uint64_t seed = random_backoff_seed());

    // The delay to wait before the next attempt; counts the attempt.
    std::chrono::milliseconds next();
    // Back to the first step (and to the immediate attempt, if enabled).
    void reset() noexcept { attempts_ = 0; }
    // Number of next() calls since construction or the last reset() (saturates at INT_MAX).
    int attempts() const noexcept { return attempts_; }

    // The un-jittered delay for step n (0-based, not counting the immediate attempt): min(base * 2^n, cap).
    std::chrono::milliseconds nominal(std::uint64_t n) const noexcept;

    std::chrono::milliseconds base() const noexcept { return base_; }
    std::chrono::milliseconds cap() const noexcept { return cap_; }
    bool jitter() const noexcept { return jitter_; }
    bool immediate_first() const noexcept { return immediate_first_; }

private:
    std::chrono::milliseconds base_;
    std::chrono::milliseconds cap_;
    bool jitter_;
    bool immediate_first_;
    int attempts_ = 0;
    // splitmix64: 8 bytes of state (std::mt19937_64 would add 2.5 KiB to every client).
    struct SplitMix64 {
        using result_type = std::uint64_t;
        std::uint64_t state;
        static constexpr result_type min() noexcept { return 0; }
        static constexpr result_type max() noexcept { return ~result_type{0}; }
        result_type operator()() noexcept {
            std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            return z ^ (z >> 31);
        }
    };
    SplitMix64 rng_;
};

// retry_delay as base, max_backoff as cap, backoff_jitter as jitter.
ReconnectBackoff make_backoff(const Config& config, bool immediate_first);

}  // namespace zenws
