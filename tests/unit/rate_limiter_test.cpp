// rate_limiter_test.cpp — owns the tests of TokenBucket, RateLimitPolicy and the presets. Time is driven by the
// tests (explicit `now`); the concurrency tests check the no-over-issue bound with 4 threads.
//
// The concurrency harness is a template over the bucket type. To check that it really detects over-issue, compile
// this file with -DZENWS_RL_BUCKET_UNDER_TEST=SomeNaiveBucket (a load/compute/store bucket defined in a file that
// #includes this one): the Concurrency* tests must then fail.
#include "zenws/rate_limiter.hpp"
#include "zenws/venues/binance.hpp"
#include "zenws/venues/deribit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstdint>
#include <thread>
#include <vector>

#ifndef ZENWS_RL_BUCKET_UNDER_TEST
#define ZENWS_RL_BUCKET_UNDER_TEST zenws::TokenBucket
#endif

namespace {

using zenws::TokenBucket;
using Clock = TokenBucket::Clock;
using namespace std::chrono_literals;
namespace rl = zenws::rate_limits;

// A fixed origin far from the clock's epoch (tests never depend on the real time).
const Clock::time_point t0 = Clock::time_point{} + 1000h;

TEST(TokenBucket, StartsFullAndAllowsExactlyTheBurst) {
    TokenBucket b(5, 5);
    EXPECT_DOUBLE_EQ(b.available(t0), 5.0);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_acquire(1, t0)) << i;
    EXPECT_FALSE(b.try_acquire(1, t0));
    EXPECT_DOUBLE_EQ(b.available(t0), 0.0);
}

TEST(TokenBucket, RefillsWithTime) {
    TokenBucket b(5, 5);  // one token per 200 ms
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.try_acquire(1, t0));
    EXPECT_FALSE(b.try_acquire(1, t0 + 199ms));
    EXPECT_TRUE(b.try_acquire(1, t0 + 200ms));
    EXPECT_FALSE(b.try_acquire(1, t0 + 200ms));
    EXPECT_NEAR(b.available(t0 + 300ms), 0.5, 1e-9);
    // A long pause refills to the capacity, not beyond.
    EXPECT_DOUBLE_EQ(b.available(t0 + 1h), 5.0);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_acquire(1, t0 + 1h)) << i;
    EXPECT_FALSE(b.try_acquire(1, t0 + 1h));
}

TEST(TokenBucket, CostAboveOneAndPartialTokens) {
    TokenBucket b(50'000, 10'000);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(b.try_acquire(500, t0)) << i;
    EXPECT_FALSE(b.try_acquire(500, t0));
    EXPECT_FALSE(b.try_acquire(500, t0 + 49ms));  // 490 credits refilled
    EXPECT_NEAR(b.available(t0 + 49ms), 490.0, 1e-6);
    EXPECT_TRUE(b.try_acquire(500, t0 + 50ms));
    // A refused acquire takes nothing.
    EXPECT_FALSE(b.try_acquire(3000, t0 + 100ms));
    EXPECT_NEAR(b.available(t0 + 100ms), 500.0, 1e-6);
    EXPECT_TRUE(b.try_acquire(0.5, t0 + 100ms));
    EXPECT_NEAR(b.available(t0 + 100ms), 499.5, 1e-6);
}

TEST(TokenBucket, CostAboveCapacityIsNeverGranted) {
    TokenBucket b(10, 1000);
    EXPECT_FALSE(b.try_acquire(10.5, t0));
    EXPECT_FALSE(b.try_acquire(11, t0 + 24h));
    EXPECT_EQ(b.time_until_available(11, t0), Clock::duration::max());
    EXPECT_FALSE(b.reserve(11, t0, 24h).has_value());
    EXPECT_DOUBLE_EQ(b.available(t0), 10.0);  // the refusals took nothing
    EXPECT_TRUE(b.try_acquire(10, t0));       // exactly the capacity is fine
}

