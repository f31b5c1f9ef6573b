// binance_adapter_test.cpp — owns the end-to-end tests of binance::StreamAdapter against the mock exchange on
// loopback: combined and raw event parsing, the pool spreading streams over connections (max per connection), live
// subscribe/unsubscribe, proactive lifetime rotation without gap or duplicate, rotation on a serverShutdown notice.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/adapter_helpers.hpp"
#include "zenws/venues/binance.hpp"
#include "zenws/client.hpp"
#include "zenws/mock/exchange.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;

MockExchangeOptions mock_options() {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::binance;
    o.binance.ping_interval = 500ms;
    o.binance.pong_timeout = 3000ms;
    o.binance.event_interval = 20ms;
    return o;
}

std::string base_of(const MockExchange& server) {
    std::string u = server.url();  // ws://127.0.0.1:<port>/ws
    return u.substr(0, u.find('/', 5));
}

struct Collected {
    std::mutex mu;
    std::map<std::string, std::vector<std::int64_t>> ids;  // per stream (or type|symbol)
    std::map<std::string, int> types;
    std::size_t total = 0;
    void add(const binance::Event& e) {
        std::lock_guard lk(mu);
        std::string key = e.stream.empty() ? std::string(e.type) + "|" + std::string(e.symbol) : std::string(e.stream);
        if (e.id) ids[key].push_back(*e.id);
        ++types[std::string(e.type)];
        ++total;
    }
    std::size_t count() {
        std::lock_guard lk(mu);
        return total;
    }
};

binance::StreamOptions stream_options(const MockExchange& server, Collected& sink) {
    binance::StreamOptions o;
    o.base_url = base_of(server);
    o.config.retry_delay = 50ms;
    o.config.max_backoff = 200ms;
    o.config.retry_count = 5;
    o.server_ping_timeout = 3000ms;
    o.lifetime = 0ms;
    o.rotation_timeout = 2000ms;
    o.on_event = [&sink](const binance::Event& e) { sink.add(e); };
    return o;
}

TEST(BinanceAdapter, ParsesCombinedAndRawEvents) {
    auto c = binance::parse_event(
        R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1672515782136,"s":"BTCUSDT","a":12345,"p":"0.001","q":"100","T":1672515782136,"m":true}})");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->stream, "btcusdt@aggTrade");
    EXPECT_EQ(c->type, "aggTrade");
    EXPECT_EQ(c->symbol, "BTCUSDT");
    EXPECT_EQ(c->event_time, 1672515782136);
    ASSERT_TRUE(c->id.has_value());
    EXPECT_EQ(*c->id, 12345);
    auto r = binance::parse_event(R"({"e":"trade","E":5,"s":"ETHUSDT","t":77,"p":"1","q":"2"})");
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->stream.empty());
    EXPECT_EQ(*r->id, 77);
    auto book = binance::parse_event(R"({"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"})");
    ASSERT_TRUE(book.has_value());
    EXPECT_EQ(*book->id, 400900217);
    EXPECT_FALSE(binance::parse_event(R"({"result":null,"id":1})").has_value());
    EXPECT_FALSE(binance::parse_event(R"({"code":2,"msg":"Invalid request","id":3})").has_value());
    EXPECT_FALSE(binance::parse_event(R"({"event":{"e":"serverShutdown","E":1}})").has_value());
    EXPECT_TRUE(binance::is_server_shutdown(R"({"event":{"e":"serverShutdown","E":1}})"));
    EXPECT_TRUE(binance::is_server_shutdown(R"({"e":"serverShutdown","E":1})"));
    std::vector<std::string> s{"btcusdt@aggTrade", "ethusdt@trade"};
    EXPECT_EQ(binance::stream_url("wss://h:9443", s, true), "wss://h:9443/stream?streams=btcusdt@aggTrade/ethusdt@trade");
    EXPECT_EQ(binance::stream_url("wss://h:9443/", s, false), "wss://h:9443/ws/btcusdt@aggTrade/ethusdt@trade");
    EXPECT_EQ(binance::stream_url("wss://h", {}, false), "wss://h/ws");
}

