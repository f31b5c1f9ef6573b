// fifo.hpp — a FIFO queue that allocates nothing until the first push (internal).
//
// A client has several queues that are empty nearly always (sends buffered during an outage, delayed sends,
// the pull inbox); std::deque allocates about half a kilobyte as soon as it is constructed. With thousands of idle
// connections per process that matters, so the deque is created on first use.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace zenws::detail {

template <class T>
class Fifo {
public:
    bool empty() const noexcept { return !items_ || items_->empty(); }
    std::size_t size() const noexcept { return items_ ? items_->size() : 0; }
    T& front() { return items_->front(); }
    void pop_front() { items_->pop_front(); }
    void push_back(T&& value) {
        if (!items_) items_ = std::make_unique<std::deque<T>>();
        items_->push_back(std::move(value));
    }
    void swap(Fifo& other) noexcept { items_.swap(other.items_); }
    auto begin() { return items_ ? items_->begin() : typename std::deque<T>::iterator(); }
    auto end() { return items_ ? items_->end() : typename std::deque<T>::iterator(); }

private:
    std::unique_ptr<std::deque<T>> items_;
};

}  // namespace zenws::detail
