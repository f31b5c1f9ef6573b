// zenws/runtime.hpp — the event loop the connections run on: zenws's own threads, or an io_context you supply.
//
// Lifetime rule. Client and ClientHandle handles may outlive the Runtime they were created on. Destroying a Runtime
// that owns its threads joins them, then closes every client still alive with Errc::runtime_stopped: pending sends,
// queued sends, requests and a connect in progress complete (once each) with that error before the destructor
// returns, blocking calls (connect, request_blocking, close_and_wait, receive) return, and every later call on a
// handle completes at once with runtime_stopped. The io_context stays allocated until the last handle is gone, so
// nothing is freed under a handle. Destroy a ClientSupervisor before its Runtime (its destructor waits on it).
// With a caller-supplied io_context, destroying the Runtime marks its clients stopped the same way (the close runs
// on your loop), but the io_context itself must outlive every handle: zenws cannot keep an object you own alive.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
}

namespace zenws {

class Runtime;
namespace detail {
struct LoopAnchor;
struct RuntimeAccess {
    static std::shared_ptr<LoopAnchor> anchor(Runtime& runtime);
};
}  // namespace detail

class Runtime {
public:
    // Owns an io_context run by `threads` background threads (default 1).
    explicit Runtime(unsigned threads = 1);
    // Uses the caller's io_context; the caller runs it (e.g. in its own thread, or polling it in a spin loop).
    explicit Runtime(boost::asio::io_context& context);
    ~Runtime();  // stops and joins owned threads
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    boost::asio::io_context& context() noexcept;
    bool owns_threads() const noexcept;

    // A process-wide runtime with one thread, created on first use.
    static Runtime& shared();

private:
    friend struct detail::RuntimeAccess;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace zenws
