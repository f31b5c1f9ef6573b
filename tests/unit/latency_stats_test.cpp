// latency_stats_test.cpp — owns the unit tests of LatencyStats / LatencySummary (zenws/latency_stats.hpp).
#include "zenws/latency_stats.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using zenws::LatencyStats;

TEST(LatencyStats, EmptySnapshotIsAllZero) {
    LatencyStats s(10);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 0u);
    EXPECT_EQ(sum.last, 0u);
    EXPECT_EQ(sum.min, 0u);
    EXPECT_EQ(sum.max, 0u);
    EXPECT_EQ(sum.mean, 0u);
    EXPECT_EQ(sum.p50, 0u);
    EXPECT_EQ(sum.p999, 0u);
    EXPECT_TRUE(s.empty());
}

TEST(LatencyStats, OneToHundredNearestRank) {
    LatencyStats s(100);
    for (std::uint64_t v = 1; v <= 100; ++v) s.add(v);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 100u);
    EXPECT_EQ(sum.last, 100u);
    EXPECT_EQ(sum.min, 1u);
    EXPECT_EQ(sum.max, 100u);
    EXPECT_EQ(sum.p50, 50u);
    EXPECT_EQ(sum.p90, 90u);
    EXPECT_EQ(sum.p99, 99u);
    EXPECT_EQ(sum.p999, 100u);
    EXPECT_EQ(sum.mean, 51u);  // 50.5 rounds half up
}

TEST(LatencyStats, InsertionOrderDoesNotMatter) {
    LatencyStats s(100);
    for (std::uint64_t v = 100; v >= 1; --v) s.add(v);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.last, 1u);
    EXPECT_EQ(sum.p50, 50u);
    EXPECT_EQ(sum.p99, 99u);
    EXPECT_EQ(sum.max, 100u);
}

TEST(LatencyStats, PercentileRoundsTheRankUp) {
    // n = 10: p50 -> rank 5, p90 -> rank 9, p99 -> ceil(9.9) = 10, p99.9 -> 10.
    std::vector<std::uint64_t> ten{10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    EXPECT_EQ(LatencyStats::percentile(ten, 500), 50u);
    EXPECT_EQ(LatencyStats::percentile(ten, 900), 90u);
    EXPECT_EQ(LatencyStats::percentile(ten, 990), 100u);
    EXPECT_EQ(LatencyStats::percentile(ten, 999), 100u);
    EXPECT_EQ(LatencyStats::percentile(ten, 0), 10u);     // rank clamped to 1
    EXPECT_EQ(LatencyStats::percentile(ten, 1000), 100u);
    EXPECT_EQ(LatencyStats::percentile(ten, 5000), 100u);  // clamped
    // n = 3: p50 -> ceil(1.5) = 2.
    std::vector<std::uint64_t> three{5, 7, 9};
    EXPECT_EQ(LatencyStats::percentile(three, 500), 7u);
    EXPECT_EQ(LatencyStats::percentile(three, 334), 7u);   // ceil(1.002) = 2
    EXPECT_EQ(LatencyStats::percentile(three, 333), 5u);   // ceil(0.999) = 1
    EXPECT_EQ(LatencyStats::percentile(std::vector<std::uint64_t>{}, 500), 0u);
}

TEST(LatencyStats, ThousandSamplesP999) {
    LatencyStats s(1000);
    for (std::uint64_t v = 1; v <= 1000; ++v) s.add(v * 10);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.p50, 5000u);
    EXPECT_EQ(sum.p90, 9000u);
    EXPECT_EQ(sum.p99, 9900u);
    EXPECT_EQ(sum.p999, 9990u);
    EXPECT_EQ(sum.max, 10000u);
}

TEST(LatencyStats, SingleSample) {
    LatencyStats s(5);
    s.add(1234);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 1u);
    for (auto v : {sum.last, sum.min, sum.max, sum.mean, sum.p50, sum.p90, sum.p99, sum.p999}) EXPECT_EQ(v, 1234u);
}

TEST(LatencyStats, WindowEvictsTheOldest) {
    LatencyStats s(3);
    for (std::uint64_t v : {1000, 1, 2, 3}) s.add(v);  // 1000 evicted
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 3u);
    EXPECT_EQ(sum.max, 3u);
    EXPECT_EQ(sum.min, 1u);
    EXPECT_EQ(sum.last, 3u);
    EXPECT_EQ(sum.mean, 2u);
    EXPECT_EQ(s.total_added(), 4u);

    for (std::uint64_t v = 0; v < 10; ++v) s.add(500 + v);  // wraps several times
    sum = s.snapshot();
    EXPECT_EQ(sum.count, 3u);
    EXPECT_EQ(sum.min, 507u);
    EXPECT_EQ(sum.max, 509u);
    EXPECT_EQ(sum.last, 509u);
}

TEST(LatencyStats, ClearForgetsSamplesKeepsCapacity) {
    LatencyStats s(4);
    for (std::uint64_t v = 1; v <= 6; ++v) s.add(v);
    s.clear();
    EXPECT_EQ(s.snapshot().count, 0u);
    EXPECT_EQ(s.capacity(), 4u);
    EXPECT_EQ(s.total_added(), 0u);
    s.add(42);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 1u);
    EXPECT_EQ(sum.last, 42u);
    EXPECT_EQ(sum.min, 42u);
}

TEST(LatencyStats, ZeroCapacityActsAsOne) {
    LatencyStats s(0);
    EXPECT_EQ(s.capacity(), 1u);
    s.add(1);
    s.add(2);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.count, 1u);
    EXPECT_EQ(sum.last, 2u);
}

TEST(LatencyStats, MeanRoundsToNearestAndDoesNotOverflow) {
    LatencyStats s(3);
    s.add(1);
    s.add(1);
    s.add(2);  // 4/3 = 1.33 -> 1
    EXPECT_EQ(s.snapshot().mean, 1u);
    s.add(2);  // window {1, 2, 2}: 5/3 = 1.67 -> 2
    EXPECT_EQ(s.snapshot().mean, 2u);

    LatencyStats big(4);
    const std::uint64_t m = UINT64_MAX;
    for (int i = 0; i < 4; ++i) big.add(m);
    EXPECT_EQ(big.snapshot().mean, m);
    big.add(m - 3);  // {m, m, m, m-3}: mean m - 0.75 -> m - 1
    EXPECT_EQ(big.snapshot().mean, m - 1);
}

TEST(LatencyStats, SnapshotDoesNotDisturbTheWindow) {
    LatencyStats s(5);
    for (std::uint64_t v : {9, 3, 7}) s.add(v);
    (void)s.snapshot();
    s.add(1);
    auto sum = s.snapshot();
    EXPECT_EQ(sum.last, 1u);
    EXPECT_EQ(sum.count, 4u);
    EXPECT_EQ(sum.p50, 3u);  // {1,3,7,9}: rank 2
}

}  // namespace