TEST(TokenBucket, InvalidCostsAndZeroCost) {
    TokenBucket b(3, 1);
    EXPECT_FALSE(b.try_acquire(-1, t0));
    EXPECT_FALSE(b.try_acquire(std::nan(""), t0));
    EXPECT_EQ(b.time_until_available(-1, t0), Clock::duration::max());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.try_acquire(1, t0));
    EXPECT_TRUE(b.try_acquire(0, t0));  // free even when empty
    EXPECT_FALSE(b.try_acquire(1, t0));
}

TEST(TokenBucket, InvalidParametersAreDetectedAndClamped) {
    EXPECT_FALSE(TokenBucket::valid(0, 1));
    EXPECT_FALSE(TokenBucket::valid(1, 0));
    EXPECT_FALSE(TokenBucket::valid(-1, 1));
    EXPECT_FALSE(TokenBucket::valid(std::nan(""), 1));
    EXPECT_FALSE(TokenBucket::valid(1, std::numeric_limits<double>::infinity()));
    EXPECT_TRUE(TokenBucket::valid(50'000, 10'000));
    EXPECT_FALSE(TokenBucket::valid(1, TokenBucket::max_rate * 2));
    TokenBucket b(0, 0);
    EXPECT_DOUBLE_EQ(b.capacity(), 1.0);
    EXPECT_DOUBLE_EQ(b.refill_per_second(), 1.0);
    TokenBucket fast(10, 1e9);
    EXPECT_DOUBLE_EQ(fast.refill_per_second(), TokenBucket::max_rate);
}

TEST(TokenBucket, FractionalRefillPeriodsNeverUnderChargeYetAllowTheBurst) {
    // 3/s: a token is worth 333,333,333.3 ns of refill. The full burst is granted, then exactly nothing more
    // until a third of a second has passed (+ at most the 1 ns/token slack).
    TokenBucket b(3, 3);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.try_acquire(1, t0)) << i;
    EXPECT_FALSE(b.try_acquire(1, t0));
    EXPECT_FALSE(b.try_acquire(1, t0 + 333ms));
    EXPECT_TRUE(b.try_acquire(1, t0 + 334ms));
    // Over a long run at the sustained rate, grants never exceed capacity + rate*elapsed (+ the one-off slack).
    TokenBucket c(7, 3);
    long granted = 0;
    auto now = t0;
    for (int i = 0; i < 100'000; ++i, now += 1ms)
        if (c.try_acquire(1, now)) ++granted;
    const double elapsed = std::chrono::duration<double>(now - 1ms - t0).count();
    EXPECT_LE(granted, 7 * (1 + 3e-9) + 3 * elapsed);
    EXPECT_GE(granted, 3 * elapsed);
}

TEST(TokenBucket, AvailableNeverExceedsCapacityNorGoesNegative) {
    TokenBucket b(7, 3);
    auto now = t0;
    int granted = 0;
    for (int i = 0; i < 2000; ++i) {
        now += std::chrono::milliseconds((i * 37) % 900);  // irregular steps, some long pauses
        const double before = b.available(now);
        ASSERT_GE(before, 0.0);
        ASSERT_LE(before, 7.0);
        if (b.try_acquire(1.0 + (i % 3), now)) ++granted;
        const double after = b.available(now);
        ASSERT_GE(after, 0.0);
        ASSERT_LE(after, 7.0);
    }
    EXPECT_GT(granted, 0);
}

TEST(TokenBucket, TimeUntilAvailableIsExact) {
    TokenBucket b(5, 5);
    EXPECT_EQ(b.time_until_available(1, t0), Clock::duration::zero());
    EXPECT_EQ(b.time_until_available(5, t0), Clock::duration::zero());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.try_acquire(1, t0));
    EXPECT_EQ(b.time_until_available(1, t0), 200ms);
    EXPECT_EQ(b.time_until_available(3, t0), 600ms);
    EXPECT_EQ(b.time_until_available(3, t0 + 100ms), 500ms);
    const auto wait = b.time_until_available(2.5, t0 + 1ms);
    EXPECT_EQ(wait, 499ms);
    EXPECT_FALSE(b.try_acquire(2.5, t0 + 1ms + wait - 1ns));
    EXPECT_TRUE(b.try_acquire(2.5, t0 + 1ms + wait));
}

