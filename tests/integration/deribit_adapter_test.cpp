// deribit_adapter_test.cpp — owns the end-to-end tests of deribit::Adapter against the mock exchange on loopback:
// auth (client_credentials, client_signature), typed helpers, refresh before expiry, re-auth after expiry (13009),
// fatal bad credentials (13004), set_heartbeat keeping the adapter alive while a raw client is closed, the restore
// order after a drop (auth before private subscribe), 10028 -> rate_limited + backoff restart, and a new Client (as a
// supervisor restart makes) getting the adapter's state re-applied.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/adapter_helpers.hpp"
#include "zenws/venues/deribit.hpp"
#include "zenws/client.hpp"
#include "zenws/mock/exchange.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;

MockExchangeOptions mock_options() {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::deribit;
    o.deribit.min_heartbeat_interval_ms = 100;
    o.deribit.notification_interval = 50ms;
    return o;
}

deribit::AdapterOptions adapter_options(const MockExchange& server) {
    deribit::AdapterOptions o;
    o.config.url = server.url();
    o.config.retry_delay = 50ms;
    o.config.max_backoff = 200ms;
    o.config.retry_count = 5;
    o.config.request_timeout = 3000ms;
    o.config.send_policy = SendPolicy::buffer;
    o.credentials = deribit::Credentials{"test_client", "test_secret"};
    o.heartbeat_seconds = 0.2;
    return o;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(DeribitAdapter, AuthenticatesAndTypedHelpersWork) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    auto adapter = deribit::Adapter::create(adapter_options(server));
    auto st = adapter->connect();
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_TRUE(adapter->authenticated());
    ASSERT_TRUE(adapter->token().has_value());
    EXPECT_FALSE(adapter->token()->access_token.empty());
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) { return s.connections.size() == 1 && s.connections[0].session.authenticated; }, 3s));
    EXPECT_EQ(server.status().connections[0].session.heartbeat_interval_ms, 200);

    auto instruments = adapter->get_instruments("BTC");
    ASSERT_TRUE(instruments) << instruments.error().message;
    ASSERT_FALSE(instruments->empty());
    EXPECT_EQ((*instruments)[0].instrument_name, "BTC-PERPETUAL");
    EXPECT_GT((*instruments)[0].tick_size, 0);

    auto book = adapter->get_order_book("BTC-PERPETUAL", 3);
    ASSERT_TRUE(book) << book.error().message;
    EXPECT_EQ(book->bids.size(), 3u);
    EXPECT_EQ(book->asks.size(), 3u);
    EXPECT_LT(book->bids[0].price, book->asks[0].price);

    std::promise<Result<deribit::Ticker>> p;
    adapter->ticker("BTC-PERPETUAL", [&](Result<deribit::Ticker> t) { p.set_value(std::move(t)); });
    auto tick = p.get_future().get();
    ASSERT_TRUE(tick) << tick.error().message;
    EXPECT_EQ(tick->instrument_name, "BTC-PERPETUAL");
    EXPECT_GT(tick->best_ask_price, tick->best_bid_price);

    deribit::OrderRequest order;
    order.instrument_name = "BTC-PERPETUAL";
    order.amount = 10;
    order.price = 1000;
    order.label = "adapter-test";
    auto bought = adapter->buy(order);
    ASSERT_TRUE(bought) << bought.error().message;
    EXPECT_EQ(bought->order.order_state, "open");
    EXPECT_EQ(bought->order.direction, "buy");
    EXPECT_EQ(bought->order.label, "adapter-test");

    auto open = adapter->get_open_orders({.currency = "BTC"});
    ASSERT_TRUE(open) << open.error().message;
    ASSERT_EQ(open->size(), 1u);
    EXPECT_EQ((*open)[0].order_id, bought->order.order_id);

    auto cancelled = adapter->cancel(bought->order.order_id);
    ASSERT_TRUE(cancelled) << cancelled.error().message;
    EXPECT_EQ(cancelled->order_state, "cancelled");
    auto again = adapter->cancel(bought->order.order_id);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::rpc_error);
    EXPECT_EQ(again.error().rpc_code, 11044);

    deribit::OrderRequest market;
    market.instrument_name = "BTC-PERPETUAL";
    market.amount = 10;
    market.type = "market";
    auto sold = adapter->sell(market);
    ASSERT_TRUE(sold) << sold.error().message;
    EXPECT_EQ(sold->order.order_state, "filled");
    EXPECT_EQ(sold->trades.size(), 1u);
    adapter->close();
}

