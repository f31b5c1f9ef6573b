// support/fault_server.hpp — owns FaultServer: a small in-process WebSocket server on 127.0.0.1 for the reliability
// tests, with one behaviour per connection chosen by the test: accept the upgrade and drop at once (FIN, or a close
// frame 1001/1011/4000 then the TCP close), answer the upgrade with 429/503 and a Retry-After, hold the connection
// and discard what the client sends, or refuse (stop listening). It counts attempts (accepted TCP connections) and
// upgrades with their times, so a test can compare them with the reconnect ladder. Plain blocking sockets on its
// own thread; every wait is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zenws::test {

class FaultServer {
public:
    enum class Mode {
        drop_fin,         // 101, then FIN (no close frame)
        drop_close_1001,  // 101, close frame 1001, TCP close
        drop_close_1011,
        drop_close_4000,
        status_429,       // "429 Too Many Requests" with Retry-After: <retry_after>
        status_503,
        hold,             // 101, then read and discard until the client goes away
    };

    explicit FaultServer(Mode mode);
    ~FaultServer();
    FaultServer(const FaultServer&) = delete;
    FaultServer& operator=(const FaultServer&) = delete;

    bool ok() const noexcept { return listener_ >= 0; }
    std::uint16_t port() const noexcept { return port_; }
    std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

    void set_mode(Mode m) { mode_.store(m); }
    Mode mode_for_trace() const noexcept { return mode_.load(); }
    void set_retry_after(std::string value) {
        std::lock_guard lock(mutex_);
        retry_after_ = std::move(value);
    }
    // Closes every held connection now (FIN), e.g. to force a reconnect while clients send.
    void drop_all();

    int attempts() const noexcept { return attempts_.load(); }   // TCP connections accepted
    int upgrades() const noexcept { return upgrades_.load(); }   // 101 answers sent
    std::vector<std::chrono::steady_clock::time_point> attempt_times() const;

    static const char* name(Mode m);

private:
    void run();
    void serve(int fd);

    std::atomic<Mode> mode_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> attempts_{0}, upgrades_{0};
    mutable std::mutex mutex_;
    std::string retry_after_ = "1";
    std::vector<std::chrono::steady_clock::time_point> times_;
    std::vector<int> held_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

}  // namespace zenws::test
