// restart_intensity.cpp — owns the pure restart accounting (RestartIntensity window, RestartDelay backoff).
#include "zenws/restart_intensity.hpp"

#include <algorithm>

namespace zenws {

RestartIntensity::RestartIntensity(int max_restarts, std::chrono::milliseconds window)
    : max_restarts_(std::max(0, max_restarts)), window_(std::max(window, std::chrono::milliseconds(0))) {}

void RestartIntensity::prune(SteadyTime now) {
    // Keep restarts with now - t < window.
    while (!times_.empty() && now - times_.front() >= window_) times_.pop_front();
}

bool RestartIntensity::add(SteadyTime now) {
    prune(now);
    times_.push_back(now);
    // Bound the memory: only the newest max_restarts + 1 entries can ever matter.
    while (times_.size() > static_cast<std::size_t>(max_restarts_) + 1) times_.pop_front();
    return static_cast<int>(times_.size()) <= max_restarts_;
}

bool RestartIntensity::would_exceed(SteadyTime now) const { return count(now) + 1 > max_restarts_; }

int RestartIntensity::count(SteadyTime now) const {
    int n = 0;
    for (auto t : times_) {
        if (now - t < window_) ++n;
    }
    return n;
}

RestartDelay::RestartDelay(RestartBackoffOptions options, std::uint64_t seed)
    : options_(options), backoff_(options.base, options.cap, options.jitter, true, seed) {}

std::chrono::milliseconds RestartDelay::crashed(SteadyTime now) {
    disconnected(now);
    if (stable_) backoff_.reset();
    stable_ = false;
    auto d = backoff_.next();  // counts the crash even when disabled, so consecutive() stays meaningful
    return options_.enabled ? d : std::chrono::milliseconds(0);
}

}  // namespace zenws
