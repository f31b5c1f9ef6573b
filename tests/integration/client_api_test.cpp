// client_api_test.cpp — client behaviours at the API edges: a requested reconnect, a close the client must not
// retry (policy violation), an on_reconnect hook that rejects the credentials, the async (completion token) connect.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <optional>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/async.hpp"
#include "zenws/client.hpp"
#include "zenws/mock/exchange.hpp"
#include "zenws/runtime.hpp"

namespace zenws {
namespace {

using namespace std::chrono_literals;

// Records state transitions and waits (bounded) for a given one.
class StateLog {
public:
    void add(State to) {
        std::lock_guard lock(mutex_);
        states_.push_back(to);
        cv_.notify_all();
    }
    bool wait_count(State s, int count, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] {
            int n = 0;
            for (auto x : states_) n += x == s;
            return n >= count;
        });
    }
    std::vector<State> snapshot() {
        std::lock_guard lock(mutex_);
        return states_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<State> states_;
};

Config echo_config(std::uint16_t port) {
    Config config;
    config.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    config.retry_delay = 50ms;
    config.max_backoff = 200ms;
    return config;
}

TEST(ClientApi, ReconnectGoesThroughTheLadderAndComesBack) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    StateLog log;
    Handlers handlers;
    handlers.on_state = [&](State, State to, const Error&) { log.add(to); };
    auto client = Client::connect(echo_config(server->port()), handlers);
    ASSERT_TRUE(client) << client.error().explain();

    client->reconnect(Error(Errc::rate_limited, "venue said too many requests"));
    ASSERT_TRUE(log.wait_count(State::connected, 2, 10s));
    auto states = log.snapshot();
    ASSERT_GE(states.size(), 3u);
    EXPECT_EQ(states[0], State::connected);
    EXPECT_EQ(states[1], State::reconnecting);
    EXPECT_EQ(states[2], State::connected);
    EXPECT_EQ(client->counters().reconnects, 1u);
    // The echo server sends the text back; shaped as a reply, it completes the request on the new connection.
    auto echoed = client->request_blocking(R"({"jsonrpc":"2.0","id":7,"result":"pong"})", 5s);
    EXPECT_TRUE(echoed) << echoed.error().explain();
    client->close_and_wait(2s);
}

TEST(ClientApi, PolicyViolationCloseIsNotRetried) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    StateLog log;
    Handlers handlers;
    handlers.on_state = [&](State, State to, const Error&) { log.add(to); };
    auto client = Client::connect(echo_config(server->port()), handlers);
    ASSERT_TRUE(client) << client.error().explain();
    ASSERT_TRUE(client->send_text("!close 1008 policy"));
    ASSERT_TRUE(log.wait_count(State::disconnected, 1, 10s));
    Error last = client->last_error();
    EXPECT_EQ(last.code, Errc::closed_by_peer) << last.explain();
    EXPECT_EQ(last.close_code, 1008);
    EXPECT_FALSE(last.retryable());
    EXPECT_EQ(client->counters().reconnects, 0u);
}

TEST(ClientApi, RejectedCredentialsInTheReconnectHookEndTheClient) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    std::atomic<int> hook_calls{0};
    Handlers handlers;
    handlers.on_reconnect = [&](Client&, std::function<void(Status)> done) {
        ++hook_calls;
        done(Error(Errc::auth_failed, "13004 invalid_credentials"));
    };
    Config config = echo_config(server->port());
    config.retry_count = 5;
    auto client = Client::connect(config, handlers);
    ASSERT_FALSE(client);
    EXPECT_EQ(client.error().code, Errc::auth_failed) << client.error().explain();
    EXPECT_EQ(hook_calls.load(), 1) << "authentication failures must not be retried";
}

TEST(ClientApi, AsyncConnectWithAFuture) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    Runtime runtime(1);
    std::future<Result<Client>> pending =
        async_connect(runtime, echo_config(server->port()), Handlers{}, boost::asio::use_future);
    ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
    Result<Client> client = pending.get();
    ASSERT_TRUE(client) << client.error().explain();
    EXPECT_EQ(client->state(), State::connected);
    ASSERT_TRUE(client->send_text("hello"));
    auto message = client->receive(5s);  // no on_message handler: the pull inbox
    ASSERT_TRUE(message.has_value());
    EXPECT_EQ(message->data, "hello");
    client->close_and_wait(2s);
}

// A custom text heartbeat: the echo server returns it, the matcher recognises it, the RTT is recorded and the
// heartbeat never reaches the message handler.
TEST(ClientApi, CustomHeartbeatIsMatchedAndKeptFromTheHandler) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    std::atomic<int> heartbeats_seen_by_handler{0};
    Handlers handlers;
    handlers.on_message = [&](MessageView m) {
        if (m.data == "hb?") ++heartbeats_seen_by_handler;
    };
    Config config = echo_config(server->port());
    config.heartbeat.type = HeartbeatType::custom;
    config.heartbeat.interval = 100ms;
    config.heartbeat.custom_message = "hb?";
    config.heartbeat.custom_matcher = [](std::string_view text) { return text == "hb?"; };
    auto client = Client::connect(config, handlers);
    ASSERT_TRUE(client) << client.error().explain();
    bool acknowledged = false;
    for (int i = 0; i < 100 && !acknowledged; ++i) {  // bounded: up to 5 s
        std::this_thread::sleep_for(50ms);
        acknowledged = client->metrics().ping_rtt.count >= 3;
    }
    EXPECT_TRUE(acknowledged) << "custom heartbeats were not acknowledged";
    auto health = client->heartbeat_health();
    EXPECT_EQ(health.type, HeartbeatType::custom);
    EXPECT_EQ(health.consecutive_failures, 0);
    EXPECT_GT(health.last_rtt.count(), 0);
    EXPECT_EQ(heartbeats_seen_by_handler.load(), 0);
    client->close_and_wait(2s);
}