TEST(DeribitAdapter, ClientSignatureGrantAndCancelOnDisconnect) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    auto o = adapter_options(server);
    o.credentials->grant = deribit::Grant::client_signature;
    o.cancel_on_disconnect = true;
    auto adapter = deribit::Adapter::create(o);
    auto st = adapter->connect();
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            return s.connections.size() == 1 && s.connections[0].session.authenticated &&
                   s.connections[0].session.cancel_on_disconnect;
        },
        3s));
    adapter->close();
}

TEST(DeribitAdapter, BadCredentialsAreFatal) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    auto o = adapter_options(server);
    o.credentials->client_secret = "wrong";
    std::atomic<int> auth_failed_events{0};
    o.on_event = [&](const deribit::AdapterEvent& e) {
        if (e.kind == deribit::AdapterEvent::Kind::auth_failed) ++auth_failed_events;
    };
    auto adapter = deribit::Adapter::create(o);
    auto st = adapter->connect();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::auth_failed);
    EXPECT_EQ(st.error().rpc_code, 13004);
    EXPECT_EQ(adapter->last_error().code, Errc::auth_failed);
    // No retry: one connection only, and it stays that way.
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(server.status().connections_total, 1u);
    EXPECT_EQ(auth_failed_events.load(), 1);
    Client c = adapter->client();
    if (c.valid()) {
        EXPECT_EQ(c.state(), State::disconnected);
        EXPECT_EQ(c.last_error().code, Errc::auth_failed);
    }
}

TEST(DeribitAdapter, RefreshesBeforeExpiry) {
    auto mo = mock_options();
    mo.deribit.token_ttl = 1500ms;  // expires_in = 1 s
    MockExchange server(mo);
    ASSERT_TRUE(server.start());
    auto o = adapter_options(server);
    o.refresh_at = 0.5;
    auto adapter = deribit::Adapter::create(o);
    ASSERT_TRUE(adapter->connect());
    ASSERT_TRUE(eventually([&] { return adapter->stats().refreshes >= 3; }, 6s)) << adapter->stats().refreshes;
    auto open = adapter->get_open_orders();
    ASSERT_TRUE(open) << open.error().message;
    EXPECT_EQ(adapter->stats().reauthentications, 0u);
    EXPECT_EQ(adapter->stats().authentications, 1u);
    EXPECT_EQ(server.status().connections_total, 1u);
    adapter->close();
}

TEST(DeribitAdapter, ExpiredTokenIsReauthenticatedAndTheCallRetried) {
    auto mo = mock_options();
    mo.deribit.token_ttl = 1000ms;
    MockExchange server(mo);
    ASSERT_TRUE(server.start());
    auto o = adapter_options(server);
    o.refresh_at = 0;  // never refresh: let it expire
    auto adapter = deribit::Adapter::create(o);
    ASSERT_TRUE(adapter->connect());
    std::this_thread::sleep_for(1300ms);
    // Raw call on the client: the server says 13009.
    auto raw = adapter->client().call_blocking("private/get_open_orders", "{}");
    ASSERT_FALSE(raw);
    EXPECT_EQ(raw.error().rpc_code, 13009);
    // Through the adapter: re-authenticated, retried, succeeds.
    auto open = adapter->get_open_orders();
    ASSERT_TRUE(open) << open.error().message;
    EXPECT_EQ(adapter->stats().reauthentications, 1u);
    adapter->close();
}

