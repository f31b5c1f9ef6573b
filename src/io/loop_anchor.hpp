// loop_anchor.hpp — owns LoopAnchor (internal): what a Runtime shares with every client created on it, so that a
// client handle may outlive its Runtime safely.
//
// The anchor keeps the io_context of an owned Runtime alive for as long as any client (or its session) exists, so
// destroying a client after its Runtime never touches freed Asio services. When the Runtime is destroyed it joins
// its threads, sets `stopped`, closes every client with Errc::runtime_stopped and drains the loop on its own thread
// (poll), so every pending completion runs exactly once. A call that races with that (it passed its own `stopped`
// check just before the flag was set, and posted afterwards) calls drain() itself after posting: the loop has no
// threads any more, and draining under the anchor's mutex runs the work it posted.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

namespace boost::asio {
class io_context;
}

namespace zenws::detail {

struct LoopAnchor {
    std::shared_ptr<boost::asio::io_context> context;  // owned runtimes: the owner; wrapped: non-owning
    bool owned = false;                                 // true: no thread runs the loop once `stopped` is set
    std::atomic<bool> stopped{false};

    // Runs whatever is queued on a stopped, owned loop (bounded), from the calling thread. No-op otherwise, and
    // no-op when called from inside a drain on this thread (the outer drain picks the new work up).
    void drain();

private:
    std::mutex drain_mutex_;
};

}  // namespace zenws::detail