// A custom heartbeat whose reply never comes: after the threshold the client closes and reconnects.
TEST(ClientApi, UnansweredCustomHeartbeatClosesAndReconnects) {
    std::string error;
    auto server = test::start_node_server("echo_node.js", {}, &error);
    if (!server) GTEST_SKIP() << error;
    StateLog log;
    std::mutex m;
    Error cause;
    Handlers handlers;
    handlers.on_state = [&](State, State to, const Error& why) {
        if (to == State::reconnecting) {
            std::lock_guard lock(m);
            cause = why;
        }
        log.add(to);
    };
    Config config = echo_config(server->port());
    config.heartbeat.type = HeartbeatType::custom;
    config.heartbeat.interval = 100ms;
    config.heartbeat.failure_threshold = 2;
    config.heartbeat.custom_message = "hb?";
    config.heartbeat.custom_matcher = [](std::string_view) { return false; };  // nothing counts as the reply
    auto client = Client::connect(config, handlers);
    ASSERT_TRUE(client) << client.error().explain();
    ASSERT_TRUE(log.wait_count(State::connected, 2, 10s)) << "no reconnect after unanswered heartbeats";
    {
        std::lock_guard lock(m);
        EXPECT_EQ(cause.code, Errc::heartbeat_timeout) << cause.explain();
    }
    EXPECT_GE(client->heartbeat_health().total_failures, 2u);
    client->close_and_wait(2s);
}

// Destroying the event loop while a client is still connecting completes the connect with not_connected and frees
// the client (LeakSanitizer checks the freeing in the sanitizer build).
TEST(ClientApi, DestroyingTheRuntimeWhileConnectingReleasesTheClient) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 8), 0);  // the kernel completes TCP; nobody ever answers the upgrade
    socklen_t length = sizeof address;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);

    std::promise<Errc> outcome;
    {
        Runtime runtime(1);
        Config config;
        config.url = "ws://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
        config.timeout = 10s;
        config.retry_count = 0;
        Client::start(runtime, config, {},
                      [&](Result<Client> r) { outcome.set_value(r ? Errc::ok : r.error().code); });
        std::this_thread::sleep_for(200ms);  // the upgrade request is out, the answer never comes
    }
    auto result = outcome.get_future();
    ASSERT_EQ(result.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(result.get(), Errc::runtime_stopped);
    ::close(listener);
}

// The same call in its three asynchronous forms against the in-process Deribit mock: a callback, a std::future and
// a C++20 coroutine (co_await).
TEST(ClientApi, CallWithCallbackFutureAndCoroutine) {
    mock::MockExchange exchange(mock::MockExchangeOptions{});
    ASSERT_TRUE(exchange.start());
    Config config;
    config.url = exchange.url("/ws/api/v2");
    auto client = Client::connect(config);
    ASSERT_TRUE(client) << client.error().explain();

    std::promise<Result<std::string>> by_callback;
    client->call("public/test", "{}", [&](Result<std::string> r) { by_callback.set_value(std::move(r)); });
    auto callback_reply = by_callback.get_future();
    ASSERT_EQ(callback_reply.wait_for(10s), std::future_status::ready);
    auto first = callback_reply.get();
    ASSERT_TRUE(first) << first.error().explain();
    EXPECT_NE(first->find("\"result\""), std::string::npos) << *first;

    std::future<Result<std::string>> by_future =
        async_call(client.value(), "public/test", "{}", boost::asio::use_future);
    ASSERT_EQ(by_future.wait_for(10s), std::future_status::ready);
    auto second = by_future.get();
    ASSERT_TRUE(second) << second.error().explain();

    boost::asio::io_context io;
    std::optional<Result<std::string>> by_coroutine;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            by_coroutine = co_await async_call(client.value(), "public/test", "{}", boost::asio::use_awaitable);
            // An unknown method comes back as a typed JSON-RPC error, not as a success.
            auto failed = co_await async_request(client.value(),
                                                 R"({"jsonrpc":"2.0","id":"x-1","method":"public/nope"})",
                                                 boost::asio::use_awaitable);
            EXPECT_FALSE(failed);
            if (!failed) co_return;
            EXPECT_EQ(failed.error().code, Errc::rpc_error);
            EXPECT_EQ(failed.error().rpc_code, -32601);
        },
        boost::asio::detached);
    io.run_for(10s);
    ASSERT_TRUE(by_coroutine.has_value());
    ASSERT_TRUE(*by_coroutine) << by_coroutine->error().explain();
    client->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws
