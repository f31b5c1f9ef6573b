// runtime.cpp — the event loop connections run on: an owned io_context with worker threads, or the user's; and
// what happens to clients that outlive it (see loop_anchor.hpp and the lifetime rule in runtime.hpp).
#include "zenws/runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>
#include <vector>

#include "io/loop_anchor.hpp"

namespace zenws {

namespace detail {
// client.cpp: closes every live client of `context` with Errc::runtime_stopped (directly when nothing runs the loop
// any more, else on each client's strand).
void stop_clients_of(boost::asio::io_context& context, bool loop_stopped);

namespace {
thread_local bool draining_here = false;
}

void LoopAnchor::drain() {
    if (!owned || !stopped.load(std::memory_order_acquire) || draining_here) return;
    std::lock_guard lock(drain_mutex_);
    draining_here = true;
    context->restart();
    // Each poll() runs everything ready; handlers that complete others make more ready. Bounded: a handler that
    // kept re-posting itself forever must not hang the destructor.
    for (int round = 0; round < 100'000; ++round) {
        if (context->poll() == 0) break;
    }
    draining_here = false;
}
}  // namespace detail

struct Runtime::Impl {
    std::shared_ptr<detail::LoopAnchor> anchor = std::make_shared<detail::LoopAnchor>();
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
};

Runtime::Runtime(unsigned threads) : impl_(std::make_unique<Impl>()) {
    if (threads == 0) threads = 1;
    auto& anchor = *impl_->anchor;
    anchor.context = std::make_shared<boost::asio::io_context>(static_cast<int>(threads));
    anchor.owned = true;
    impl_->work.emplace(anchor.context->get_executor());
    for (unsigned i = 0; i < threads; ++i) {
        impl_->threads.emplace_back([ctx = anchor.context.get()] { ctx->run(); });
    }
}

Runtime::Runtime(boost::asio::io_context& context) : impl_(std::make_unique<Impl>()) {
    impl_->anchor->context = std::shared_ptr<boost::asio::io_context>(&context, [](boost::asio::io_context*) {});
}

Runtime::~Runtime() {
    auto& anchor = *impl_->anchor;
    if (anchor.owned) {
        impl_->work.reset();
        anchor.context->stop();
        for (auto& t : impl_->threads) {
            if (t.joinable()) t.join();
        }
        anchor.stopped.store(true, std::memory_order_release);
        detail::stop_clients_of(*anchor.context, true);
        anchor.drain();
        // The io_context itself lives on while a client handle (or one of its sessions) still refers to it.
    } else {
        anchor.stopped.store(true, std::memory_order_release);
        detail::stop_clients_of(*anchor.context, false);
    }
}

std::shared_ptr<detail::LoopAnchor> detail::RuntimeAccess::anchor(Runtime& runtime) { return runtime.impl_->anchor; }

boost::asio::io_context& Runtime::context() noexcept { return *impl_->anchor->context; }
bool Runtime::owns_threads() const noexcept { return impl_->anchor->owned; }

Runtime& Runtime::shared() {
    // Intentionally leaked: connections may outlive static destruction order.
    static Runtime* runtime = new Runtime(1);
    return *runtime;
}

}  // namespace zenws