TEST(DeribitAdapter, HeartbeatClosesARawClientButNotTheAdapter) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    // A raw client that asks for heartbeats but does not answer test_request.
    Config raw_cfg;
    raw_cfg.url = server.url();
    raw_cfg.reconnect_on_error = false;
    auto raw = Client::connect(raw_cfg);
    ASSERT_TRUE(raw);
    ASSERT_TRUE(raw->call_blocking("public/set_heartbeat", "{\"interval\":0.2}"));

    auto adapter = deribit::Adapter::create(adapter_options(server));
    ASSERT_TRUE(adapter->connect());
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            for (auto& e : s.ended)
                if (e.reason == EndReason::heartbeat_timeout) return true;
            return false;
        },
        5s));
    ASSERT_TRUE(eventually([&] { return raw->state() != State::connected; }, 3s));
    std::this_thread::sleep_for(800ms);  // several more heartbeat intervals
    EXPECT_EQ(adapter->client().state(), State::connected);
    auto status = server.status();
    ASSERT_EQ(status.ended.size(), 1u);  // only the raw client's session ended
    EXPECT_EQ(status.connections.size(), 1u);
    EXPECT_EQ(status.connections[0].session.heartbeat_interval_ms, 200);
    EXPECT_GT(adapter->client().heartbeat_health().last_heartbeat_at.has_value(), 0);
    adapter->close();
}

TEST(DeribitAdapter, PrivateSubscriptionNeedsAuthAndIsRestoredAfterAuthOnReconnect) {
    const std::string pub = "ticker.BTC-PERPETUAL.100ms";
    const std::string priv = "user.orders.BTC-PERPETUAL.raw";
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());

    // Without auth the server refuses the private channel.
    Config raw_cfg;
    raw_cfg.url = server.url();
    raw_cfg.reconnect_on_error = false;
    auto raw = Client::connect(raw_cfg);
    ASSERT_TRUE(raw);
    auto refused = raw->call_blocking("private/subscribe", "{\"channels\":[\"" + priv + "\"]}");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().rpc_code, 10000);
    raw->close();

    std::string recording = ::testing::TempDir() + "deribit_restore_order.jsonl";
    std::remove(recording.c_str());
    auto o = adapter_options(server);
    o.config.record_to = recording;
    std::atomic<int> channel_msgs{0};
    o.handlers.on_message = [&](MessageView m) {
        if (m.channel == pub) ++channel_msgs;
    };
    auto adapter = deribit::Adapter::create(o);
    ASSERT_TRUE(adapter->subscribe({pub, priv}));  // before connecting: applied on connect
    ASSERT_TRUE(adapter->connect());
    auto both = [&](const MockStatus& s) {
        for (auto& c : s.connections)
            if (c.session.authenticated && has(c.session.subscriptions, pub) && has(c.session.subscriptions, priv))
                return true;
        return false;
    };
    ASSERT_TRUE(server.wait_until(both, 3s));
    ASSERT_TRUE(eventually([&] { return channel_msgs.load() > 0; }, 3s));

    server.drop();
    ASSERT_TRUE(server.wait_until(
        [&](const MockStatus& s) { return s.connections_total >= 3 && both(s); }, 5s))  // raw + 2 adapter sessions
        << server.status().to_json() << " client: " << to_string(adapter->client().state()) << " "
        << adapter->client().last_error().message;
    ASSERT_TRUE(adapter->wait_connected(3s));
    ASSERT_TRUE(eventually([&] { return adapter->client().subscriptions().confirmed.size() == 2; }, 3s));
    EXPECT_TRUE(adapter->client().subscriptions().failed.empty());
    EXPECT_EQ(adapter->stats().authentications, 2u);
    adapter->close();
    adapter->client().close_and_wait(2s);

    // The recording shows the order on the second connection: auth before the private subscribe.
    std::string text;
    ASSERT_TRUE(eventually(
        [&] {
            std::ifstream in(recording);
            std::stringstream ss;
            ss << in.rdbuf();
            text = ss.str();
            auto close = text.find("\"type\":\"close\"");
            return close != std::string::npos && text.find("private/subscribe", close) != std::string::npos;
        },
        3s))
        << text.substr(0, 2000);
    auto close = text.find("\"type\":\"close\"");
    auto auth = text.find("public/auth", close);
    auto sub = text.find("private/subscribe", close);
    ASSERT_NE(auth, std::string::npos);
    EXPECT_LT(auth, sub);
}

