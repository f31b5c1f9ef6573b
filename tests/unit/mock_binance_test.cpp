// mock_binance_test.cpp — owns the unit tests of the mock exchange's Binance stream dialect state machine (no
// sockets, time passed in): targets and the streams-per-connection limit, SUBSCRIBE / UNSUBSCRIBE /
// LIST_SUBSCRIPTIONS / properties, the incoming-messages-per-second limit, server pings and the pong deadline,
// raw vs combined events with increasing ids and gaps, the exchange-wide event schedule shared by all sessions
// (identical id / "E" / payload), bounded catch-up, lifetime with the serverShutdown notice.
#include <gtest/gtest.h>

#include "zenws/json_scan.hpp"
#include "zenws/mock/dialects.hpp"

namespace zenws::mock {
namespace {

using namespace std::chrono_literals;

BinanceOptions quiet() {
    BinanceOptions o;
    o.ping_interval = 0ms;
    o.lifetime = 0ms;
    o.event_interval = 0ms;
    o.max_incoming_per_second = 0;
    return o;
}

struct Harness {
    BinanceExchange ex;
    SteadyTime t0 = std::chrono::steady_clock::now();
    std::unique_ptr<DialectSession> s;
    explicit Harness(BinanceOptions o = quiet(), std::string_view target = "/ws") : ex(o) {
        s = ex.open_session(target, 1, t0);
    }
    Output send(std::string_view text, std::chrono::milliseconds at = 0ms) {
        Output out;
        s->on_text(text, t0 + at, out);
        return out;
    }
    Output tick(std::chrono::milliseconds at) {
        Output out;
        s->on_tick(t0 + at, out);
        return out;
    }
    std::string one(std::string_view text) {
        auto out = send(text);
        EXPECT_EQ(out.messages.size(), 1u);
        return out.messages.empty() ? std::string() : out.messages[0].text;
    }
};

TEST(MockBinance, Targets) {
    BinanceExchange ex;
    EXPECT_EQ(ex.check_target("/ws"), 0);
    EXPECT_EQ(ex.check_target("/ws/btcusdt@aggTrade"), 0);
    EXPECT_EQ(ex.check_target("/ws/btcusdt@aggTrade/ethusdt@trade"), 0);
    EXPECT_EQ(ex.check_target("/stream?streams=btcusdt@aggTrade/ethusdt@trade"), 0);
    EXPECT_EQ(ex.check_target("/ws/api/v2x?x"), 0);  // /ws/<stream>: any stream-like name
    EXPECT_EQ(ex.check_target("/nope"), 404);
    EXPECT_EQ(ex.check_target("/"), 404);
    std::string many = "/stream?streams=";
    for (int i = 0; i < 1025; ++i) many += (i ? "/" : "") + std::string("s") + std::to_string(i) + "@trade";
    EXPECT_EQ(ex.check_target(many), 400);

    auto combined = ex.open_session("/stream?streams=btcusdt@aggTrade/ethusdt@trade", 1, SteadyTime{});
    EXPECT_TRUE(combined->info().combined);
    EXPECT_EQ(combined->info().subscriptions, (std::vector<std::string>{"btcusdt@aggTrade", "ethusdt@trade"}));
    auto raw = ex.open_session("/ws/btcusdt@trade", 2, SteadyTime{});
    EXPECT_FALSE(raw->info().combined);
    EXPECT_EQ(raw->info().subscriptions.size(), 1u);
}

TEST(MockBinance, SubscribeUnsubscribeList) {
    Harness h;
    EXPECT_EQ(h.one(R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1})"),
              R"({"result":null,"id":1})");
    EXPECT_EQ(h.one(R"({"method":"LIST_SUBSCRIPTIONS","id":3})"),
              R"({"result":["btcusdt@aggTrade","btcusdt@depth"],"id":3})");
    EXPECT_EQ(h.one(R"({"method":"UNSUBSCRIBE","params":["btcusdt@depth"],"id":312})"), R"({"result":null,"id":312})");
    EXPECT_EQ(h.s->info().subscriptions, (std::vector<std::string>{"btcusdt@aggTrade"}));
    EXPECT_EQ(h.one(R"({"method":"SUBSCRIBE","params":["x"],"id":"abc"})"), R"({"result":null,"id":"abc"})");
    auto out = h.send(R"({"method":"LIST_SUBSCRIPTIONS","id":4})");
    ASSERT_EQ(out.messages.size(), 1u);
    EXPECT_TRUE(out.messages[0].reply);
    EXPECT_EQ(out.messages[0].method, "LIST_SUBSCRIPTIONS");
    EXPECT_EQ(h.s->info().requests, 5u);
}

TEST(MockBinance, Errors) {
    Harness h;
    std::string reply = h.one("{oops");  // scan_json returns views into the text: keep it alive
    auto e = scan_json(reply);
    EXPECT_TRUE(e.has_error);
    EXPECT_EQ(e.error_code, 3);
    reply = h.one(R"({"method":"SUBSCRIBE","params":"btcusdt@trade","id":1})");
    e = scan_json(reply);
    EXPECT_EQ(e.error_code, 2);
    EXPECT_EQ(e.id.raw, "1");
    EXPECT_EQ(scan_json(h.one(R"({"method":"SUBSCRIBE","params":[1],"id":1})")).error_code, 2);
    EXPECT_EQ(scan_json(h.one(R"({"method":"SUBSCRIBE","params":["a"],"id":-1})")).error_code, 2);
    EXPECT_EQ(scan_json(h.one(R"({"method":"FROB","id":1})")).error_code, 2);
    EXPECT_EQ(scan_json(h.one(R"({"method":"SET_PROPERTY","params":["colour",true],"id":5})")).error_code, 0);
    EXPECT_EQ(scan_json(h.one(R"({"method":"SET_PROPERTY","params":["combined","yes"],"id":5})")).error_code, 1);
    EXPECT_TRUE(h.s->info().subscriptions.empty());
}

TEST(MockBinance, CombinedProperty) {
    Harness h;
    EXPECT_EQ(h.one(R"({"method":"GET_PROPERTY","params":["combined"],"id":2})"), R"({"result":false,"id":2})");
    EXPECT_EQ(h.one(R"({"method":"SET_PROPERTY","params":["combined",true],"id":5})"), R"({"result":null,"id":5})");
    EXPECT_EQ(h.one(R"({"method":"GET_PROPERTY","params":["combined"],"id":2})"), R"({"result":true,"id":2})");
    EXPECT_TRUE(h.s->info().combined);
}

TEST(MockBinance, StreamLimit) {
    BinanceOptions o = quiet();
    o.max_streams = 3;
    Harness h(o);
    EXPECT_EQ(h.one(R"({"method":"SUBSCRIBE","params":["a","b"],"id":1})"), R"({"result":null,"id":1})");
    EXPECT_EQ(h.one(R"({"method":"SUBSCRIBE","params":["a","b"],"id":2})"), R"({"result":null,"id":2})");  // no new
    auto e = scan_json(h.one(R"({"method":"SUBSCRIBE","params":["c","d"],"id":3})"));
    EXPECT_EQ(e.error_code, 2);
    EXPECT_EQ(h.s->info().subscriptions.size(), 2u);
    EXPECT_EQ(h.one(R"({"method":"SUBSCRIBE","params":["c"],"id":4})"), R"({"result":null,"id":4})");
    EXPECT_EQ(BinanceOptions{}.max_streams, 1024u);
}

TEST(MockBinance, IncomingMessageRateLimitCountsPingsAndPongs) {
    BinanceOptions o = quiet();
    o.max_incoming_per_second = 5;
    Harness h(o);
    Output out;
    h.s->on_ping("p", h.t0, out);
    h.s->on_pong("q", h.t0 + 100ms, out);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(h.send(R"({"method":"LIST_SUBSCRIPTIONS","id":1})", 200ms).close);
    // after the rolling second the early ones no longer count
    EXPECT_FALSE(h.send(R"({"method":"LIST_SUBSCRIPTIONS","id":1})", 1050ms).close);
    EXPECT_FALSE(h.send(R"({"method":"LIST_SUBSCRIPTIONS","id":1})", 1100ms).close);
    auto over = h.send(R"({"method":"LIST_SUBSCRIPTIONS","id":1})", 1150ms);
    EXPECT_TRUE(over.close);
    EXPECT_EQ(over.end, EndReason::rate_limit);
    EXPECT_TRUE(over.messages.empty());
}

TEST(MockBinance, ServerPingsAndPongDeadline) {
    BinanceOptions o = quiet();
    o.ping_interval = 100ms;
    o.pong_timeout = 250ms;
    Harness h(o);
    EXPECT_EQ(h.s->next_deadline(), h.t0 + 100ms);
    auto p1 = h.tick(100ms);
    ASSERT_EQ(p1.pings.size(), 1u);
    Output ignored;
    h.s->on_pong("unsolicited", h.t0 + 120ms, ignored);  // does not satisfy the ping
    h.s->on_pong(p1.pings[0], h.t0 + 150ms, ignored);
    auto p2 = h.tick(200ms);
    ASSERT_EQ(p2.pings.size(), 1u);
    EXPECT_FALSE(h.tick(300ms).close);
    EXPECT_FALSE(h.tick(400ms).close);
    auto late = h.tick(450ms);  // p2 sent at 200 ms, unanswered for 250 ms
    EXPECT_TRUE(late.close);
    EXPECT_EQ(late.end, EndReason::pong_timeout);
}

TEST(MockBinance, SkipHeartbeatSkipsOnePing) {
    BinanceOptions o = quiet();
    o.ping_interval = 100ms;
    Harness h(o);
    h.s->skip_heartbeat();
    EXPECT_TRUE(h.tick(100ms).pings.empty());
    EXPECT_EQ(h.tick(200ms).pings.size(), 1u);
}

TEST(MockBinance, RawAndCombinedEvents) {
    BinanceOptions o = quiet();
    o.event_interval = 100ms;
    Harness raw(o, "/ws/btcusdt@aggTrade");
    Harness comb(o, "/stream?streams=btcusdt@aggTrade/ethusdt@bookTicker");
    auto r = raw.tick(100ms);
    ASSERT_EQ(r.messages.size(), 1u);
    auto re = scan_json(r.messages[0].text);
    EXPECT_TRUE(re.channel.empty());
    EXPECT_EQ(json::string_member(r.messages[0].text, "e"), std::optional<std::string>("aggTrade"));
    EXPECT_EQ(json::string_member(r.messages[0].text, "s"), std::optional<std::string>("BTCUSDT"));
    EXPECT_TRUE(json::number_member(r.messages[0].text, "E").has_value());

    auto c = comb.tick(100ms);
    ASSERT_EQ(c.messages.size(), 2u);
    for (auto& m : c.messages) {
        auto e = scan_json(m.text);
        EXPECT_FALSE(e.channel.empty());
        EXPECT_FALSE(e.data_raw.empty());
    }
    EXPECT_EQ(comb.s->info().notifications, 2u);
}

TEST(MockBinance, EventIdsIncreaseAndGapSkipsOne) {
    BinanceOptions o = quiet();
    o.event_interval = 100ms;
    Harness h(o, "/ws/btcusdt@trade");
    std::vector<double> ids;
    for (int i = 1; i <= 3; ++i)
        for (auto& m : h.tick(std::chrono::milliseconds(100 * i)).messages) ids.push_back(*json::number_member(m.text, "t"));
    h.s->inject_gap();
    EXPECT_TRUE(h.tick(400ms).messages.empty());  // the event due at 400 ms is the one this session misses
    for (int i = 5; i <= 6; ++i)
        for (auto& m : h.tick(std::chrono::milliseconds(100 * i)).messages) ids.push_back(*json::number_member(m.text, "t"));
    ASSERT_EQ(ids.size(), 5u);
    EXPECT_EQ(ids[0], static_cast<double>(BinanceExchange::event_id_base("btcusdt@trade") + 1));
    EXPECT_EQ(ids[1], ids[0] + 1);
    EXPECT_EQ(ids[2], ids[1] + 1);
    EXPECT_EQ(ids[3], ids[2] + 2);
    EXPECT_EQ(ids[4], ids[3] + 1);
}

// Binance event ids are exchange-wide: two connections subscribed to the same stream receive the same event with
// the same id, event time and payload; each only gets the events due after it subscribed; a gap on one session
// does not affect the other.
TEST(MockBinance, EventScheduleIsSharedAcrossSessions) {
    BinanceOptions o = quiet();
    o.event_interval = 100ms;
    BinanceExchange ex(o);
    SteadyTime t0 = std::chrono::steady_clock::now();
    auto a = ex.open_session("/ws/btcusdt@aggTrade", 1, t0);
    ASSERT_TRUE(ex.epoch().has_value());
    EXPECT_EQ(*ex.epoch(), t0);
    auto b = ex.open_session("/ws", 2, t0 + 250ms);  // subscribes later, by request
    EXPECT_EQ(b->next_deadline(), SteadyTime::max());
    Output sub;
    b->on_text(R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1})", t0 + 250ms, sub);
    EXPECT_EQ(b->next_deadline(), t0 + 300ms);  // the next event of the exchange-wide schedule
    EXPECT_EQ(a->next_deadline(), t0 + 100ms);

