// reconnect_ladder_test.cpp — the flap guard as a specification: which delays a client waits, and when it gives up,
// for servers that refuse, servers that accept and drop at once, stable connections, Retry-After and rate limits.
#include "core/reconnect_ladder.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "zenws/config.hpp"

namespace {

using zenws::Errc;
using zenws::Error;
using zenws::detail::ReconnectLadder;
using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

ReconnectLadder::Options no_jitter(int retries = 3) {
    ReconnectLadder::Options o;
    o.base = ms(1000);
    o.cap = ms(30000);
    o.jitter = false;
    o.retry_count = retries;
    o.stable_after = ms(10000);
    o.min_attempt_interval = ms(250);
    o.max_retry_after = ms(60000);
    return o;
}

const Error drop(Errc::eof_without_close, "dropped");

struct Timeline {
    ReconnectLadder ladder;
    Clock::time_point now{};
    explicit Timeline(ReconnectLadder::Options o) : ladder(o, 42) {}
    void attempt() { ladder.attempt_started(now); }
    void advance(ms d) { now += d; }
};

TEST(ReconnectLadder, RefusedAttemptsFollowTheBackoffThenGiveUp) {
    Timeline t(no_jitter());
    std::vector<long> delays;
    t.attempt();
    for (int i = 0; i < 10; ++i) {
        auto d = t.ladder.attempt_failed(t.now, Error(Errc::connection_refused, "refused"));
        if (d.give_up) break;
        delays.push_back(d.delay.count());
        t.advance(d.delay);
        t.attempt();
    }
    EXPECT_EQ(delays, (std::vector<long>{1000, 2000, 4000}));
    EXPECT_EQ(t.ladder.attempts_this_outage(), 4);
}

TEST(ReconnectLadder, AcceptThenDropContinuesTheLadderInsteadOfResettingIt) {
    // The reconnect storm: every upgrade succeeds and the server drops at once. Before the flap guard each success
    // reset the ladder and the retry was immediate, forever.
    Timeline t(no_jitter());
    std::vector<long> delays;
    bool gave_up = false;
    t.attempt();
    for (int i = 0; i < 20; ++i) {
        t.advance(ms(1));
        t.ladder.connected(t.now);
        t.advance(ms(1));
        auto d = t.ladder.connection_lost(t.now, drop);
        if (d.give_up) {
            gave_up = true;
            break;
        }
        delays.push_back(d.delay.count());
        t.advance(d.delay);
        t.attempt();
    }
    EXPECT_TRUE(gave_up);
    EXPECT_EQ(delays, (std::vector<long>{1000, 2000, 4000}));
}

TEST(ReconnectLadder, AStableConnectionStartsAFreshLadderWithAnImmediateRetry) {
    Timeline t(no_jitter());
    t.attempt();
    t.ladder.connected(t.now);
    t.advance(ms(10000));
    auto d = t.ladder.connection_lost(t.now, drop);
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.delay, ms(0));
    t.attempt();
    d = t.ladder.attempt_failed(t.now, drop);
    EXPECT_EQ(d.delay, ms(1000));
}

TEST(ReconnectLadder, TheRetryBudgetRefillsOnlyAfterAStableConnection) {
    Timeline t(no_jitter(2));
    t.attempt();
    auto d = t.ladder.attempt_failed(t.now, drop);  // retry 1
    t.advance(d.delay);
    t.attempt();
    t.ladder.connected(t.now);
    t.advance(ms(9999));  // not yet stable
    d = t.ladder.connection_lost(t.now, drop);  // retry 2
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.retry, 2);
    t.advance(d.delay);
    t.attempt();
    t.ladder.connected(t.now);
    t.advance(ms(10000));  // stable now
    d = t.ladder.connection_lost(t.now, drop);
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.retry, 1);
    EXPECT_EQ(d.delay, ms(0));
}

TEST(ReconnectLadder, FirstDataMessageMakesTheConnectionStableWhenAsked) {
    auto o = no_jitter();
    o.stable_on_first_message = true;
    Timeline t(o);
    t.attempt();
    t.ladder.connected(t.now);
    EXPECT_FALSE(t.ladder.stable(t.now));
    t.ladder.message_received();
    EXPECT_TRUE(t.ladder.stable(t.now));
    t.advance(ms(300));
    auto d = t.ladder.connection_lost(t.now, drop);
    EXPECT_EQ(d.delay, ms(0));
}

TEST(ReconnectLadder, MinimumIntervalAppliesEvenRightAfterAStableSuccess) {
    auto o = no_jitter();
    o.stable_after = ms(0);  // every upgrade is stable: the immediate retry is what the floor must hold back
    Timeline t(o);
    t.attempt();
    t.advance(ms(40));
    t.ladder.connected(t.now);
    t.advance(ms(10));
    auto d = t.ladder.connection_lost(t.now, drop);
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.delay, ms(200));  // 250 ms after the attempt started, 50 ms ago
    EXPECT_TRUE(d.backoff_floor);
}

