// restart_intensity_test.cpp — owns the unit tests of the pure restart accounting: RestartIntensity (10 restarts in
// the window pass, the 11th escalates, the window slides) and RestartDelay (immediate first restart, exponential
// growth, cap, jitter bounds, reset after a stable run).
#include <gtest/gtest.h>

#include "zenws/restart_intensity.hpp"

namespace zenws {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(RestartIntensity, TenRestartsInTheWindowAreAllowed) {
    RestartIntensity in(10, 60s);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(in.add(t0 + i * 1s)) << "restart " << i + 1;
    EXPECT_EQ(in.count(t0 + 10s), 10);
}

TEST(RestartIntensity, EleventhRestartInTheWindowEscalates) {
    RestartIntensity in(10, 60s);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(in.add(t0 + i * 3s));
    EXPECT_TRUE(in.would_exceed(t0 + 33s));
    EXPECT_FALSE(in.add(t0 + 33s));  // the original's ~33 s pool death
}

TEST(RestartIntensity, WindowSlides) {
    RestartIntensity in(10, 60s);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(in.add(t0 + i * 1s));
    // The first restart (t0) leaves the window at t0 + 60 s: an 11th restart then is fine.
    EXPECT_FALSE(in.would_exceed(t0 + 60s));
    EXPECT_TRUE(in.add(t0 + 60s));
    EXPECT_EQ(in.count(t0 + 60s), 10);
    // But not just before.
    RestartIntensity in2(10, 60s);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(in2.add(t0 + i * 1s));
    EXPECT_FALSE(in2.add(t0 + 59s));
}

TEST(RestartIntensity, SpreadOutRestartsNeverEscalate) {
    RestartIntensity in(3, 10s);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(in.add(t0 + i * 4s)) << i;  // at most 3 in any 10 s
}

TEST(RestartIntensity, ZeroMeansNoRestartsAndResetForgets) {
    RestartIntensity none(0, 60s);
    EXPECT_FALSE(none.add(t0));
    RestartIntensity in(1, 60s);
    EXPECT_TRUE(in.add(t0));
    EXPECT_FALSE(in.add(t0 + 1s));
    in.reset();
    EXPECT_EQ(in.count(t0 + 1s), 0);
    EXPECT_TRUE(in.add(t0 + 2s));
}

TEST(RestartIntensity, ShortWindow) {
    RestartIntensity in(2, 2s);
    EXPECT_TRUE(in.add(t0));
    EXPECT_TRUE(in.add(t0 + 500ms));
    EXPECT_FALSE(in.add(t0 + 1s));
    EXPECT_EQ(in.count(t0 + 3100ms), 0);
    EXPECT_TRUE(in.add(t0 + 3100ms));
}

TEST(RestartDelay, FirstImmediateThenExponentialUpToCap) {
    RestartBackoffOptions o;
    o.base = 100ms;
    o.cap = 1000ms;
    o.jitter = false;
    RestartDelay d(o, 1);
    std::vector<long> got;
    for (int i = 0; i < 7; ++i) got.push_back(static_cast<long>(d.crashed(t0 + i * 10ms).count()));
    EXPECT_EQ(got, (std::vector<long>{0, 100, 200, 400, 800, 1000, 1000}));
    EXPECT_EQ(d.consecutive(), 7);
}

TEST(RestartDelay, JitterStaysWithinBounds) {
    RestartBackoffOptions o;
    o.base = 200ms;
    o.cap = 5s;
    o.jitter = true;
    for (std::uint64_t seed = 1; seed < 50; ++seed) {
        RestartDelay d(o, seed);
        EXPECT_EQ(d.crashed(t0).count(), 0);
        long nominal = 200;
        for (int i = 1; i < 6; ++i) {
            long v = static_cast<long>(d.crashed(t0).count());
            EXPECT_GE(v, nominal - nominal / 4) << "seed " << seed << " step " << i;
            EXPECT_LE(v, nominal);
            nominal = std::min(nominal * 2, 5000L);
        }
    }
}

TEST(RestartDelay, StableRunResetsTheLadder) {
    RestartBackoffOptions o;
    o.base = 100ms;
    o.cap = 10s;
    o.jitter = false;
    o.reset_after = 5s;
    RestartDelay d(o, 1);
    EXPECT_EQ(d.crashed(t0).count(), 0);
    d.started(t0);
    EXPECT_EQ(d.crashed(t0 + 1s).count(), 100);  // crashed after 1 s: still unstable
    d.started(t0 + 1100ms);
    EXPECT_EQ(d.crashed(t0 + 2s).count(), 200);
    d.started(t0 + 2200ms);
    EXPECT_EQ(d.crashed(t0 + 20s).count(), 0);  // ran 17.8 s: immediate again
    EXPECT_EQ(d.crashed(t0 + 20s).count(), 100);  // a failed start (no started()) keeps climbing
}

TEST(RestartDelay, AChildThatKeepsConnectingAndDroppingKeepsBackingOff) {
    // The child's client reconnected by itself for a whole minute, each connection lasting 1 s, then gave up: the
    // time since its first start is long, but none of its connections was stable, so the ladder goes on.
    RestartBackoffOptions o;
    o.base = 100ms;
    o.cap = 10s;
    o.jitter = false;
    o.reset_after = 5s;
    RestartDelay d(o, 1);
    EXPECT_EQ(d.crashed(t0).count(), 0);
    auto t = t0;
    for (int i = 0; i < 60; ++i) {
        d.started(t);
        t += 1s;
        d.disconnected(t);
    }
    EXPECT_EQ(d.crashed(t).count(), 100);
    d.started(t);
    d.disconnected(t + 6s);  // one stable connection in between
    EXPECT_EQ(d.crashed(t + 7s).count(), 0);
}

TEST(RestartDelay, DisabledIsAlwaysImmediate) {
    RestartBackoffOptions o;
    o.enabled = false;
    RestartDelay d(o, 1);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(d.crashed(t0).count(), 0);
    EXPECT_EQ(d.consecutive(), 5);
}

}  // namespace
}  // namespace zenws
