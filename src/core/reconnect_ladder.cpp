// reconnect_ladder.cpp — owns ReconnectLadder: the flap guard, the retry budget and the delay floors (see the header).
#include "core/reconnect_ladder.hpp"

#include <algorithm>

#include "zenws/config.hpp"

namespace zenws::detail {

ReconnectLadder::Options ReconnectLadder::options_from(const Config& c, std::size_t endpoints) {
    Options o;
    o.base = c.retry_delay;
    o.cap = c.max_backoff;
    o.jitter = c.backoff_jitter;
    o.retry_count = c.retry_count;
    o.reconnect_on_error = c.reconnect_on_error;
    o.stable_after = c.stable_after;
    o.stable_on_first_message = c.stable_on_first_message;
    o.min_attempt_interval = c.min_attempt_interval;
    o.max_retry_after = c.max_retry_after;
    o.endpoints = std::max<std::size_t>(endpoints, 1);
    return o;
}

ReconnectLadder::ReconnectLadder(Options options, std::uint64_t seed)
    : options_(options),
      seed_(seed),
      // The first connection's ladder: no immediate retry (the first attempt itself was immediate).
      backoff_(options.base, options.cap, options.jitter, false, seed),
      last_attempt_(options_.endpoints) {}

void ReconnectLadder::fresh_outage(bool immediate_first) {
    // A new seed per outage keeps the jitter of many clients apart without a shared generator.
    seed_ = seed_ * 6364136223846793005ull + 1442695040888963407ull;
    backoff_ = ReconnectBackoff(options_.base, options_.cap, options_.jitter, immediate_first, seed_);
    retries_ = 0;
    attempts_this_outage_ = 0;
}

void ReconnectLadder::attempt_started(Clock::time_point now) {
    last_attempt_[endpoint_] = now;
    if (attempts_this_outage_ < 1'000'000'000) ++attempts_this_outage_;
}

void ReconnectLadder::connected(Clock::time_point now) {
    connected_at_ = now;
    got_message_ = false;
}

bool ReconnectLadder::stable(Clock::time_point now) const noexcept {
    if (!connected_at_) return false;
    if (options_.stable_on_first_message && got_message_) return true;
    return now - *connected_at_ >= options_.stable_after;
}

ReconnectLadder::Decision ReconnectLadder::attempt_failed(Clock::time_point now, const Error& cause) {
    connected_at_.reset();
    return decide(now, cause, false);
}

ReconnectLadder::Decision ReconnectLadder::connection_lost(Clock::time_point now, const Error& cause, bool force) {
    if (stable(now)) fresh_outage(cause.code != Errc::rate_limited);
    // Not stable: the connection was part of the outage that preceded it, and the ladder goes on from there.
    connected_at_.reset();
    return decide(now, cause, force);
}

ReconnectLadder::Decision ReconnectLadder::restart(Clock::time_point now, const Error& cause) {
    fresh_outage(cause.code != Errc::rate_limited);
    connected_at_.reset();
    return decide(now, cause, true);
}

ReconnectLadder::Decision ReconnectLadder::decide(Clock::time_point now, const Error& cause, bool force) {
    Decision d;
    const bool retryable = force || cause.retryable();
    if (!options_.reconnect_on_error || !retryable || retries_ >= options_.retry_count) {
        d.give_up = true;
        return d;
    }
    d.retry = ++retries_;
    endpoint_ = (endpoint_ + 1) % options_.endpoints;  // fallback URLs are tried in turn
    d.endpoint = endpoint_;
    ms delay = backoff_.next();
    // Floor 1: the server said when to come back (capped, so a hostile header cannot park us for a day).
    if (cause.retry_after && *cause.retry_after > 0) {
        ms asked = std::chrono::seconds(std::min(*cause.retry_after, 86'400));
        ms floor = std::min(asked, options_.max_retry_after);
        if (floor > delay) {
            delay = floor;
            d.backoff_floor = true;
        }
    }
    // Floor 2: never two attempts to the same endpoint closer than min_attempt_interval, even after a success.
    if (const auto& last = last_attempt_[endpoint_]) {
        auto since = now - *last;
        if (since < options_.min_attempt_interval) {
            ms wait = std::chrono::ceil<ms>(options_.min_attempt_interval - since);
            if (wait > delay) {
                delay = wait;
                d.backoff_floor = true;
            }
        }
    }
    d.delay = delay;
    return d;
}

}  // namespace zenws::detail
