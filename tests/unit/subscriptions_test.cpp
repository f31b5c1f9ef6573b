// subscriptions_test.cpp — SubscriptionManager with the Deribit, Binance and user dialects: confirmation
// (full/partial lists, null result), rejection, unsubscribe permanence across reconnects, data messages never adding
// channels, restore batching and limits, public/private split, abandon.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zenws/json_scan.hpp"
#include "zenws/subscriptions.hpp"
#include "zenws/venues/binance.hpp"
#include "zenws/venues/deribit.hpp"

using namespace zenws;

namespace {

using Strings = std::vector<std::string>;

// Deterministic ids 100, 101, ...
SubscriptionManager::IdSource counter(std::int64_t start = 100) {
    return [n = start]() mutable { return n++; };
}

std::string reply_result(std::int64_t id, const std::string& result) {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"result":)" + result + "}";
}

std::optional<SubscriptionOutcome> feed(SubscriptionManager& m, const std::string& text) {
    const auto env = scan_json(text);
    EXPECT_TRUE(env.valid) << text;
    return m.on_reply(env);
}

SubscriptionManager online_deribit() {
    SubscriptionManager m(deribit_dialect(), 0, counter());
    EXPECT_TRUE(m.restore_messages().empty());  // the first connect: nothing desired yet
    EXPECT_TRUE(m.online());
    return m;
}

TEST(DeribitSubscriptions, SubscribeMessageAndFullConfirmation) {
    auto m = online_deribit();
    auto msgs = m.subscribe({"deribit_price_index.btc_usd", "ticker.BTC-PERPETUAL.100ms"});
    ASSERT_TRUE(msgs.ok());
    ASSERT_EQ(msgs->size(), 1u);
    const auto& msg = msgs->front();
    EXPECT_EQ(msg.id, 100);
    EXPECT_EQ(msg.key(), "100");
    EXPECT_TRUE(msg.subscribe);
    EXPECT_FALSE(msg.needs_auth);
    EXPECT_FALSE(msg.restore);
    EXPECT_EQ(msg.text,
              R"({"jsonrpc":"2.0","id":100,"method":"public/subscribe","params":{"channels":)"
              R"(["deribit_price_index.btc_usd","ticker.BTC-PERPETUAL.100ms"]}})");
    EXPECT_EQ(m.pending(), (Strings{"deribit_price_index.btc_usd", "ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_TRUE(m.confirmed().empty());
    EXPECT_TRUE(m.is_pending_request(100));

    const auto out = feed(m, reply_result(100, R"(["deribit_price_index.btc_usd","ticker.BTC-PERPETUAL.100ms"])"));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->id, 100);
    EXPECT_TRUE(out->subscribe);
    EXPECT_FALSE(out->restore);
    EXPECT_FALSE(out->error);
    EXPECT_EQ(out->confirmed, (Strings{"deribit_price_index.btc_usd", "ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_TRUE(out->failed.empty());
    EXPECT_EQ(m.confirmed(), (Strings{"deribit_price_index.btc_usd", "ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_EQ(m.state("ticker.BTC-PERPETUAL.100ms"), ChannelState::confirmed);
    EXPECT_EQ(m.requests_in_flight(), 0u);
    // the same reply again is not ours any more
    EXPECT_FALSE(feed(m, reply_result(100, R"(["deribit_price_index.btc_usd"])")));
}

TEST(DeribitSubscriptions, PartialResultListConfirmsListedAndFailsTheRest) {
    auto m = online_deribit();
    auto msgs = m.subscribe({"a.1", "b.2", "c.3"});
    ASSERT_TRUE(msgs.ok());
    const auto out = feed(m, reply_result(msgs->front().id, R"(["c.3","a.1","unrequested.9"])"));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->confirmed, (Strings{"a.1", "c.3"}));
    EXPECT_EQ(out->failed, (Strings{"b.2"}));
    EXPECT_EQ(m.desired(), (Strings{"a.1", "c.3"}));  // b.2 dropped; the unrequested channel is not added
    EXPECT_EQ(m.state("b.2"), ChannelState::absent);
    EXPECT_FALSE(m.is_desired("unrequested.9"));
}

TEST(DeribitSubscriptions, RejectionDropsThePendingChannels) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"good.1"}).ok());
    ASSERT_TRUE(feed(m, reply_result(100, R"(["good.1"])")));
    auto msgs = m.subscribe({"bad.1", "bad.2"});
    ASSERT_TRUE(msgs.ok());
    const auto id = msgs->front().id;
    const auto out = feed(m, R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                                 R"(,"error":{"code":11050,"message":"bad_request \"x\""}})");
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->confirmed.empty());
    EXPECT_EQ(out->failed, (Strings{"bad.1", "bad.2"}));
    EXPECT_EQ(out->error.code, Errc::rpc_error);
    EXPECT_EQ(out->error.rpc_code, 11050);
    EXPECT_NE(out->error.message.find("bad_request \"x\""), std::string::npos);
    EXPECT_NE(out->error.raw.find("11050"), std::string::npos);
    EXPECT_EQ(m.desired(), (Strings{"good.1"}));
    EXPECT_EQ(m.requests_in_flight(), 0u);
    // a reconnect does not bring rejected channels back
    m.on_disconnect();
    const auto restore = m.restore_messages();
    ASSERT_EQ(restore.size(), 1u);
    EXPECT_EQ(restore[0].channels, (Strings{"good.1"}));
}

