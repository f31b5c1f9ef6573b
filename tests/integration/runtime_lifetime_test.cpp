// runtime_lifetime_test.cpp — a Client handle may outlive its Runtime (include/zenws/runtime.hpp states the rule):
// destroying the Runtime completes what was pending with Errc::runtime_stopped and releases blocked callers; every
// later call on the handle returns at once with runtime_stopped; destroying the handle afterwards frees nothing twice
// (run under AddressSanitizer by .ci/run).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "integration/support/fault_server.hpp"
#include "zenws/client.hpp"
#include "zenws/runtime.hpp"

namespace {

using namespace std::chrono_literals;
using zenws::Client;
using zenws::Config;
using zenws::Errc;
using zenws::Error;
using zenws::State;
using zenws::test::FaultServer;

Config held_config(const FaultServer& server) {
    Config c;
    c.url = server.url();
    c.send_policy = zenws::SendPolicy::buffer;
    c.request_timeout = 30s;
    return c;
}

TEST(RuntimeLifetime, EveryCallOnAHandleThatOutlivedItsRuntimeCompletesWithRuntimeStopped) {
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    Client client;
    std::promise<Errc> pending_request;
    {
        zenws::Runtime runtime(1);
        auto r = Client::connect(held_config(server), {}, &runtime);
        ASSERT_TRUE(r.ok()) << r.error().explain();
        client = std::move(r).value();
        // A request the server never answers: the Runtime's destruction must complete it.
        client.request("{\"id\":1,\"method\":\"never\"}",
                       [&](zenws::Result<std::string> res) { pending_request.set_value(res.ok() ? Errc::ok : res.error().code); });
    }
    auto f = pending_request.get_future();
    ASSERT_EQ(f.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(f.get(), Errc::runtime_stopped);
    EXPECT_EQ(client.state(), State::closed);

    int called = 0;
    Errc seen = Errc::ok;
    auto st = client.send_text("after", [&](const Error& e) {
        ++called;
        seen = e.code;
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::runtime_stopped);
    EXPECT_EQ(called, 1);  // at once, on this thread
    EXPECT_EQ(seen, Errc::runtime_stopped);
    EXPECT_EQ(client.send_binary(std::string("moved")).error().code, Errc::runtime_stopped);
    EXPECT_EQ(client.ping().error().code, Errc::runtime_stopped);
    auto reply = client.request_blocking("{\"id\":2,\"method\":\"x\"}", 10s);
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.error().code, Errc::runtime_stopped);
    EXPECT_EQ(client.subscribe({"ticker.BTC-PERPETUAL.raw"}).error().code, Errc::runtime_stopped);
    client.reconnect();
    client.close();
    EXPECT_TRUE(client.close_and_wait(1s));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.receive(5s).has_value());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);  // no waiting on a loop that is gone
    (void)client.metrics();
    (void)client.last_error();
    client = Client();  // the last handle goes after the Runtime: nothing is freed twice (ASan)
}

TEST(RuntimeLifetime, ABlockingRequestWaitingWhileTheRuntimeIsDestroyedReturns) {
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    auto runtime = std::make_unique<zenws::Runtime>(1);
    auto r = Client::connect(held_config(server), {}, runtime.get());
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client client = std::move(r).value();
    auto blocked = std::async(std::launch::async, [client]() mutable {
        return client.request_blocking("{\"id\":7,\"method\":\"never\"}", 30s);
    });
    std::this_thread::sleep_for(100ms);
    runtime.reset();
    ASSERT_EQ(blocked.wait_for(2s), std::future_status::ready);
    auto res = blocked.get();
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.error().code, Errc::runtime_stopped);
}

TEST(RuntimeLifetime, BufferedSendsOfAReconnectingClientCompleteWhenTheRuntimeGoes) {
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    std::atomic<int> completed{0}, stopped{0};
    Client client;
    {
        zenws::Runtime runtime(1);
        Config c = held_config(server);
        c.retry_delay = 10s;  // stays reconnecting: the sends below are queued
        c.max_backoff = 10s;
        c.stable_after = 10s;
        auto r = Client::connect(c, {}, &runtime);
        ASSERT_TRUE(r.ok()) << r.error().explain();
        client = std::move(r).value();
        server.set_mode(FaultServer::Mode::drop_fin);
        server.drop_all();
        auto deadline = std::chrono::steady_clock::now() + 3s;
        while (client.state() != State::reconnecting && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_EQ(client.state(), State::reconnecting);
        for (int i = 0; i < 50; ++i) {
            ASSERT_TRUE(client.send_text("queued", [&](const Error& e) {
                completed.fetch_add(1);
                if (e.code == Errc::runtime_stopped) stopped.fetch_add(1);
            }).ok());
        }
        EXPECT_EQ(client.metrics().send_queue_depth, 50u);
    }
    EXPECT_EQ(completed.load(), 50);
    EXPECT_EQ(stopped.load(), 50);
    EXPECT_EQ(client.metrics().send_queue_depth, 0u);
}

}  // namespace
