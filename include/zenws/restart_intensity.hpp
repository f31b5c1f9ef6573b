// zenws/restart_intensity.hpp — owns the pure restart accounting of the supervisors: RestartIntensity (OTP's
// max_restarts within max_seconds, a sliding window of restart times) and RestartDelay (the exponential, jittered
// backoff between restarts of the same child; the first restart is immediate). No clocks are read here: every
// call takes `now`, so both are unit-tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

#include "zenws/backoff.hpp"

namespace zenws {

using SteadyTime = std::chrono::steady_clock::time_point;

// Sliding-window restart counter. A restart is allowed while at most `max_restarts` restarts (this one included)
// happened in the window (now - window, now]; the one that would make it max_restarts + 1 exceeds the intensity
// and the supervisor gives up (OTP: with 10 in 60 s the 11th restart within a minute escalates). max_restarts = 0
// allows no restart at all.
class RestartIntensity {
public:
    explicit RestartIntensity(int max_restarts = 10, std::chrono::milliseconds window = std::chrono::seconds(60));

    // Records a restart at `now`. Returns true if it is within the intensity, false if it exceeds it (the restart
    // is still recorded, so a caller that ignores the answer keeps exceeding until the window slides).
    bool add(SteadyTime now);
    // Would one more restart at `now` exceed the intensity?
    bool would_exceed(SteadyTime now) const;
    // Restarts recorded within the window ending at `now`.
    int count(SteadyTime now) const;
    void reset() noexcept { times_.clear(); }

    int max_restarts() const noexcept { return max_restarts_; }
    std::chrono::milliseconds window() const noexcept { return window_; }

private:
    void prune(SteadyTime now);
    int max_restarts_;
    std::chrono::milliseconds window_;
    std::deque<SteadyTime> times_;  // ascending; never more than max_restarts + 1 entries are kept
};

// The delay between restarts of one child.
struct RestartBackoffOptions {
    bool enabled = true;                          // false: every restart is immediate (plain OTP)
    std::chrono::milliseconds base{100};          // the second restart in a row waits `base`, then 2x, 4x, ...
    std::chrono::milliseconds cap{10000};         // never longer than this
    bool jitter = true;                           // draw from [0.75 d, d] (see backoff.hpp)
    // A child that stayed up at least this long before crashing starts over with an immediate restart.
    std::chrono::milliseconds reset_after{std::chrono::seconds(30)};
};

class RestartDelay {
public:
    explicit RestartDelay(RestartBackoffOptions options = {}, std::uint64_t seed = random_backoff_seed());

    // The child's client connected at `now` (its first connection, or one of its own reconnects).
    void started(SteadyTime now) noexcept { up_since_ = now; }
    // Its connection was lost at `now`. A connection that lasted reset_after or longer marks the child stable.
    void disconnected(SteadyTime now) noexcept {
        if (up_since_ && now - *up_since_ >= options_.reset_after) stable_ = true;
        up_since_.reset();
    }
    // The child crashed (or failed to start) at `now`: how long to wait before restarting it. The first crash is
    // restarted at once, later ones in a row back off exponentially up to the cap. Only a connection that stayed
    // up for reset_after (before the crash, or still up at it) starts the ladder over: a child that keeps
    // connecting and dropping (a flapping endpoint) keeps backing off however long it has been flapping.
    std::chrono::milliseconds crashed(SteadyTime now);
    // Crashes in a row since the last reset (a stable run longer than reset_after resets).
    int consecutive() const noexcept { return backoff_.attempts(); }
    void reset() noexcept {
        backoff_.reset();
        up_since_.reset();
        stable_ = false;
    }
    const RestartBackoffOptions& options() const noexcept { return options_; }

private:
    RestartBackoffOptions options_;
    ReconnectBackoff backoff_;
    std::optional<SteadyTime> up_since_;
    bool stable_ = false;
};

}  // namespace zenws