    auto texts = [](DialectSession& s, SteadyTime at) {
        Output out;
        s.on_tick(at, out);
        std::vector<std::string> v;
        for (auto& m : out.messages) v.push_back(m.text);
        return v;
    };
    // A ticks late (at 330 ms) and catches up the events due at 100, 200 and 300 ms in one go.
    auto ea = texts(*a, t0 + 330ms);
    ASSERT_EQ(ea.size(), 3u);
    auto eb = texts(*b, t0 + 300ms);
    ASSERT_EQ(eb.size(), 1u);
    EXPECT_EQ(eb[0], ea[2]);  // byte-identical: same id, same "E", same payload
    auto id = [](const std::string& t) { return static_cast<std::int64_t>(*json::number_member(t, "a")); };
    auto E = [](const std::string& t) { return static_cast<std::int64_t>(*json::number_member(t, "E")); };
    EXPECT_EQ(id(ea[1]), id(ea[0]) + 1);
    EXPECT_EQ(id(ea[2]), id(ea[1]) + 1);
    EXPECT_EQ(E(ea[1]) - E(ea[0]), 100);  // event times follow the schedule, not the late tick
    EXPECT_EQ(E(ea[2]) - E(ea[1]), 100);

    // A gap on A: A misses the event due at 400 ms, B still gets it; both agree again at 500 ms.
    a->inject_gap();
    EXPECT_TRUE(texts(*a, t0 + 400ms).empty());
    auto b4 = texts(*b, t0 + 400ms);
    ASSERT_EQ(b4.size(), 1u);
    EXPECT_EQ(id(b4[0]), id(ea[2]) + 1);
    auto a5 = texts(*a, t0 + 500ms), b5 = texts(*b, t0 + 500ms);
    ASSERT_EQ(a5.size(), 1u);
    ASSERT_EQ(b5.size(), 1u);
    EXPECT_EQ(a5[0], b5[0]);
    EXPECT_EQ(id(a5[0]), id(ea[2]) + 2);