TEST(BinanceAdapter, CombinedStreamsSpreadOverAPool) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    Collected sink;
    auto o = stream_options(server, sink);
    o.max_streams_per_connection = 2;
    auto adapter = binance::StreamAdapter::create(o);
    ASSERT_TRUE(adapter->subscribe({"btcusdt@aggTrade", "ethusdt@trade", "bnbusdt@bookTicker", "solusdt@aggTrade",
                                    "xrpusdt@depth"}));
    EXPECT_EQ(adapter->connection_count(), 3u);
    ASSERT_TRUE(adapter->wait_ready(5s));
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            std::size_t subs = 0;
            for (auto& c : s.connections) {
                if (c.session.subscriptions.size() > 2) return false;
                subs += c.session.subscriptions.size();
            }
            return s.connections.size() == 3 && subs == 5;
        },
        5s));
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lk(sink.mu);
        return sink.ids.size() == 5;  // every stream delivered, keyed by its combined stream name
    }));
    {
        std::lock_guard lk(sink.mu);
        EXPECT_TRUE(sink.ids.count("btcusdt@aggTrade"));
        EXPECT_TRUE(sink.ids.count("xrpusdt@depth"));
        EXPECT_GT(sink.types["aggTrade"], 0);
        EXPECT_GT(sink.types["depthUpdate"], 0);
    }
    // Live unsubscribe with ids: the stream leaves its connection.
    ASSERT_TRUE(adapter->unsubscribe({"btcusdt@aggTrade"}));
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            for (auto& c : s.connections)
                for (auto& n : c.session.subscriptions)
                    if (n == "btcusdt@aggTrade") return false;
            return true;
        },
        3s));
    // The pings were answered all along (server_ping liveness) and nobody was cut.
    std::this_thread::sleep_for(600ms);
    EXPECT_TRUE(server.status().ended.empty()) << server.status().to_json();
    adapter->close();
}

TEST(BinanceAdapter, RawStreams) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    Collected sink;
    auto o = stream_options(server, sink);
    o.combined = false;
    auto adapter = binance::StreamAdapter::create(o);
    ASSERT_TRUE(adapter->subscribe({"btcusdt@trade"}));
    ASSERT_TRUE(eventually([&] { return sink.count() >= 3; }));
    std::lock_guard lk(sink.mu);
    EXPECT_TRUE(sink.ids.count("trade|BTCUSDT"));
    adapter->close();
}

TEST(BinanceAdapter, LifetimeRotationHasNoGapAndNoDuplicate) {
    MockExchange server(mock_options());
    ASSERT_TRUE(server.start());
    // The mock's event ids are exchange-wide (as on Binance), so the overlap of two connections carries the same
    // events with the same ids and a gap or a duplicate across a rotation is visible in the delivered ids.
    Collected sink;
    auto o = stream_options(server, sink);
    o.lifetime = 700ms;  // rotate every 0.7 s
    auto adapter = binance::StreamAdapter::create(o);
    ASSERT_TRUE(adapter->subscribe({"btcusdt@aggTrade", "ethusdt@trade"}));
    ASSERT_TRUE(eventually([&] { return adapter->stats().rotations >= 3; }, 8s)) << adapter->stats().rotations;
    std::this_thread::sleep_for(200ms);
    adapter->close();
    auto st = adapter->stats();
    std::lock_guard lk(sink.mu);
    for (auto& [stream, ids] : sink.ids) {
        ASSERT_GT(ids.size(), 10u) << stream;
        for (std::size_t i = 1; i < ids.size(); ++i) {
            ASSERT_EQ(ids[i], ids[i - 1] + 1)  // no gap, no duplicate, in order
                << stream << " at " << i << " (rotations " << st.rotations << ", duplicates " << st.duplicates
                << ", sequence_resets " << st.sequence_resets << ")";
        }
    }
    EXPECT_GT(adapter->stats().duplicates, 0u);  // the overlap really happened and was deduplicated
    EXPECT_EQ(adapter->stats().sequence_resets, 0u);  // exchange-wide ids: the live connection never fell behind
}

TEST(BinanceAdapter, ServerShutdownNoticeRotatesBeforeTheCut) {
    auto mo = mock_options();
    mo.binance.lifetime = 1500ms;
    mo.binance.shutdown_notice = 1000ms;
    MockExchange server(mo);
    ASSERT_TRUE(server.start());
    Collected sink;
    auto o = stream_options(server, sink);  // lifetime 0: only the notice triggers rotation
    auto adapter = binance::StreamAdapter::create(o);
    ASSERT_TRUE(adapter->subscribe({"btcusdt@aggTrade"}));
    ASSERT_TRUE(eventually([&] { return adapter->stats().rotations >= 1; }, 5s));
    EXPECT_GE(adapter->stats().shutdown_notices, 1u);
    // The old connection was closed by us (make-before-break), not cut by the server's lifetime.
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return !s.ended.empty(); }, 3s));
    EXPECT_EQ(server.status().ended.front().reason, EndReason::client_close) << server.status().to_json();
    auto before = sink.count();
    ASSERT_TRUE(eventually([&] { return sink.count() > before + 5; }, 3s));  // data keeps flowing
    adapter->close();
}

}  // namespace
}  // namespace zenws::test