TEST(DeribitSubscriptions, UnsubscribeIsNotUndoneByRestore) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1", "b.2"}).ok());
    ASSERT_TRUE(feed(m, reply_result(100, R"(["a.1","b.2"])")));

    const auto un = m.unsubscribe({"a.1"});
    ASSERT_EQ(un.size(), 1u);
    EXPECT_FALSE(un[0].subscribe);
    EXPECT_EQ(un[0].text, R"({"jsonrpc":"2.0","id":101,"method":"public/unsubscribe","params":{"channels":["a.1"]}})");
    EXPECT_FALSE(m.is_desired("a.1"));  // immediately, before any reply

    // the connection drops before the unsubscribe reply
    m.on_disconnect();
    EXPECT_FALSE(m.online());
    EXPECT_EQ(m.requests_in_flight(), 0u);
    EXPECT_EQ(m.unsent(), (Strings{"b.2"}));
    EXPECT_FALSE(feed(m, reply_result(101, R"(["a.1"])")));  // a reply from the old connection is ignored

    const auto restore = m.restore_messages();
    ASSERT_EQ(restore.size(), 1u);
    EXPECT_TRUE(restore[0].restore);
    EXPECT_EQ(restore[0].channels, (Strings{"b.2"}));
    const auto out = feed(m, reply_result(restore[0].id, R"(["b.2"])"));
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->restore);
    EXPECT_EQ(out->confirmed, (Strings{"b.2"}));
    EXPECT_EQ(m.desired(), (Strings{"b.2"}));
}

TEST(DeribitSubscriptions, LateConfirmationAfterUnsubscribeDoesNotReAdd) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());               // id 100, pending
    const auto un = m.unsubscribe({"a.1"});               // id 101: the server may hold it, so a message goes out
    ASSERT_EQ(un.size(), 1u);
    const auto late = feed(m, reply_result(100, R"(["a.1"])"));
    ASSERT_TRUE(late);
    EXPECT_TRUE(late->confirmed.empty());
    EXPECT_FALSE(m.is_desired("a.1"));
    const auto out = feed(m, reply_result(101, R"(["a.1"])"));
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->subscribe);
    EXPECT_EQ(out->confirmed, (Strings{"a.1"}));
    EXPECT_TRUE(m.desired().empty());
}

TEST(DeribitSubscriptions, OldRejectionDoesNotRemoveAResubscribe) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());  // 100
    m.unsubscribe({"a.1"});                  // 101
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());  // 102
    const auto out = feed(m, R"({"id":100,"error":{"code":1,"message":"no"}})");
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->failed.empty());  // a.1 now belongs to request 102
    EXPECT_EQ(m.state("a.1"), ChannelState::pending);
    ASSERT_TRUE(feed(m, reply_result(102, R"(["a.1"])")));
    EXPECT_EQ(m.state("a.1"), ChannelState::confirmed);
}

