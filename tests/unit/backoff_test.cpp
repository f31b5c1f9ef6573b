// backoff_test.cpp — owns the unit tests of ReconnectBackoff / make_backoff (zenws/backoff.hpp).
#include "zenws/backoff.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

#include "zenws/config.hpp"

namespace {

using std::chrono::milliseconds;
using zenws::ReconnectBackoff;

std::vector<std::int64_t> draw(ReconnectBackoff& b, int n) {
    std::vector<std::int64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(b.next().count());
    return out;
}

TEST(Backoff, SequenceWithoutJitterDoublesUpToTheCap) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, false, false, 1);
    EXPECT_EQ(draw(b, 8), (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
    EXPECT_EQ(b.attempts(), 8);
}

TEST(Backoff, ImmediateFirstAttemptThenTheLadder) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, false, true, 1);
    EXPECT_EQ(draw(b, 8), (std::vector<std::int64_t>{0, 1000, 2000, 4000, 8000, 16000, 30000, 30000}));
}

TEST(Backoff, MatchesZenWebsocketCalculateBackoff) {
    // calculate_backoff(attempt, base, max) = min(base * 2^attempt, max)
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, false, false, 1);
    EXPECT_EQ(b.nominal(0).count(), 1000);
    EXPECT_EQ(b.nominal(1).count(), 2000);
    EXPECT_EQ(b.nominal(4).count(), 16000);
    EXPECT_EQ(b.nominal(5).count(), 30000);
}

TEST(Backoff, CapNotAPowerOfTwoMultipleIsHitExactly) {
    ReconnectBackoff b(milliseconds{100}, milliseconds{250}, false, true, 1);
    EXPECT_EQ(draw(b, 6), (std::vector<std::int64_t>{0, 100, 200, 250, 250, 250}));
}

TEST(Backoff, CapBelowBaseCapsEveryDelay) {
    ReconnectBackoff b(milliseconds{500}, milliseconds{200}, false, false, 1);
    EXPECT_EQ(draw(b, 3), (std::vector<std::int64_t>{200, 200, 200}));
}

TEST(Backoff, ZeroBaseGivesZeroDelays) {
    ReconnectBackoff b(milliseconds{0}, milliseconds{1000}, true, false, 1);
    EXPECT_EQ(draw(b, 4), (std::vector<std::int64_t>{0, 0, 0, 0}));
}

TEST(Backoff, ResetStartsOverIncludingTheImmediateAttempt) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, false, true, 1);
    (void)draw(b, 5);
    EXPECT_EQ(b.attempts(), 5);
    b.reset();
    EXPECT_EQ(b.attempts(), 0);
    EXPECT_EQ(draw(b, 3), (std::vector<std::int64_t>{0, 1000, 2000}));
    EXPECT_EQ(b.attempts(), 3);
}

TEST(Backoff, NoOverflowAtLargeAttemptNumbers) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, false, true, 1);
    for (int i = 0; i < 200; ++i) {
        auto d = b.next().count();
        ASSERT_GE(d, 0) << "attempt " << i;
        ASSERT_LE(d, 30000) << "attempt " << i;
    }
    EXPECT_EQ(b.next().count(), 30000);  // attempt 201
    EXPECT_EQ(b.nominal(63).count(), 30000);
    EXPECT_EQ(b.nominal(64).count(), 30000);
    EXPECT_EQ(b.nominal(1000).count(), 30000);
    EXPECT_EQ(b.nominal(UINT64_MAX).count(), 30000);
}

TEST(Backoff, NoOverflowWithHugeBaseAndCap) {
    const milliseconds huge{INT64_MAX / 2};
    ReconnectBackoff b(huge, milliseconds{INT64_MAX}, false, false, 1);
    EXPECT_EQ(b.next(), huge);
    EXPECT_EQ(b.next(), milliseconds{INT64_MAX - 1});  // huge * 2 = INT64_MAX - 1 (INT64_MAX is odd)
    EXPECT_EQ(b.next(), milliseconds{INT64_MAX});
    EXPECT_EQ(b.next(), milliseconds{INT64_MAX});
}

