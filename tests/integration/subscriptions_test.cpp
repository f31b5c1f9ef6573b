// subscriptions_test.cpp — owns the integration tests of Client::subscribe/unsubscribe/subscriptions() against the
// JSON-RPC test server (tests/servers/jsonrpc_server.py), Deribit dialect (public/private subscribe, result = list
// of confirmed channels) and Binance dialect (SUBSCRIBE/UNSUBSCRIBE on /binance): confirmation, partial
// confirmation and rejection, data ticks never adding channels, unsubscribe never undone by a reconnect (also when
// unsubscribed while offline), and the restore after a server-side drop — asserting the exact messages on the wire
// of the new connection: the on_reconnect hook's public/auth first, then the batched subscribes (private channels
// after auth).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/rpc_helpers.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/subscriptions.hpp"
#include "zenws/venues/binance.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Strings = std::vector<std::string>;

// ---- helpers ---------------------------------------------------------------------------------------------------

// Bounded poll of a condition on the client.
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (cond()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return cond();
}

std::string describe(const Client::SubscriptionStatus& s) {
    auto join = [](const Strings& v) {
        std::string o = "[";
        for (const auto& x : v) o += x + " ";
        return o + "]";
    };
    return "desired=" + join(s.desired) + " confirmed=" + join(s.confirmed) + " pending=" + join(s.pending) +
           " failed=" + join(s.failed) + " restores=" + std::to_string(s.restores);
}

// Messages given to on_message, with the channel the client extracted.
struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::string, std::string>> items;  // (channel, text)
    Handlers handlers() {
        Handlers h;
        h.on_message = [this](MessageView m) {
            std::lock_guard lk(mu);
            items.emplace_back(std::string(m.channel), std::string(m.data));
            cv.notify_all();
        };
        return h;
    }
    bool wait_size(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return items.size() >= n; });
    }
    std::size_t size() {
        std::lock_guard lk(mu);
        return items.size();
    }
};

// Drops the TCP connection from the server side and waits until the client is connected again with the restore
// done (`restores` reached).
void drop_and_wait_restored(Client& c, std::uint64_t restores_before, bool expect_restore = true) {
    auto reconnects = c.counters().reconnects;
    ASSERT_TRUE(c.send_text(R"({"jsonrpc":"2.0","method":"test/drop","params":{}})").ok());
    ASSERT_TRUE(eventually([&] { return c.counters().reconnects > reconnects && c.state() == State::connected; }))
        << "no reconnect; state " << to_string(c.state());
    if (expect_restore) {
        ASSERT_TRUE(eventually([&] {
            auto s = c.subscriptions();
            return s.restores > restores_before && s.pending.empty();
        })) << describe(c.subscriptions());
    }
}

struct Sent {
    std::string method;
    std::string params;
};
Sent parse_sent(const std::string& text) {
    auto env = scan_json(text);
    return Sent{std::string(env.method), std::string(env.params_raw)};
}

// ---- tests -----------------------------------------------------------------------------------------------------

