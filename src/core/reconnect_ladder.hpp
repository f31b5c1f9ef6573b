// reconnect_ladder.hpp — owns ReconnectLadder (internal): when a client may make its next connection attempt, and
// when it gives up. Pure state: every call takes `now`, so the flap guard is unit-tested without sockets.
//
// The rules, in order:
//   - An outage is a run of failed attempts and of connections that did not stay up. It ends only when a connection
//     proves stable: it stayed up for `stable_after` (or, with `stable_on_first_message`, delivered a data
//     message). A connection that drops before that continues the ladder of the outage it was part of: same
//     backoff step, same retry budget. So a server that accepts the upgrade and drops at once gets no more attempts
//     than a server that refuses them (the "reconnect storm" of a ladder reset by every upgrade cannot happen).
//   - After a stable connection drops, the first retry is immediate (unless the cause asks to back off first, e.g.
//     a rate limit), then min(base * 2^n, cap) with jitter, at most `retry_count` retries.
//   - Floors on every delay: `min_attempt_interval` since the previous attempt to the same endpoint started (also
//     right after a success), and a server's Retry-After (429/503 on the upgrade, or an exchange's rate-limit close
//     mapped to Error::retry_after), capped at `max_retry_after`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "zenws/backoff.hpp"
#include "zenws/error.hpp"

namespace zenws {

struct Config;

namespace detail {

class ReconnectLadder {
public:
    using Clock = std::chrono::steady_clock;
    using ms = std::chrono::milliseconds;

    struct Options {
        ms base{1000};
        ms cap{30000};
        bool jitter = true;
        int retry_count = 3;
        bool reconnect_on_error = true;
        ms stable_after{10000};
        bool stable_on_first_message = false;
        ms min_attempt_interval{250};
        ms max_retry_after{60000};
        std::size_t endpoints = 1;  // the primary URL and its fallbacks, tried in turn
    };
    static Options options_from(const Config& config, std::size_t endpoints);

    struct Decision {
        bool give_up = false;
        ms delay{0};
        int retry = 0;                // 1-based retry number within the outage (for telemetry)
        std::size_t endpoint = 0;     // index of the URL to try next
        bool backoff_floor = false;   // the delay was raised by Retry-After or min_attempt_interval
    };

    explicit ReconnectLadder(Options options, std::uint64_t seed = random_backoff_seed());

    // An attempt to `endpoint` starts now (counted for min_attempt_interval and the give-up message).
    void attempt_started(Clock::time_point now);
    // The upgrade of the current attempt succeeded.
    void connected(Clock::time_point now);
    // A data message arrived on the current connection (only matters with stable_on_first_message).
    void message_received() noexcept { got_message_ = true; }
    // Has the current connection become stable (so that its loss would start a fresh ladder)?
    bool stable(Clock::time_point now) const noexcept;

    // An attempt failed before the upgrade completed.
    Decision attempt_failed(Clock::time_point now, const Error& cause);
    // An established connection ended. `force` retries whatever the cause (Client::reconnect()).
    Decision connection_lost(Clock::time_point now, const Error& cause, bool force = false);
    // Client::reconnect() on a client that gave up: a fresh outage with an immediate first attempt.
    Decision restart(Clock::time_point now, const Error& cause);

    int attempts_this_outage() const noexcept { return attempts_this_outage_; }
    int retries_this_outage() const noexcept { return retries_; }
    std::size_t endpoint() const noexcept { return endpoint_; }

private:
    Decision decide(Clock::time_point now, const Error& cause, bool force);
    void fresh_outage(bool immediate_first);

    Options options_;
    std::uint64_t seed_;
    ReconnectBackoff backoff_;
    int retries_ = 0;               // retries scheduled in this outage (compared with retry_count)
    int attempts_this_outage_ = 0;  // attempts made since the last stable connection
    std::size_t endpoint_ = 0;
    std::vector<std::optional<Clock::time_point>> last_attempt_;  // per endpoint
    std::optional<Clock::time_point> connected_at_;
    bool got_message_ = false;
};

}  // namespace detail
}  // namespace zenws