TEST(ReconnectLadder, AnAcceptThenDropServerSeesNoMoreThanTheLadderPerMinute) {
    // Defaults of Config: with stable_after 0 (the old behaviour) this would be ~240 attempts a minute (the
    // min_attempt_interval floor alone); with the flap guard it is the ladder: 1 + retry_count attempts.
    ReconnectLadder::Options o = ReconnectLadder::options_from(zenws::Config{}, 1);
    o.jitter = false;
    Timeline t(o);
    int attempts = 0;
    const auto end = t.now + std::chrono::minutes(1);
    t.attempt();
    ++attempts;
    while (t.now < end && attempts < 1000) {
        t.ladder.connected(t.now);
        auto d = t.ladder.connection_lost(t.now, drop);
        if (d.give_up) break;
        t.advance(d.delay);
        t.attempt();
        ++attempts;
    }
    EXPECT_EQ(attempts, 1 + zenws::Config{}.retry_count);
}

TEST(ReconnectLadder, RetryAfterSetsTheFloorOfTheNextDelayCappedByTheMaximum) {
    auto o = no_jitter();
    o.max_retry_after = ms(5000);
    Timeline t(o);
    t.attempt();
    Error busy(Errc::http_status, "429");
    busy.http_status = 429;
    busy.retry_after = 3;
    auto d = t.ladder.attempt_failed(t.now, busy);
    EXPECT_EQ(d.delay, ms(3000));
    EXPECT_TRUE(d.backoff_floor);
    t.advance(d.delay);
    t.attempt();
    busy.retry_after = 3600;
    d = t.ladder.attempt_failed(t.now, busy);
    EXPECT_EQ(d.delay, ms(5000));  // capped
    t.advance(d.delay);
    t.attempt();
    busy.retry_after = 1;  // below the ladder's own step: the ladder wins
    d = t.ladder.attempt_failed(t.now, busy);
    EXPECT_EQ(d.delay, ms(4000));
}

TEST(ReconnectLadder, RateLimitedLossOfAStableConnectionBacksOffFirst) {
    Timeline t(no_jitter());
    t.attempt();
    t.ladder.connected(t.now);
    t.advance(ms(20000));
    auto d = t.ladder.connection_lost(t.now, Error(Errc::rate_limited, "10028"), true);
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.delay, ms(1000));
}

TEST(ReconnectLadder, NonRetryableCausesGiveUpUnlessForced) {
    Timeline t(no_jitter());
    t.attempt();
    EXPECT_TRUE(t.ladder.attempt_failed(t.now, Error(Errc::auth_failed, "bad key")).give_up);
    Timeline u(no_jitter());
    u.attempt();
    u.ladder.connected(u.now);
    EXPECT_FALSE(u.ladder.connection_lost(u.now, Error(Errc::auth_failed, "bad key"), true).give_up);
}

TEST(ReconnectLadder, ServerProtocolViolationsAreRetried) {
    Timeline t(no_jitter());
    t.attempt();
    t.ladder.connected(t.now);
    EXPECT_FALSE(t.ladder.connection_lost(t.now, Error(Errc::message_too_big, "1009")).give_up);
}

TEST(ReconnectLadder, FallbackEndpointsAreTriedInTurnEachWithItsOwnFloor) {
    auto o = no_jitter(5);
    o.endpoints = 2;
    o.base = ms(100);
    o.min_attempt_interval = ms(1000);
    Timeline t(o);
    t.attempt();  // endpoint 0
    auto d = t.ladder.attempt_failed(t.now, drop);
    EXPECT_EQ(d.endpoint, 1u);
    EXPECT_EQ(d.delay, ms(100));  // endpoint 1 was never tried: no floor
    t.advance(d.delay);
    t.attempt();
    d = t.ladder.attempt_failed(t.now, drop);
    EXPECT_EQ(d.endpoint, 0u);
    EXPECT_EQ(d.delay, ms(900));  // endpoint 0 was tried 100 ms ago
}

TEST(ReconnectLadder, RestartAfterGivingUpIsAFreshImmediateLadder) {
    Timeline t(no_jitter(1));
    t.attempt();
    (void)t.ladder.attempt_failed(t.now, drop);
    t.advance(ms(1000));
    t.attempt();
    EXPECT_TRUE(t.ladder.attempt_failed(t.now, drop).give_up);
    t.advance(ms(5000));
    auto d = t.ladder.restart(t.now, Error(Errc::transport_error, "reconnect requested"));
    ASSERT_FALSE(d.give_up);
    EXPECT_EQ(d.delay, ms(0));
}

TEST(ReconnectLadder, DefaultConfigNoticesADeadLinkWithinNinetySeconds) {
    zenws::Config c;
    EXPECT_TRUE(c.tcp_keepalive.enabled);
    EXPECT_LE(c.tcp_keepalive.bound(), std::chrono::seconds(90));
}

}  // namespace
