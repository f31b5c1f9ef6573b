// request_tracker.cpp — detail::RequestTable, the token-independent core of RequestTracker: id index, slot reuse
// and deadline ordering. See zenws/request_tracker.hpp.
#include "zenws/request_tracker.hpp"

namespace zenws::detail {

std::optional<std::uint32_t> RequestTable::insert(std::string_view key, TimePoint started_at, TimePoint deadline) {
    if (index_.find(key) != index_.end()) return std::nullopt;
    std::uint32_t slot = 0;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.meta = Meta{std::string(key), started_at, deadline};
    s.by_deadline = by_deadline_.emplace(deadline, slot);  // equal deadlines keep insertion order
    s.live = true;
    index_.emplace(s.meta.key, slot);
    return slot;
}

std::optional<std::uint32_t> RequestTable::find(std::string_view key) const {
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint32_t> RequestTable::first_expired(TimePoint now) const {
    if (by_deadline_.empty()) return std::nullopt;
    const auto it = by_deadline_.begin();
    if (it->first > now) return std::nullopt;
    return it->second;
}

std::optional<std::uint32_t> RequestTable::earliest() const {
    if (by_deadline_.empty()) return std::nullopt;
    return by_deadline_.begin()->second;
}

RequestTable::Meta RequestTable::erase(std::uint32_t slot) {
    Slot& s = slots_.at(slot);
    if (!s.live) return Meta{};
    by_deadline_.erase(s.by_deadline);
    index_.erase(s.meta.key);
    s.live = false;
    free_.push_back(slot);
    return std::move(s.meta);
}

std::optional<RequestTable::TimePoint> RequestTable::next_deadline() const {
    if (by_deadline_.empty()) return std::nullopt;
    return by_deadline_.begin()->first;
}

}  // namespace zenws::detail
