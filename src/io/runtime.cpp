// runtime.cpp — the event loop connections run on: an owned io_context with worker threads, or the user's.
#include "zenws/runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>
#include <vector>

namespace zenws {

struct Runtime::Impl {
    std::unique_ptr<boost::asio::io_context> owned;
    boost::asio::io_context* context = nullptr;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
};

Runtime::Runtime(unsigned threads) : impl_(std::make_unique<Impl>()) {
    if (threads == 0) threads = 1;
    impl_->owned = std::make_unique<boost::asio::io_context>(static_cast<int>(threads));
    impl_->context = impl_->owned.get();
    impl_->work.emplace(impl_->context->get_executor());
    for (unsigned i = 0; i < threads; ++i) {
        impl_->threads.emplace_back([ctx = impl_->context] { ctx->run(); });
    }
}

Runtime::Runtime(boost::asio::io_context& context) : impl_(std::make_unique<Impl>()) {
    impl_->context = &context;
}

Runtime::~Runtime() {
    if (impl_->owned) {
        impl_->work.reset();
        impl_->context->stop();
        for (auto& t : impl_->threads) {
            if (t.joinable()) t.join();
        }
    }
}

boost::asio::io_context& Runtime::context() noexcept { return *impl_->context; }
bool Runtime::owns_threads() const noexcept { return impl_->owned != nullptr; }

Runtime& Runtime::shared() {
    // Intentionally leaked: connections may outlive static destruction order.
    static Runtime* runtime = new Runtime(1);
    return *runtime;
}

}  // namespace zenws