TEST(TokenBucket, ReserveCommitsTokensAndReturnsTheWait) {
    TokenBucket b(2, 10);  // one token per 100 ms
    ASSERT_TRUE(b.try_acquire(2, t0));
    auto w1 = b.reserve(1, t0, 1s);
    ASSERT_TRUE(w1.has_value());
    EXPECT_EQ(*w1, 100ms);
    auto w2 = b.reserve(1, t0, 1s);  // queued behind the first reservation
    ASSERT_TRUE(w2.has_value());
    EXPECT_EQ(*w2, 200ms);
    EXPECT_FALSE(b.reserve(1, t0, 250ms).has_value());  // would be 300 ms: refused, nothing taken
    EXPECT_EQ(b.time_until_available(1, t0), 300ms);
    EXPECT_DOUBLE_EQ(b.available(t0), 0.0);
    EXPECT_FALSE(b.try_acquire(1, t0 + 299ms));
    EXPECT_TRUE(b.try_acquire(1, t0 + 300ms));
}

TEST(TokenBucket, OlderNowIsConservative) {
    TokenBucket b(2, 1);
    ASSERT_TRUE(b.try_acquire(2, t0 + 10s));
    // A thread holding an older timestamp must not see tokens "from the future".
    EXPECT_FALSE(b.try_acquire(1, t0 + 9s));
    EXPECT_DOUBLE_EQ(b.available(t0 + 9s), 0.0);
    EXPECT_TRUE(b.try_acquire(1, t0 + 11s));
}

// ---- concurrency ---------------------------------------------------------------------------------------------

struct HammerResult {
    double granted = 0;
    double bound = 0;
    long attempts = 0;
};

// 4 threads call try_acquire `iterations` times each against a simulated clock: a shared tick counter that each
// thread advances by one every `advance_every` calls (reading it in between), 1 tick = tick_ns. Time thus advances
// deterministically with the number of calls; threads may present slightly stale timestamps, which is allowed.
// Bound: capacity + rate * (final tick count * tick_ns). The parameters keep the bucket at the edge (nearly every
// token is taken as soon as it refills), so any lost update shows up as over-issue.
template <class Bucket>
HammerResult hammer_simulated(double capacity, double rate, double cost, int iterations, std::int64_t tick_ns,
                              int advance_every) {
    Bucket bucket(capacity, rate);
    std::atomic<std::int64_t> ticks{0};
    std::atomic<long> granted_units{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            ready.fetch_add(1);
            for (int spin = 0; spin < 100'000'000 && ready.load() < 4; ++spin) std::this_thread::yield();
            long mine = 0;
            for (int i = 0; i < iterations; ++i) {
                const std::int64_t k = (i % advance_every == 0) ? ticks.fetch_add(1) + 1 : ticks.load();
                if (bucket.try_acquire(cost, t0 + std::chrono::nanoseconds(k * tick_ns))) ++mine;
            }
            granted_units.fetch_add(mine);
        });
    }
    for (auto& th : threads) th.join();
    HammerResult r;
    r.attempts = 4L * iterations;
    r.granted = static_cast<double>(granted_units.load()) * cost;
    r.bound = capacity + rate * static_cast<double>(ticks.load() * tick_ns) / 1e9;
    return r;
}

struct HammerConfig {
    double capacity, rate, cost;
    std::int64_t tick_ns;
    int advance_every;
};