TEST(Backoff, JitterStaysWithinThreeQuartersAndTheNominalDelay) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, true, true, 42);
    for (int round = 0; round < 200; ++round) {
        b.reset();
        EXPECT_EQ(b.next().count(), 0) << "the immediate attempt is never jittered";
        for (std::uint64_t n = 0; n < 10; ++n) {
            const auto nominal = b.nominal(n).count();
            const auto d = b.next().count();
            ASSERT_GE(d * 4, nominal * 3) << "round " << round << " step " << n << " delay " << d;
            ASSERT_LE(d, nominal) << "round " << round << " step " << n;
            ASSERT_LE(d, 30000);
        }
    }
}

TEST(Backoff, JitterActuallySpreadsTheDelays) {
    ReconnectBackoff b(milliseconds{1000}, milliseconds{30000}, true, false, 7);
    std::set<std::int64_t> firsts;
    std::int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 500; ++i) {
        b.reset();
        auto d = b.next().count();
        firsts.insert(d);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
    }
    EXPECT_GT(firsts.size(), 50u);
    EXPECT_LT(lo, 800);   // reaches well into the lower quarter
    EXPECT_GT(hi, 950);   // and near the top
}

TEST(Backoff, JitterAtTheCapNeverCollapsesToZero) {
    ReconnectBackoff b(milliseconds{1}, milliseconds{4}, true, false, 3);
    for (int i = 0; i < 1000; ++i) {
        auto d = b.next().count();
        ASSERT_GE(d, 1);
        ASSERT_LE(d, 4);
    }
    ReconnectBackoff at_cap(milliseconds{30000}, milliseconds{30000}, true, false, 3);
    for (int i = 0; i < 1000; ++i) {
        auto d = at_cap.next().count();
        ASSERT_GE(d, 22500);
        ASSERT_LE(d, 30000);
    }
}

TEST(Backoff, SameSeedSameSequence) {
    ReconnectBackoff a(milliseconds{100}, milliseconds{60000}, true, false, 99);
    ReconnectBackoff b(milliseconds{100}, milliseconds{60000}, true, false, 99);
    EXPECT_EQ(draw(a, 20), draw(b, 20));
}

TEST(Backoff, MakeBackoffUsesTheConfig) {
    zenws::Config c;
    c.retry_delay = milliseconds{250};
    c.max_backoff = milliseconds{1000};
    c.backoff_jitter = false;
    auto b = zenws::make_backoff(c, true);
    EXPECT_EQ(b.base().count(), 250);
    EXPECT_EQ(b.cap().count(), 1000);
    EXPECT_FALSE(b.jitter());
    EXPECT_TRUE(b.immediate_first());
    EXPECT_EQ(draw(b, 5), (std::vector<std::int64_t>{0, 250, 500, 1000, 1000}));

    c.backoff_jitter = true;
    auto j = zenws::make_backoff(c, false);
    EXPECT_TRUE(j.jitter());
    EXPECT_FALSE(j.immediate_first());
}

// The low_latency profile promises a reconnect within ~1.3 s of the start of a 1 s outage when every failed
// attempt fails fast (connection refused): simulate the ladder against a server that is back at t = 1000 ms.
TEST(Backoff, LowLatencyProfileReconnectsWithin1300msAfterA1sOutage) {
    const auto cfg = zenws::Config::low_latency("ws://127.0.0.1:1/");
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        ReconnectBackoff b(cfg.retry_delay, cfg.max_backoff, cfg.backoff_jitter, true, seed);
        std::int64_t t = 0;
        int attempts = 0;
        while (attempts < cfg.retry_count) {
            t += b.next().count();
            ++attempts;
            if (t >= 1000) break;  // this attempt finds the server up
        }
        ASSERT_GE(t, 1000) << "retries exhausted before the outage ended, seed " << seed;
        ASSERT_LE(t, 1300) << "seed " << seed;
    }
}

}  // namespace
