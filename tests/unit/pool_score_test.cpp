// pool_score_test.cpp — owns the unit tests of the pool health score and PoolRouter: the formula and its caps,
// ineligible (not connected) clients, error decay and clearing, ranking order, round-robin tie breaking, duplicates.
#include <gtest/gtest.h>

#include <map>

#include "zenws/pool_router.hpp"

namespace zenws {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0 = SteadyTime{} + 1000h;

HealthInputs up(std::size_t pending = 0, std::uint64_t p99_ms = 0, int hb = 0) {
    HealthInputs h;
    h.connected = true;
    h.pending_requests = pending;
    h.p99_request_us = p99_ms * 1000;
    h.heartbeat_failures = hb;
    return h;
}

TEST(PoolScore, FormulaAndCaps) {
    EXPECT_EQ(health_score(up(), 0), 100);
    EXPECT_EQ(health_score(up(2), 0), 80);
    EXPECT_EQ(health_score(up(100), 0), 60);               // pending capped at 40
    EXPECT_EQ(health_score(up(0, 100), 0), 96);            // 100 ms p99 -> 4
    EXPECT_EQ(health_score(up(0, 10'000), 0), 70);         // latency capped at 30
    EXPECT_EQ(health_score(up(0, 0, 1), 0), 85);
    EXPECT_EQ(health_score(up(0, 0, 9), 0), 70);           // heartbeat capped at 30
    EXPECT_EQ(health_score(up(), 1.0), 85);
    EXPECT_EQ(health_score(up(), 50.0), 55);               // errors capped at 45
    EXPECT_EQ(health_score(up(100, 10'000, 9), 50.0), 0);  // clamped at 0
}

TEST(PoolScore, NotConnectedIsIneligible) {
    HealthInputs h = up();
    h.connected = false;
    EXPECT_EQ(health_score(h, 0), -1);
    PoolRouter r;
    std::vector<PoolCandidate> c{{1, h}, {2, up()}};
    auto ranked = r.rank(c, t0);
    ASSERT_EQ(ranked.size(), 1u);
    EXPECT_EQ(ranked[0].id, 2u);
    EXPECT_EQ(ranked[0].index, 1u);
}

TEST(PoolRouter, ErrorsDecayByHalfLifeAndSuccessClears) {
    PoolScoring s;
    s.error_half_life = 10s;
    PoolRouter r(s);
    r.record_error(7, t0);
    r.record_error(7, t0);
    EXPECT_NEAR(r.recent_errors(7, t0), 2.0, 1e-9);
    EXPECT_NEAR(r.recent_errors(7, t0 + 10s), 1.0, 1e-6);
    EXPECT_NEAR(r.recent_errors(7, t0 + 30s), 0.25, 1e-6);
    EXPECT_EQ(r.score({7, up()}, t0), 70);
    EXPECT_EQ(r.score({7, up()}, t0 + 10s), 85);
    EXPECT_EQ(r.score({7, up()}, t0 + 200s), 100);
    r.record_success(7);
    EXPECT_EQ(r.recent_errors(7, t0), 0.0);
    EXPECT_EQ(r.tracked(), 0u);
}

TEST(PoolRouter, RanksHealthiestFirst) {
    PoolRouter r;
    std::vector<PoolCandidate> c{{1, up(3)}, {2, up()}, {3, up(0, 0, 1)}, {4, up(1)}};
    auto ranked = r.rank(c, t0);
    ASSERT_EQ(ranked.size(), 4u);
    EXPECT_EQ(ranked[0].id, 2u);
    EXPECT_EQ(ranked[0].score, 100);
    EXPECT_EQ(ranked[1].id, 4u);
    EXPECT_EQ(ranked[2].id, 3u);
    EXPECT_EQ(ranked[3].id, 1u);
    r.record_error(2, t0);
    r.record_error(2, t0);
    EXPECT_EQ(r.rank(c, t0)[0].id, 4u);  // 2 now scores 70
}

TEST(PoolRouter, TiesAreRoundRobin) {
    PoolRouter r;
    std::vector<PoolCandidate> c{{10, up()}, {11, up()}, {12, up()}, {13, up(4)}};
    std::map<std::uint64_t, int> firsts;
    for (int i = 0; i < 30; ++i) {
        auto ranked = r.rank(c, t0);
        ASSERT_EQ(ranked.size(), 4u);
        ++firsts[ranked[0].id];
        EXPECT_EQ(ranked[3].id, 13u);  // the worse one never jumps the tie group
    }
    EXPECT_EQ(firsts[10], 10);
    EXPECT_EQ(firsts[11], 10);
    EXPECT_EQ(firsts[12], 10);
    EXPECT_EQ(firsts.count(13), 0u);
}

TEST(PoolRouter, DuplicatesRankedOnceAndEmptyPool) {
    PoolRouter r;
    std::vector<PoolCandidate> c{{5, up()}, {5, up()}, {6, up(1)}};
    EXPECT_EQ(r.rank(c, t0).size(), 2u);
    EXPECT_TRUE(r.rank({}, t0).empty());
}

TEST(PoolRouter, ManyClientsTableStaysBounded) {
    PoolScoring s;
    s.error_half_life = 1s;
    PoolRouter r(s);
    for (std::uint64_t i = 0; i < 5000; ++i) r.record_error(i, t0 + std::chrono::milliseconds(i * 10));
    EXPECT_LT(r.tracked(), 2100u);
}

}  // namespace
}  // namespace zenws