// All the parameters have a whole number of ns per token, so the bound is exact (no burst slack).
constexpr HammerConfig hammer_configs[] = {
    {100, 1e6, 1, 10, 1},             // 0.01 token per call: empty nearly all the time, every call on the edge
    {10, 1e6, 1, 2000, 8},            // 1 µs per token, 2 tokens per tick shared by 8 calls per thread
    {100, 1e6, 1, 900, 1},            // 0.9 token per call
    {100, 1e6, 1, 1000, 4},
    {50'000, 10'000, 500, 50'000, 8}, // Deribit-like credits
};

TEST(TokenBucketConcurrency, SimulatedClockNeverOverIssues) {
    int round = 0;
    for (int repeat = 0; repeat < 6; ++repeat) {
        for (const auto& c : hammer_configs) {
            auto r = hammer_simulated<ZENWS_RL_BUCKET_UNDER_TEST>(c.capacity, c.rate, c.cost, 100'000, c.tick_ns,
                                                                 c.advance_every);
            ASSERT_LE(r.granted, r.bound + 1e-6) << "round " << round << " (capacity " << c.capacity << "): over-issued "
                                                 << (r.granted - r.bound) << " tokens in " << r.attempts
                                                 << " attempts";
            // The bucket was contended and useful, not trivially refusing everything.
            EXPECT_GE(r.granted, 0.5 * r.bound) << "round " << round;
            ++round;
        }
    }
}

TEST(TokenBucketConcurrency, RealClockBoundFromMeasuredElapsedTime) {
    // Real steady_clock: the bound uses the elapsed time measured AROUND the run (an over-estimate of the span of
    // the timestamps the bucket saw), so it holds whatever the scheduling. No assertion on how long anything takes.
    constexpr double capacity = 50;
    constexpr double rate = 20'000;
    ZENWS_RL_BUCKET_UNDER_TEST bucket(capacity, rate);
    std::atomic<long> granted{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            long mine = 0;
            for (int i = 0; i < 50'000; ++i)
                if (bucket.try_acquire(1.0, Clock::now())) ++mine;
            granted.fetch_add(mine);
        });
    }
    const auto start = Clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : threads) th.join();
    const auto end = Clock::now();
    const double elapsed = std::chrono::duration<double>(end - start).count();
    const double bound = capacity + rate * elapsed;
    EXPECT_LE(static_cast<double>(granted.load()), bound + 1e-6) << "elapsed " << elapsed << " s";
    EXPECT_GT(granted.load(), 0);
}

// ---- policy --------------------------------------------------------------------------------------------------

TEST(RateLimitPolicy, RejectModeFailsWithRateLimited) {
    auto p = zenws::RateLimitPolicy::single(std::make_shared<TokenBucket>(2, 1));
    EXPECT_TRUE(p.admit("a", t0).ok());
    EXPECT_TRUE(p.admit("b", t0).ok());
    auto r = p.admit("c", t0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, zenws::Errc::rate_limited);
    EXPECT_EQ(r.error().category(), zenws::ErrorCategory::rate_limited);
    EXPECT_NE(r.error().message.find("1000 ms"), std::string::npos) << r.error().message;
    auto ok = p.admit("d", t0 + 1s);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok.value(), Clock::duration::zero());
}

TEST(RateLimitPolicy, DelayModeReturnsTheWaitWithinMaxDelay) {
    auto p = zenws::RateLimitPolicy::single(std::make_shared<TokenBucket>(1, 10), {},
                                            zenws::RateLimitPolicy::Mode::delay, 250ms);
    ASSERT_EQ(p.admit("x", t0).value(), Clock::duration::zero());
    ASSERT_EQ(p.admit("x", t0).value(), 100ms);
    ASSERT_EQ(p.admit("x", t0).value(), 200ms);
    auto r = p.admit("x", t0);  // would be 300 ms > 250 ms
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, zenws::Errc::rate_limited);
}

TEST(RateLimitPolicy, CostFunctionAndControlFrames) {
    auto preset = rl::binance_incoming();
    zenws::RateLimitPolicy p;
    p.rules.push_back(preset.rule());
    // 5 messages/s, burst 5; pings/pongs count.
    EXPECT_TRUE(p.admit("{\"method\":\"SUBSCRIBE\"}", t0).ok());
    EXPECT_TRUE(p.admit_control(t0).ok());  // a pong
    EXPECT_TRUE(p.admit_control(t0).ok());
    EXPECT_TRUE(p.admit("x", t0).ok());
    EXPECT_TRUE(p.admit("y", t0).ok());
    EXPECT_FALSE(p.admit_control(t0).ok());
    EXPECT_FALSE(p.admit("z", t0).ok());
    EXPECT_TRUE(p.admit("z", t0 + 200ms).ok());
    EXPECT_TRUE(zenws::RateLimitPolicy{}.admit("anything", t0).ok());  // no rules: unlimited
}