TEST(DeribitSubscriptions, DataMessagesNeverAddChannels) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());
    ASSERT_TRUE(feed(m, reply_result(100, R"(["a.1"])")));
    m.unsubscribe({"a.1"});
    // ticks still arriving for the unsubscribed channel and for channels never requested
    for (const char* tick : {
             R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"a.1","data":{"price":1}}})",
             R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"other.2","data":{}}})",
             R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}})",
             R"({"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"})",
         }) {
        EXPECT_FALSE(feed(m, tick)) << tick;
    }
    EXPECT_TRUE(m.desired().empty());
    m.on_disconnect();
    EXPECT_TRUE(m.restore_messages().empty());
}

TEST(DeribitSubscriptions, UnrelatedRepliesAreNotOurs) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());
    EXPECT_FALSE(feed(m, reply_result(999, R"(["a.1"])")));
    EXPECT_FALSE(feed(m, R"({"id":"100","result":["a.1"]})"));  // a string id "100" is not our integer 100
    EXPECT_FALSE(feed(m, R"({"id":100,"method":"x"})"));         // no result/error: not a reply
    EXPECT_FALSE(m.on_reply(scan_json("not json")));
    EXPECT_EQ(m.state("a.1"), ChannelState::pending);
}

TEST(DeribitSubscriptions, OfflineSubscribeWaitsForRestore) {
    SubscriptionManager m(deribit_dialect(), 0, counter());
    EXPECT_FALSE(m.online());
    auto r = m.subscribe({"b.1", "a.1", "a.1"});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
    EXPECT_EQ(m.unsent(), (Strings{"a.1", "b.1"}));
    EXPECT_TRUE(m.unsubscribe({"b.1"}).empty());  // never sent: no message needed
    const auto restore = m.restore_messages();
    ASSERT_EQ(restore.size(), 1u);
    EXPECT_EQ(restore[0].channels, (Strings{"a.1"}));
    EXPECT_EQ(m.pending(), (Strings{"a.1"}));
    // subscribing an already desired channel sends nothing
    auto again = m.subscribe({"a.1"});
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->empty());
}