TEST(DeribitAdapter, TooManyRequestsIsRateLimitedThenBacksOffAndReconnects) {
    auto mo = mock_options();
    mo.deribit.request_pool = 3000;  // 6 requests
    mo.deribit.request_refill_per_s = 100;
    MockExchange server(mo);
    ASSERT_TRUE(server.start());
    auto o = adapter_options(server);
    o.local_rate_limit = false;  // let the server enforce it
    o.rate_limit_backoff = 200ms;
    std::atomic<int> rate_events{0}, restarts{0};
    o.on_event = [&](const deribit::AdapterEvent& e) {
        if (e.kind == deribit::AdapterEvent::Kind::rate_limited) ++rate_events;
        if (e.kind == deribit::AdapterEvent::Kind::restarted) ++restarts;
    };
    auto adapter = deribit::Adapter::create(o);
    ASSERT_TRUE(adapter->subscribe({"ticker.BTC-PERPETUAL.100ms"}));
    ASSERT_TRUE(adapter->connect());  // auth + set_heartbeat = 2 requests

    std::vector<std::future<Result<deribit::Ticker>>> calls;
    for (int i = 0; i < 10; ++i) {
        auto p = std::make_shared<std::promise<Result<deribit::Ticker>>>();
        calls.push_back(p->get_future());
        adapter->ticker("BTC-PERPETUAL", [p](Result<deribit::Ticker> t) { p->set_value(std::move(t)); });
    }
    int limited = 0;
    for (auto& f : calls) {
        auto r = f.get();
        if (!r && r.error().code == Errc::rate_limited) {
            ++limited;
            EXPECT_EQ(r.error().rpc_code, 10028);
        }
    }
    EXPECT_EQ(limited, 1);
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            for (auto& e : s.ended)
                if (e.reason == EndReason::rate_limit) return true;
            return false;
        },
        3s));
    EXPECT_EQ(adapter->last_error().code, Errc::rate_limited);
    // Backoff, then a new session: authenticated and resubscribed.
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            return s.connections_total >= 2 && s.connections.size() == 1 && s.connections[0].session.authenticated &&
                   !s.connections[0].session.subscriptions.empty();
        },
        5s));
    ASSERT_TRUE(adapter->wait_connected(3s));
    EXPECT_EQ(rate_events.load(), 1);
    EXPECT_GE(restarts.load(), 1);
    EXPECT_EQ(adapter->stats().rate_limited, 1u);
    auto t = adapter->ticker("BTC-PERPETUAL");
    EXPECT_TRUE(t) << t.error().message;
    adapter->close();
}

TEST(DeribitAdapter, StateIsReappliedToANewClientLikeASupervisorRestart) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    auto adapter = deribit::Adapter::create(adapter_options(server));
    ASSERT_TRUE(adapter->subscribe({"user.orders.BTC-PERPETUAL.raw", "deribit_price_index.btc_usd"}));
    auto [config, handlers] = adapter->client_setup();
    auto first = Client::connect(config, handlers);
    ASSERT_TRUE(first);
    ASSERT_TRUE(eventually([&] { return first->subscriptions().confirmed.size() == 2; }, 3s));
    ASSERT_TRUE(first->close_and_wait(2s));
    // A supervisor would now create a fresh Client from the same setup.
    auto second = Client::connect(config, handlers);
    ASSERT_TRUE(second);
    ASSERT_TRUE(eventually([&] { return second->subscriptions().confirmed.size() == 2; }, 3s));
    EXPECT_TRUE(adapter->authenticated());
    EXPECT_EQ(adapter->stats().authentications, 2u);
    auto open = adapter->get_open_orders();  // routed through the current (second) client
    EXPECT_TRUE(open) << open.error().message;
    second->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws::test