TEST(RateLimitPresets, DeribitCostScansTheMethod) {
    EXPECT_TRUE(rl::is_deribit_subscribe(R"({"jsonrpc":"2.0","id":1,"method":"public/subscribe","params":{}})"));
    EXPECT_TRUE(rl::is_deribit_subscribe(R"({"method" : "private/subscribe"})"));
    EXPECT_FALSE(rl::is_deribit_subscribe(R"({"method":"public/unsubscribe","params":{}})"));
    EXPECT_FALSE(rl::is_deribit_subscribe(R"({"method":"public/unsubscribe_all"})"));
    EXPECT_FALSE(rl::is_deribit_subscribe(R"({"method":"public/get_time","params":{"x":"public/subscribe"}})"));
    EXPECT_FALSE(rl::is_deribit_subscribe("not json"));
    EXPECT_FALSE(rl::is_deribit_subscribe(R"({"method":)"));
    EXPECT_DOUBLE_EQ(rl::deribit_cost(R"({"method":"public/subscribe"})"), 3000);
    EXPECT_DOUBLE_EQ(rl::deribit_cost(R"({"method":"private/get_positions"})"), 500);
}

TEST(RateLimitPresets, DeribitPoolsMatchTheExchangeNumbers) {
    auto nm = rl::deribit_non_matching();
    EXPECT_DOUBLE_EQ(nm.bucket->capacity(), 50'000);
    EXPECT_DOUBLE_EQ(nm.bucket->refill_per_second(), 10'000);
    auto sub = rl::deribit_subscribe();
    EXPECT_DOUBLE_EQ(sub.bucket->capacity(), 30'000);
    EXPECT_DOUBLE_EQ(sub.bucket->refill_per_second(), 10'000);

    auto p = rl::deribit(zenws::RateLimitPolicy::Mode::reject);
    const std::string subscribe = R"({"jsonrpc":"2.0","id":7,"method":"public/subscribe","params":{}})";
    const std::string get_time = R"({"jsonrpc":"2.0","id":8,"method":"public/get_time","params":{}})";
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(p.admit(subscribe, t0).ok()) << i;  // burst 10 subscribes
    EXPECT_FALSE(p.admit(subscribe, t0).ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(p.admit(get_time, t0).ok()) << i;  // separate pool: burst 100
    EXPECT_FALSE(p.admit(get_time, t0).ok());
    EXPECT_TRUE(p.admit(subscribe, t0 + 300ms).ok());  // 3,000 credits refill in 300 ms
    EXPECT_TRUE(p.admit(get_time, t0 + 50ms).ok());    // 500 credits in 50 ms
}

TEST(RateLimitPresets, PerSecondAndSharedBucket) {
    auto preset = rl::per_second(10, 3);
    EXPECT_DOUBLE_EQ(preset.bucket->capacity(), 3);
    EXPECT_DOUBLE_EQ(rl::per_second(4).bucket->capacity(), 4);
    // Two clients sharing one bucket share the budget.
    auto a = zenws::RateLimitPolicy::single(preset.bucket, preset.cost);
    auto b = zenws::RateLimitPolicy::single(preset.bucket, preset.cost);
    EXPECT_TRUE(a.admit("1", t0).ok());
    EXPECT_TRUE(b.admit("2", t0).ok());
    EXPECT_TRUE(a.admit("3", t0).ok());
    EXPECT_FALSE(b.admit("4", t0).ok());
    EXPECT_TRUE(b.admit("4", t0 + 100ms).ok());
    // Rates with non-terminating ns per token still allow the whole burst.
    auto thirds = rl::per_second(3);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(thirds.bucket->try_acquire(1, t0)) << i;
    EXPECT_FALSE(thirds.bucket->try_acquire(1, t0));
}

}  // namespace