TEST(DeribitSubscriptions, PrivateAndPublicAreSplitAndPrivateWaitsForAuth) {
    auto m = online_deribit();
    auto r = m.subscribe({"user.orders.BTC-PERPETUAL.raw", "ticker.BTC-PERPETUAL.100ms", "user.portfolio.btc"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_FALSE((*r)[0].needs_auth);
    EXPECT_EQ((*r)[0].channels, (Strings{"ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_NE((*r)[0].text.find(R"("method":"public/subscribe")"), std::string::npos);
    EXPECT_TRUE((*r)[1].needs_auth);
    EXPECT_EQ((*r)[1].channels, (Strings{"user.orders.BTC-PERPETUAL.raw", "user.portfolio.btc"}));
    EXPECT_NE((*r)[1].text.find(R"("method":"private/subscribe")"), std::string::npos);

    ASSERT_TRUE(feed(m, reply_result((*r)[0].id, R"(["ticker.BTC-PERPETUAL.100ms"])")));
    ASSERT_TRUE(feed(m, reply_result((*r)[1].id, R"(["user.orders.BTC-PERPETUAL.raw","user.portfolio.btc"])")));

    const auto un = m.unsubscribe({"user.portfolio.btc"});
    ASSERT_EQ(un.size(), 1u);
    EXPECT_TRUE(un[0].needs_auth);
    EXPECT_NE(un[0].text.find(R"("method":"private/unsubscribe")"), std::string::npos);

    m.on_disconnect();
    const auto before_auth = m.restore_messages(0, SubscriptionDialect::unlimited, /*authenticated=*/false);
    ASSERT_EQ(before_auth.size(), 1u);
    EXPECT_EQ(before_auth[0].channels, (Strings{"ticker.BTC-PERPETUAL.100ms"}));
    EXPECT_EQ(m.unsent(), (Strings{"user.orders.BTC-PERPETUAL.raw"}));
    const auto after_auth = m.restore_messages(0, SubscriptionDialect::unlimited, /*authenticated=*/true);
    ASSERT_EQ(after_auth.size(), 1u);
    EXPECT_TRUE(after_auth[0].needs_auth);
    EXPECT_EQ(after_auth[0].channels, (Strings{"user.orders.BTC-PERPETUAL.raw"}));
    EXPECT_TRUE(m.unsent().empty());
}

TEST(DeribitSubscriptions, RestoreBatchesPublicAndPrivateSeparately) {
    SubscriptionManager m(deribit_dialect(), 0, counter());
    ASSERT_TRUE(m.subscribe({"p.1", "p.2", "p.3", "p.4", "p.5", "user.a", "user.b", "user.c"}).ok());
    const auto msgs = m.restore_messages(2);
    ASSERT_EQ(msgs.size(), 5u);  // public: 2+2+1, private: 2+1
    EXPECT_EQ(msgs[0].channels, (Strings{"p.1", "p.2"}));
    EXPECT_EQ(msgs[1].channels, (Strings{"p.3", "p.4"}));
    EXPECT_EQ(msgs[2].channels, (Strings{"p.5"}));
    EXPECT_EQ(msgs[3].channels, (Strings{"user.a", "user.b"}));
    EXPECT_EQ(msgs[4].channels, (Strings{"user.c"}));
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        EXPECT_EQ(msgs[i].needs_auth, i >= 3);
        EXPECT_TRUE(msgs[i].restore);
        EXPECT_EQ(msgs[i].id, 100 + static_cast<std::int64_t>(i));
    }
    EXPECT_EQ(m.requests_in_flight(), 5u);
}

TEST(DeribitSubscriptions, RestoreMaxMessagesLeavesTheRestUnsent) {
    SubscriptionManager m(deribit_dialect(), 0, counter());
    ASSERT_TRUE(m.subscribe({"c.1", "c.2", "c.3", "c.4", "c.5"}).ok());
    const auto first = m.restore_messages(2, 2);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(m.unsent(), (Strings{"c.5"}));
    EXPECT_EQ(m.unsent_count(), 1u);
    const auto second = m.restore_messages(2, 2);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].channels, (Strings{"c.5"}));
    EXPECT_EQ(m.unsent_count(), 0u);
    EXPECT_TRUE(m.restore_messages(2, 2).empty());
}

TEST(DeribitSubscriptions, RestoreOutcomeReportsRestoredAndFailed) {
    SubscriptionManager m(deribit_dialect(), 0, counter());
    ASSERT_TRUE(m.subscribe({"ok.1", "gone.2"}).ok());
    const auto msgs = m.restore_messages();
    ASSERT_EQ(msgs.size(), 1u);
    const auto out = feed(m, reply_result(msgs[0].id, R"(["ok.1"])"));
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->restore);
    EXPECT_EQ(out->confirmed, (Strings{"ok.1"}));
    EXPECT_EQ(out->failed, (Strings{"gone.2"}));
}

TEST(DeribitSubscriptions, AbandonedRequestIsResentByRestore) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1"}).ok());
    EXPECT_TRUE(m.abandon(100));
    EXPECT_FALSE(m.abandon(100));
    EXPECT_EQ(m.state("a.1"), ChannelState::unsent);
    EXPECT_FALSE(feed(m, reply_result(100, R"(["a.1"])")));
    const auto again = m.restore_messages();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].channels, (Strings{"a.1"}));
}

TEST(DeribitSubscriptions, NonArrayResultConfirmsAll) {
    auto m = online_deribit();
    ASSERT_TRUE(m.subscribe({"a.1", "b.1"}).ok());
    const auto out = feed(m, reply_result(100, R"("ok")"));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->confirmed, (Strings{"a.1", "b.1"}));
}

TEST(DeribitSubscriptions, EmptyChannelNameIsAnErrorAndChangesNothing) {
    auto m = online_deribit();
    const auto r = m.subscribe(Strings{"a.1", ""});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid_config);
    EXPECT_TRUE(m.desired().empty());
}

