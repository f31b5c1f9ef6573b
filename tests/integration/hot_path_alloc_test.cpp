// hot_path_alloc_test.cpp — counts heap allocations on the steady-state echo path: receive a single-frame message
// (dispatched in place), send it back from the handler (copied and masked into the reused write buffer, flushed
// once per read). After a warm-up, the count per message must be zero. A global operator new replacement counts
// allocations only while the window is open.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <new>

#include "integration/support/process.hpp"
#include "zenws/client.hpp"
#include "zenws/runtime.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::uint64_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace zenws {
namespace {

using namespace std::chrono_literals;

TEST(HotPath, EchoRoundTripsDoNotAllocate) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << "node echo server unavailable: " << error;

    Runtime runtime(1);
    constexpr int warmup = 2000;
    constexpr int measured = 20000;
    std::mutex m;
    std::condition_variable cv;
    // The handler counts on the I/O thread; the test thread only reads the count for its failure message. The
    // result is published under `m` with `finished`, which is what the test thread waits for.
    std::atomic<int> round_trips{0};
    bool finished = false;                     // under m
    std::uint64_t allocations_in_window = 0;  // under m
    Client client;
    std::atomic<bool> ready{false};
    const std::string payload(64, 'x');

    Handlers handlers;
    handlers.on_message = [&](MessageView msg) {
        if (!ready.load(std::memory_order_acquire)) return;
        int n = ++round_trips;
        if (n == warmup) {
            allocations.store(0);
            counting.store(true);
        }
        if (n == warmup + measured) {
            counting.store(false);
            std::uint64_t counted = allocations.load();
            std::lock_guard lock(m);
            allocations_in_window = counted;
            finished = true;
            cv.notify_all();
            return;
        }
        (void)client.send(msg.opcode, msg.data);  // echo it back: the server echoes again → a ping-pong loop
    };
    Config config;
    config.url = "ws://127.0.0.1:" + std::to_string(server->port()) + "/";
    config.retry_count = 0;
    auto connected = Client::connect(config, handlers, &runtime);
    ASSERT_TRUE(connected) << connected.error().explain();
    client = connected.value();
    ready.store(true, std::memory_order_release);
    ASSERT_TRUE(client.send_text(payload));

    std::unique_lock lock(m);
    bool done = cv.wait_for(lock, 60s, [&] { return finished; });
    ASSERT_TRUE(done) << "only " << round_trips.load() << " round trips";
    EXPECT_EQ(allocations_in_window, 0u) << allocations_in_window << " allocations in " << measured
                                         << " round trips";
    client.close_and_wait(2s);
}

}  // namespace
}  // namespace zenws