    // Combined sessions wrap the same event.
    auto c = ex.open_session("/stream?streams=btcusdt@aggTrade", 3, t0 + 550ms);
    auto c6 = texts(*c, t0 + 600ms), a6 = texts(*a, t0 + 600ms);
    ASSERT_EQ(c6.size(), 1u);
    ASSERT_EQ(a6.size(), 1u);
    EXPECT_EQ(c6[0], R"({"stream":"btcusdt@aggTrade","data":)" + a6[0] + "}");

    // A new exchange has its own schedule, but the same ids for the same event number.
    EXPECT_EQ(BinanceExchange::event_id_base("btcusdt@aggTrade"), BinanceExchange::event_id_base("btcusdt@aggTrade"));
    EXPECT_NE(BinanceExchange::event_id_base("btcusdt@aggTrade"), BinanceExchange::event_id_base("ethusdt@aggTrade"));
}

// A session that fell far behind (timers paused) catches up in bounded ticks without losing an event.
TEST(MockBinance, CatchUpIsBoundedPerTickAndLosesNothing) {
    BinanceOptions o = quiet();
    o.event_interval = 1ms;
    Harness h(o, "/ws/btcusdt@trade");
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 10 && ids.size() < 1000; ++i) {
        auto out = h.tick(1000ms);
        EXPECT_LE(out.messages.size(), 256u);
        for (auto& m : out.messages) ids.push_back(static_cast<std::int64_t>(*json::number_member(m.text, "t")));
    }
    ASSERT_EQ(ids.size(), 1000u);
    for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_EQ(ids[i], ids[i - 1] + 1);
    EXPECT_EQ(h.s->next_deadline(), h.t0 + 1001ms);
}

TEST(MockBinance, LifetimeNoticeThenCut) {
    BinanceOptions o = quiet();
    o.lifetime = 1000ms;
    o.shutdown_notice = 200ms;
    Harness h(o);
    EXPECT_EQ(h.s->next_deadline(), h.t0 + 800ms);
    EXPECT_TRUE(h.tick(500ms).messages.empty());
    auto notice = h.tick(800ms);
    ASSERT_EQ(notice.messages.size(), 1u);
    EXPECT_TRUE(scan_json(notice.messages[0].text).server_shutdown);
    EXPECT_EQ(notice.messages[0].text.rfind(R"({"event":{"e":"serverShutdown","E":)", 0), 0u);
    EXPECT_FALSE(notice.close);
    EXPECT_EQ(h.s->next_deadline(), h.t0 + 1000ms);
    auto cut = h.tick(1000ms);
    EXPECT_TRUE(cut.close);
    EXPECT_EQ(cut.end, EndReason::lifetime);
    EXPECT_EQ(cut.close_code, 1001);
}

}  // namespace
}  // namespace zenws::mock