TEST(DeribitSubscriptions, ChannelNamesAreJsonEscaped) {
    auto m = online_deribit();
    auto r = m.subscribe({"we\"ird\\ch"});
    ASSERT_TRUE(r.ok());
    const auto env = scan_json(r->front().text);
    ASSERT_TRUE(env.valid);
    EXPECT_NE(r->front().text.find(R"(["we\"ird\\ch"])"), std::string::npos);
    ASSERT_TRUE(feed(m, reply_result(100, R"(["we\"ird\\ch"])")));
    EXPECT_EQ(m.state("we\"ird\\ch"), ChannelState::confirmed);
}

// ---- Binance ---------------------------------------------------------------------------------------------------

SubscriptionManager online_binance(std::size_t max_streams = 1024, std::size_t batch = 200) {
    SubscriptionManager m(binance_dialect(max_streams, batch), 0, counter(1));
    EXPECT_TRUE(m.restore_messages().empty());
    return m;
}

TEST(BinanceSubscriptions, NullResultConfirmsAllRequested) {
    auto m = online_binance();
    auto r = m.subscribe({"btcusdt@aggTrade", "btcusdt@depth"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front().text, R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1})");
    const auto out = feed(m, R"({"result":null,"id":1})");
    ASSERT_TRUE(out);
    EXPECT_EQ(out->confirmed, (Strings{"btcusdt@aggTrade", "btcusdt@depth"}));
    EXPECT_EQ(m.confirmed(), (Strings{"btcusdt@aggTrade", "btcusdt@depth"}));

    const auto un = m.unsubscribe({"btcusdt@depth"});
    ASSERT_EQ(un.size(), 1u);
    EXPECT_EQ(un[0].text, R"({"method":"UNSUBSCRIBE","params":["btcusdt@depth"],"id":2})");
    const auto uo = feed(m, R"({"result":null,"id":2})");
    ASSERT_TRUE(uo);
    EXPECT_FALSE(uo->subscribe);
    EXPECT_EQ(uo->confirmed, (Strings{"btcusdt@depth"}));
    EXPECT_EQ(m.desired(), (Strings{"btcusdt@aggTrade"}));
}

TEST(BinanceSubscriptions, ErrorRepliesRejectBothShapes) {
    auto m = online_binance();
    ASSERT_TRUE(m.subscribe({"x@bad"}).ok());                     // id 1
    const auto top = feed(m, R"({"code":2,"msg":"Invalid request: bad stream","id":1})");
    ASSERT_TRUE(top);
    EXPECT_EQ(top->failed, (Strings{"x@bad"}));
    EXPECT_EQ(top->error.rpc_code, 2);
    ASSERT_TRUE(m.subscribe({"y@bad"}).ok());                     // id 2
    const auto wrapped = feed(m, R"({"error":{"code":1,"msg":"Invalid value"},"id":2})");
    ASSERT_TRUE(wrapped);
    EXPECT_EQ(wrapped->failed, (Strings{"y@bad"}));
    EXPECT_EQ(wrapped->error.code, Errc::rpc_error);
    EXPECT_TRUE(m.desired().empty());
}

TEST(BinanceSubscriptions, StreamLimitPerConnection) {
    auto m = online_binance(5, 200);
    ASSERT_TRUE(m.subscribe({"s1", "s2", "s3"}).ok());
    const auto over = m.subscribe({"s3", "s4", "s5", "s6"});  // s3 already desired: 3 new -> 6 > 5
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().code, Errc::invalid_config);
    EXPECT_NE(over.error().message.find("at most 5"), std::string::npos);
    EXPECT_EQ(m.desired_count(), 3u);  // nothing changed
    ASSERT_TRUE(m.subscribe({"s3", "s4", "s5"}).ok());  // exactly at the limit
    EXPECT_EQ(m.desired_count(), 5u);
    m.unsubscribe({"s1"});
    EXPECT_TRUE(m.subscribe({"s6"}).ok());
}

