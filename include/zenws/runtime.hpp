// zenws/runtime.hpp — the event loop the connections run on: zenws's own threads, or an io_context you supply.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
}

namespace zenws {

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
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace zenws