TEST(RpcSubscriptions, ConfirmedByTheServerInOneBatchedMessage) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    Inbox inbox;
    auto c = Client::connect(rpc_config(srv.url()), inbox.handlers());
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"ticker.BTC-PERPETUAL.100ms", "book.ETH-PERPETUAL.100ms"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 2; })) << describe(c->subscriptions());
    auto st = c->subscriptions();
    EXPECT_EQ(st.desired, (Strings{"book.ETH-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_TRUE(st.pending.empty());
    EXPECT_TRUE(st.failed.empty());
    EXPECT_EQ(c->metrics().subscriptions, 2u);
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 1u);
    auto sent = parse_sent(log[0]);
    EXPECT_EQ(sent.method, "public/subscribe");
    EXPECT_EQ(sent.params, R"({"channels":["ticker.BTC-PERPETUAL.100ms","book.ETH-PERPETUAL.100ms"]})");
    EXPECT_EQ(log[0].rfind(R"({"jsonrpc":"2.0","id":)", 0), 0u) << "subscribe must carry an id to be confirmed";
    // The confirmation is consumed, not delivered as a message.
    EXPECT_EQ(inbox.size(), 0u);
    // Subscribing again to a desired channel sends nothing.
    ASSERT_TRUE(c->subscribe({"ticker.BTC-PERPETUAL.100ms"}).ok());
    EXPECT_EQ(server_log(c.value()).size(), 2u);  // the previous test/log only
    c->close_and_wait(2s);
}

// Which venue's subscribe messages to send is an explicit choice: without a dialect nothing is sent.
TEST(RpcSubscriptions, WithoutADialectSubscribeFailsNamingTheField) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto cfg = rpc_config(srv.url());
    cfg.subscription_dialect = nullptr;
    auto c = Client::connect(cfg);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto st = c->subscribe({"ticker.BTC-PERPETUAL.100ms"});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::invalid_config);
    EXPECT_EQ(st.error().field, "subscription_dialect");
    EXPECT_TRUE(c->subscriptions().desired.empty());
    EXPECT_EQ(server_log(c.value()).size(), 0u);
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, PartialConfirmationFailsTheMissingChannels) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url("/?reject=bad.channel")));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"good.channel", "bad.channel"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().pending.empty(); })) << describe(c->subscriptions());
    auto st = c->subscriptions();
    EXPECT_EQ(st.confirmed, (Strings{"good.channel"}));
    EXPECT_EQ(st.desired, (Strings{"good.channel"}));
    EXPECT_EQ(st.failed, (Strings{"bad.channel"}));
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, RejectedSubscribeIsDroppedAndNeverRestored) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url("/?sub=reject")));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"rejected.one", "rejected.two"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().failed.size() == 2; })) << describe(c->subscriptions());
    auto st = c->subscriptions();
    EXPECT_TRUE(st.desired.empty()) << describe(st);
    EXPECT_TRUE(st.confirmed.empty());
    // After a reconnect nothing is re-sent (the original kept rejected channels in its restore set).
    drop_and_wait_restored(c.value(), 0, /*expect_restore=*/false);
    auto log = server_log(c.value());
    EXPECT_TRUE(log.empty()) << "first message on the new connection: " << (log.empty() ? "" : log[0]);
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, PrivateChannelWithoutAuthIsRejected) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto c = Client::connect(rpc_config(srv.url()));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"user.orders.BTC-PERPETUAL.raw", "trades.BTC-PERPETUAL.raw"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().pending.empty(); })) << describe(c->subscriptions());
    auto st = c->subscriptions();
    EXPECT_EQ(st.confirmed, (Strings{"trades.BTC-PERPETUAL.raw"}));
    EXPECT_EQ(st.failed, (Strings{"user.orders.BTC-PERPETUAL.raw"}));
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 2u);  // public and private channels go in separate messages
    EXPECT_EQ(parse_sent(log[0]).method, "public/subscribe");
    EXPECT_EQ(parse_sent(log[1]).method, "private/subscribe");
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, DataTicksNeverAddChannels) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    Inbox inbox;
    auto c = Client::connect(rpc_config(srv.url()), inbox.handlers());
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"chan.a"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 1; }));
    // The server pushes ticks for the subscribed channel and for one we never asked for.
    auto r = c->call_blocking("test/tick", R"({"channels":["chan.a","chan.stray"],"n":3})", 5s);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    ASSERT_TRUE(inbox.wait_size(6, 5s));
    {
        std::lock_guard lk(inbox.mu);
        int a = 0, stray = 0;
        for (auto& [ch, text] : inbox.items) {
            a += ch == "chan.a";
            stray += ch == "chan.stray";
        }
        EXPECT_EQ(a, 3);
        EXPECT_EQ(stray, 3);
    }
    auto st = c->subscriptions();
    EXPECT_EQ(st.desired, (Strings{"chan.a"})) << describe(st);
    EXPECT_EQ(st.confirmed, (Strings{"chan.a"}));
    // And a reconnect restores only what was subscribed.
    drop_and_wait_restored(c.value(), st.restores);
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(parse_sent(log[0]).params, R"({"channels":["chan.a"]})");
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, UnsubscribeIsNeverUndoneByTicksOrReconnect) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    Inbox inbox;
    auto c = Client::connect(rpc_config(srv.url()), inbox.handlers());
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"keep.me", "drop.me"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 2; }));
    ASSERT_TRUE(c->unsubscribe({"drop.me"}).ok());
    EXPECT_EQ(c->subscriptions().desired, (Strings{"keep.me"}));
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(parse_sent(log[1]).method, "public/unsubscribe");
    EXPECT_EQ(parse_sent(log[1]).params, R"({"channels":["drop.me"]})");
    // A late tick for the unsubscribed channel (servers do send them) changes nothing.
    ASSERT_TRUE(c->call_blocking("test/tick", R"({"channels":["drop.me"],"n":2})", 5s).ok());
    ASSERT_TRUE(inbox.wait_size(2, 5s));
    auto st = c->subscriptions();
    EXPECT_EQ(st.desired, (Strings{"keep.me"})) << describe(st);
    drop_and_wait_restored(c.value(), st.restores);
    log = server_log(c.value());
    ASSERT_EQ(log.size(), 1u) << log.back();
    EXPECT_EQ(parse_sent(log[0]).method, "public/subscribe");
    EXPECT_EQ(parse_sent(log[0]).params, R"({"channels":["keep.me"]})");
    EXPECT_EQ(c->subscriptions().confirmed, (Strings{"keep.me"}));
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, UnsubscribeWhileOfflineIsNotRestored) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    // The hook of the second connection unsubscribes: the client is offline then (before the restore).
    std::atomic<int> hooks{0};
    Handlers h;
    h.on_reconnect = [&hooks](Client& c, std::function<void(Status)> done) {
        if (hooks.fetch_add(1) == 1) (void)c.unsubscribe({"offline.drop"});
        done(Status{});
    };
    auto c = Client::connect(rpc_config(srv.url()), h);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"offline.keep", "offline.drop"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 2; }));
    drop_and_wait_restored(c.value(), c->subscriptions().restores);
    EXPECT_EQ(hooks.load(), 2);
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(parse_sent(log[0]).params, R"({"channels":["offline.keep"]})");
    EXPECT_EQ(c->subscriptions().desired, (Strings{"offline.keep"}));
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, RestoreAfterDropSendsAuthFirstThenBatchedSubscribes) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    std::atomic<int> hooks{0};
    Handlers h;
    h.on_reconnect = [&hooks](Client& c, std::function<void(Status)> done) {
        hooks.fetch_add(1);
        c.call("public/auth", R"({"grant_type":"client_credentials","client_id":"id","client_secret":"secret"})",
               [done](Result<std::string> r) { done(r.ok() ? Status{} : Status(r.error())); });
    };
    auto c = Client::connect(rpc_config(srv.url()), h);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    EXPECT_EQ(hooks.load(), 1);
    ASSERT_TRUE(c->subscribe({"ticker.BTC-PERPETUAL.raw", "user.orders.any.any.raw", "book.BTC-PERPETUAL.raw",
                              "user.portfolio.btc"})
                    .ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 4; })) << describe(c->subscriptions());
    auto first = server_log(c.value());
    ASSERT_EQ(first.size(), 3u);
    EXPECT_EQ(parse_sent(first[0]).method, "public/auth");

    for (int round = 1; round <= 2; ++round) {
        drop_and_wait_restored(c.value(), c->subscriptions().restores);
        ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 4; }))
            << describe(c->subscriptions());
        auto log = server_log(c.value());
        ASSERT_EQ(log.size(), 3u) << "round " << round;
        EXPECT_EQ(parse_sent(log[0]).method, "public/auth") << log[0];
        EXPECT_EQ(parse_sent(log[1]).method, "public/subscribe") << log[1];
        EXPECT_EQ(parse_sent(log[1]).params, R"({"channels":["book.BTC-PERPETUAL.raw","ticker.BTC-PERPETUAL.raw"]})");
        EXPECT_EQ(parse_sent(log[2]).method, "private/subscribe") << log[2];
        EXPECT_EQ(parse_sent(log[2]).params, R"({"channels":["user.orders.any.any.raw","user.portfolio.btc"]})");
        auto st = c->subscriptions();
        EXPECT_EQ(st.restores, static_cast<std::uint64_t>(round)) << describe(st);
        EXPECT_TRUE(st.failed.empty()) << describe(st);
    }
    EXPECT_EQ(hooks.load(), 3);
    c->close_and_wait(2s);
}