TEST(BinanceSubscriptions, Default1024StreamsAndBatchesOf200) {
    auto m = online_binance();
    Strings streams;
    for (int i = 0; i < 1024; ++i) streams.push_back("sym" + std::to_string(i) + "@trade");
    auto r = m.subscribe(streams);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 6u);  // 5 x 200 + 24
    std::size_t total = 0;
    for (const auto& msg : *r) {
        EXPECT_LE(msg.channels.size(), 200u);
        total += msg.channels.size();
        EXPECT_TRUE(scan_json(msg.text).valid);
    }
    EXPECT_EQ(total, 1024u);
    EXPECT_FALSE(m.subscribe({"one@more"}).ok());

    m.on_disconnect();
    const auto restore = m.restore_messages(500);
    ASSERT_EQ(restore.size(), 3u);  // 500 + 500 + 24
    EXPECT_EQ(restore[2].channels.size(), 24u);
}

TEST(BinanceSubscriptions, ConstructorBatchSizeOverridesDialectDefault) {
    SubscriptionManager m(binance_dialect(), 3, counter(1));
    ASSERT_TRUE(m.subscribe({"a", "b", "c", "d", "e"}).ok());
    const auto msgs = m.restore_messages();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[0].channels.size(), 3u);
    EXPECT_EQ(msgs[1].channels.size(), 2u);
}

// ---- user dialect ----------------------------------------------------------------------------------------------

DialectHooks kraken_like_hooks() {
    DialectHooks h;
    h.name = "kraken-like";
    h.build_subscribe = [](std::span<const std::string> ch, std::int64_t id) {
        std::string t = R"({"method":"subscribe","channels":)" + std::to_string(ch.size()) + R"(,"id":)";
        return t + std::to_string(id) + "}";
    };
    h.build_unsubscribe = [](std::span<const std::string> ch, std::int64_t id) {
        return R"({"method":"unsubscribe","channels":)" + std::to_string(ch.size()) + R"(,"id":)" +
               std::to_string(id) + "}";
    };
    return h;
}

TEST(CustomDialect, HooksBuildMessagesAndDefaultInterpretation) {
    auto d = custom_dialect(kraken_like_hooks());
    ASSERT_TRUE(d.ok());
    EXPECT_EQ((*d)->name(), "kraken-like");
    SubscriptionManager m(*d, 0, counter(7));
    m.restore_messages();
    auto r = m.subscribe({"ticker:BTC/USD", "book:BTC/USD"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front().text, R"({"method":"subscribe","channels":2,"id":7})");
    const auto ok = feed(m, R"({"id":7,"result":{"success":true}})");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->confirmed.size(), 2u);
    const auto un = m.unsubscribe({"book:BTC/USD"});
    ASSERT_EQ(un.size(), 1u);
    EXPECT_EQ(un[0].text, R"({"method":"unsubscribe","channels":1,"id":8})");
}

TEST(CustomDialect, CustomInterpretAuthAndLimits) {
    auto h = kraken_like_hooks();
    h.interpret_reply = [](const JsonEnvelope& reply, bool) {
        ReplyVerdict v;
        if (reply.has_result && reply.result_raw == R"({"success":true})") v.kind = ReplyVerdict::Kind::all_confirmed;
        return v;
    };
    h.requires_auth = [](std::string_view c) { return c.starts_with("own"); };
    h.max_channels = 3;
    h.batch_size = 1;
    auto d = custom_dialect(std::move(h));
    ASSERT_TRUE(d.ok());
    SubscriptionManager m(*d, 0, counter(1));
    m.restore_messages();
    auto r = m.subscribe({"pub", "owntrades"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 2u);
    EXPECT_FALSE((*r)[0].needs_auth);
    EXPECT_TRUE((*r)[1].needs_auth);
    const auto rejected = feed(m, R"({"id":1,"result":{"success":false}})");
    ASSERT_TRUE(rejected);
    EXPECT_EQ(rejected->failed, (Strings{"pub"}));
    EXPECT_FALSE(m.is_desired("pub"));
    EXPECT_FALSE(m.subscribe({"a", "b", "c"}).ok());  // 1 + 3 > 3
}

TEST(CustomDialect, MissingHooksAreConfigErrors) {
    DialectHooks none;
    auto a = custom_dialect(none);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, Errc::invalid_config);
    EXPECT_EQ(a.error().field, "build_subscribe");
    auto h = kraken_like_hooks();
    h.build_unsubscribe = nullptr;
    auto b = custom_dialect(std::move(h));
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().field, "build_unsubscribe");
}

}  // namespace
