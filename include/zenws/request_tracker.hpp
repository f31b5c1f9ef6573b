// zenws/request_tracker.hpp — the pure request-correlation table: which request ids are in flight, the token that
// completes each one (a callback, a promise, ...), when it started and when it times out.
//
// No clock is read and no timer is armed: the caller passes `now` in and drives expiry with expire(now), arming
// its own timer for next_deadline(). Every tracked entry leaves the table exactly once, through resolve(),
// expire() or fail_all(), so the caller completes each user's request exactly once. An id can be tracked again
// as soon as its entry has left. Keys are normalized id keys (IdRef::key(), id_key(), JsonRpcRequest::key()).
// Not thread-safe: used from the connection's executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "zenws/error.hpp"

namespace zenws {

namespace detail {

// The token-independent part of RequestTracker: keys, times and deadline order, addressed by slot numbers.
class RequestTable {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    struct Meta {
        std::string key;
        TimePoint started_at;
        TimePoint deadline;
    };

    // The slot of the new entry, or nullopt when `key` is already pending (then nothing changes).
    std::optional<std::uint32_t> insert(std::string_view key, TimePoint started_at, TimePoint deadline);
    std::optional<std::uint32_t> find(std::string_view key) const;
    // The pending entry with the earliest deadline (ties: the one tracked first), if its deadline <= now.
    std::optional<std::uint32_t> first_expired(TimePoint now) const;
    // The pending entry with the earliest deadline.
    std::optional<std::uint32_t> earliest() const;
    // Removes a live slot and returns its metadata; the slot number may be reused by a later insert.
    Meta erase(std::uint32_t slot);
    std::size_t size() const noexcept { return index_.size(); }
    std::optional<TimePoint> next_deadline() const;

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using DeadlineMap = std::multimap<TimePoint, std::uint32_t>;
    struct Slot {
        Meta meta;
        DeadlineMap::iterator by_deadline;
        bool live = false;
    };
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> index_;
    DeadlineMap by_deadline_;
};

}  // namespace detail

// Token: whatever completes the user's request (e.g. std::function<void(Result<std::string>)>, a
// std::promise, a shared state). Must be move-constructible; move-only types are fine.
template <class Token>
class RequestTracker {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;

    struct Entry {
        std::string key;
        Token token;
        TimePoint started_at;  // `now` given to track(): round trip = reply time - started_at
        TimePoint deadline;
    };

    // Starts tracking `key` until `deadline`. If the key is already pending, returns Errc::duplicate_request_id,
    // tracks nothing and leaves `token` untouched (the caller still owns it and should not send the request).
    template <class T>
    Status track(std::string_view key, TimePoint now, TimePoint deadline, T&& token) {
        const auto slot = table_.insert(key, now, deadline);
        if (!slot) {
            Error e(Errc::duplicate_request_id, "request id " + std::string(key) + " is already pending");
            e.raw = std::string(key);
            return e;
        }
        try {
            if (tokens_.size() <= *slot) tokens_.resize(*slot + 1);
            tokens_[*slot].emplace(std::forward<T>(token));
        } catch (...) {
            table_.erase(*slot);
            throw;
        }
        return {};
    }

    // A reply arrived: removes and returns the entry, or nullopt when `key` is not pending (never tracked, already
    // resolved, expired or failed: a late reply the caller reports as unmatched).
    std::optional<Entry> resolve(std::string_view key) {
        const auto slot = table_.find(key);
        if (!slot) return std::nullopt;
        return take(*slot);
    }

    // Removes and returns every entry whose deadline <= now, earliest deadline first.
    std::vector<Entry> expire(TimePoint now) {
        std::vector<Entry> out;
        for (std::size_t n = table_.size(); n > 0; --n) {
            const auto slot = table_.first_expired(now);
            if (!slot) break;
            out.push_back(take(*slot));
        }
        return out;
    }

    // Removes and returns all entries (earliest deadline first), e.g. on disconnect.
    std::vector<Entry> fail_all() {
        std::vector<Entry> out;
        out.reserve(table_.size());
        for (std::size_t n = table_.size(); n > 0; --n) {
            const auto slot = table_.earliest();
            if (!slot) break;
            out.push_back(take(*slot));
        }
        return out;
    }

    bool contains(std::string_view key) const { return table_.find(key).has_value(); }
    std::size_t pending_count() const noexcept { return table_.size(); }
    bool empty() const noexcept { return table_.size() == 0; }
    // When the caller's timer should next call expire(); nullopt when nothing is pending.
    std::optional<TimePoint> next_deadline() const { return table_.next_deadline(); }

private:
    Entry take(std::uint32_t slot) {
        auto meta = table_.erase(slot);
        Entry e{std::move(meta.key), std::move(*tokens_[slot]), meta.started_at, meta.deadline};
        tokens_[slot].reset();
        return e;
    }

    detail::RequestTable table_;
    std::vector<std::optional<Token>> tokens_;  // indexed by slot
};

}  // namespace zenws
