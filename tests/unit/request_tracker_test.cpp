// request_tracker_test.cpp — RequestTracker: correlation, duplicates, id reuse, expiry exactly once, fail_all,
// late replies, deadline ordering and move-only tokens. Time is passed in; no clock is read.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "zenws/request_tracker.hpp"

using namespace zenws;
using namespace std::chrono_literals;

namespace {

using Tracker = RequestTracker<int>;
using TP = Tracker::TimePoint;
const TP t0 = TP{} + 1000s;  // an arbitrary fixed origin

TEST(RequestTracker, TrackAndResolveOutOfOrder) {
    Tracker t;
    ASSERT_TRUE(t.track("1", t0, t0 + 5s, 101).ok());
    ASSERT_TRUE(t.track("2", t0 + 1ms, t0 + 5s, 102).ok());
    ASSERT_TRUE(t.track("\"abc", t0 + 2ms, t0 + 5s, 103).ok());
    EXPECT_EQ(t.pending_count(), 3u);

    auto b = t.resolve("\"abc");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->token, 103);
    EXPECT_EQ(b->key, "\"abc");
    EXPECT_EQ(b->started_at, t0 + 2ms);
    EXPECT_EQ(b->deadline, t0 + 5s);

    auto two = t.resolve("2");
    ASSERT_TRUE(two);
    EXPECT_EQ(two->token, 102);
    auto one = t.resolve("1");
    ASSERT_TRUE(one);
    EXPECT_EQ(one->token, 101);
    EXPECT_EQ(t.pending_count(), 0u);
    EXPECT_TRUE(t.empty());
    EXPECT_FALSE(t.next_deadline());
}

TEST(RequestTracker, DuplicateIdIsRejectedAndNothingTracked) {
    Tracker t;
    ASSERT_TRUE(t.track("7", t0, t0 + 1s, 1).ok());
    const auto dup = t.track("7", t0 + 1ms, t0 + 10s, 2);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::duplicate_request_id);
    EXPECT_EQ(t.pending_count(), 1u);
    EXPECT_EQ(t.next_deadline(), t0 + 1s);  // the duplicate's deadline was not added
    auto e = t.resolve("7");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->token, 1);  // the original entry, untouched
    EXPECT_FALSE(t.resolve("7"));
}

TEST(RequestTracker, DuplicateLeavesCallersTokenUntouched) {
    RequestTracker<std::unique_ptr<int>> t;
    ASSERT_TRUE(t.track("k", t0, t0 + 1s, std::make_unique<int>(1)).ok());
    auto mine = std::make_unique<int>(2);
    EXPECT_FALSE(t.track("k", t0, t0 + 1s, std::move(mine)).ok());
    ASSERT_NE(mine, nullptr);  // still owned by the caller, who can complete it with the error
    EXPECT_EQ(*mine, 2);
}

TEST(RequestTracker, IdReusableAfterCompletion) {
    Tracker t;
    ASSERT_TRUE(t.track("5", t0, t0 + 1s, 1).ok());
    ASSERT_TRUE(t.resolve("5"));
    ASSERT_TRUE(t.track("5", t0 + 2s, t0 + 3s, 2).ok());
    ASSERT_EQ(t.expire(t0 + 3s).size(), 1u);
    ASSERT_TRUE(t.track("5", t0 + 4s, t0 + 5s, 3).ok());
    ASSERT_EQ(t.fail_all().size(), 1u);
    ASSERT_TRUE(t.track("5", t0 + 6s, t0 + 7s, 4).ok());
    auto e = t.resolve("5");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->token, 4);
    EXPECT_EQ(e->started_at, t0 + 6s);
}

TEST(RequestTracker, ReusedIdIsNotExpiredByTheOldDeadline) {
    // The stale-timer case: id 9 timed-out-and-reused must keep the new deadline only.
    Tracker t;
    ASSERT_TRUE(t.track("9", t0, t0 + 1s, 1).ok());
    ASSERT_TRUE(t.resolve("9"));
    ASSERT_TRUE(t.track("9", t0 + 500ms, t0 + 10s, 2).ok());
    EXPECT_TRUE(t.expire(t0 + 1s).empty());
    EXPECT_TRUE(t.contains("9"));
    EXPECT_EQ(t.next_deadline(), t0 + 10s);
}