TEST(RpcSubscriptions, BinanceDialectConfirmRejectAndRestore) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    auto cfg = rpc_config(srv.url("/binance?reject=bad@trade"));
    cfg.subscription_dialect = binance_dialect();
    auto c = Client::connect(cfg);
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"btcusdt@trade", "ethusdt@depth"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().confirmed.size() == 2; })) << describe(c->subscriptions());
    ASSERT_TRUE(c->subscribe({"bad@trade"}).ok());
    ASSERT_TRUE(eventually([&] { return c->subscriptions().failed.size() == 1; })) << describe(c->subscriptions());
    EXPECT_EQ(c->subscriptions().desired, (Strings{"btcusdt@trade", "ethusdt@depth"}));
    ASSERT_TRUE(c->unsubscribe({"ethusdt@depth"}).ok());
    auto log = server_log(c.value());
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(parse_sent(log[0]).method, "SUBSCRIBE");
    EXPECT_EQ(parse_sent(log[0]).params, R"(["btcusdt@trade","ethusdt@depth"])");
    EXPECT_EQ(parse_sent(log[2]).method, "UNSUBSCRIBE");

    drop_and_wait_restored(c.value(), c->subscriptions().restores);
    log = server_log(c.value());
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(parse_sent(log[0]).method, "SUBSCRIBE");
    EXPECT_EQ(parse_sent(log[0]).params, R"(["btcusdt@trade"])");
    EXPECT_EQ(c->subscriptions().confirmed, (Strings{"btcusdt@trade"}));
    c->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws::test