TEST(RequestTracker, ExpireReturnsEachExpiredEntryExactlyOnce) {
    Tracker t;
    ASSERT_TRUE(t.track("a", t0, t0 + 3s, 1).ok());
    ASSERT_TRUE(t.track("b", t0, t0 + 1s, 2).ok());
    ASSERT_TRUE(t.track("c", t0, t0 + 2s, 3).ok());
    ASSERT_TRUE(t.track("d", t0, t0 + 1s, 4).ok());
    EXPECT_EQ(t.next_deadline(), t0 + 1s);

    EXPECT_TRUE(t.expire(t0 + 999ms).empty());
    auto first = t.expire(t0 + 1s);  // deadline reached counts as passed
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].key, "b");  // equal deadlines: tracked first, first out
    EXPECT_EQ(first[1].key, "d");
    EXPECT_TRUE(t.expire(t0 + 1s).empty());  // never twice
    EXPECT_EQ(t.next_deadline(), t0 + 2s);

    auto rest = t.expire(t0 + 1h);
    ASSERT_EQ(rest.size(), 2u);
    EXPECT_EQ(rest[0].key, "c");
    EXPECT_EQ(rest[1].key, "a");
    EXPECT_TRUE(t.expire(t0 + 2h).empty());
    EXPECT_EQ(t.pending_count(), 0u);
}

TEST(RequestTracker, LateReplyAfterExpiryIsUnmatched) {
    Tracker t;
    ASSERT_TRUE(t.track("42", t0, t0 + 100ms, 1).ok());
    ASSERT_EQ(t.expire(t0 + 100ms).size(), 1u);
    EXPECT_FALSE(t.resolve("42"));  // the caller reports the reply as unmatched
    EXPECT_FALSE(t.resolve("never-tracked"));
}

TEST(RequestTracker, FailAllWithHundredInFlightCompletesEachExactlyOnce) {
    RequestTracker<std::function<void(const Error&)>> t;
    std::map<int, int> completions;
    for (int i = 0; i < 100; ++i) {
        const auto deadline = t0 + std::chrono::milliseconds(1000 + (i * 37) % 100);
        ASSERT_TRUE(t.track(std::to_string(i), t0, deadline, [&completions, i](const Error&) { ++completions[i]; })
                        .ok());
    }
    // a few complete normally first
    for (int i : {3, 50, 99}) {
        auto e = t.resolve(std::to_string(i));
        ASSERT_TRUE(e);
        e->token(Error{});
    }
    auto all = t.fail_all();
    EXPECT_EQ(all.size(), 97u);
    for (auto& e : all) e.token(Error(Errc::disconnected, "connection lost"));
    EXPECT_EQ(t.pending_count(), 0u);
    EXPECT_TRUE(t.fail_all().empty());
    EXPECT_TRUE(t.expire(t0 + 1h).empty());
    ASSERT_EQ(completions.size(), 100u);
    for (const auto& [id, n] : completions) EXPECT_EQ(n, 1) << id;
    // deadline order
    for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].deadline, all[i].deadline);
}

TEST(RequestTracker, InterleavedOperationsKeepCountsConsistent) {
    Tracker t;
    int tracked = 0, left = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 20; ++i) {
            const std::string key = std::to_string(round * 20 + i);
            if (t.track(key, t0, t0 + std::chrono::seconds(round + (i % 3)), i).ok()) ++tracked;
        }
        for (int i = 0; i < 20; i += 2) {
            if (t.resolve(std::to_string(round * 20 + i))) ++left;
        }
        left += static_cast<int>(t.expire(t0 + std::chrono::seconds(round)).size());
        EXPECT_EQ(static_cast<int>(t.pending_count()), tracked - left);
    }
    left += static_cast<int>(t.fail_all().size());
    EXPECT_EQ(tracked, 1000);
    EXPECT_EQ(left, tracked);
}

TEST(RequestTracker, MoveOnlyTokens) {
    RequestTracker<std::unique_ptr<std::string>> t;
    ASSERT_TRUE(t.track("1", t0, t0 + 1s, std::make_unique<std::string>("one")).ok());
    ASSERT_TRUE(t.track("2", t0, t0 + 2s, std::make_unique<std::string>("two")).ok());
    auto e = t.resolve("2");
    ASSERT_TRUE(e);
    EXPECT_EQ(*e->token, "two");
    ASSERT_TRUE(t.track("3", t0, t0 + 3s, std::make_unique<std::string>("three")).ok());  // reuses the freed slot
    auto x = t.expire(t0 + 5s);
    ASSERT_EQ(x.size(), 2u);
    EXPECT_EQ(*x[0].token, "one");
    EXPECT_EQ(*x[1].token, "three");
}

}  // namespace
