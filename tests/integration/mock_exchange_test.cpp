// mock_exchange_test.cpp — owns the integration tests of the mock exchange (zenws/mock_exchange.hpp) driven by the
// real zenws::Client: Deribit auth then private subscribe with notifications, test_request answered by the client's
// deribit heartbeat vs. an unanswering client that gets closed, Binance combined streams with server pings answered,
// live SUBSCRIBE / LIST_SUBSCRIPTIONS, control-port faults (drop, status, handshake 503, handshake no_101 never
// answering), wss with the in-process self-signed certificate.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "zenws/client.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/mock/exchange.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using mock::MockExchange;
using mock::MockExchangeOptions;
using mock::MockStatus;

// Collects messages and closes seen by a client's handlers (they run on the I/O thread).
struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> messages;
    std::optional<CloseInfo> close;

    Handlers handlers() {
        Handlers h;
        h.on_message = [this](MessageView m) {
            std::lock_guard lk(mu);
            messages.emplace_back(m.data);
            cv.notify_all();
        };
        h.on_close = [this](const CloseInfo& c) {
            std::lock_guard lk(mu);
            if (!close) close = c;
            cv.notify_all();
        };
        return h;
    }
    // Waits for a message satisfying `pred`; returns it.
    template <class P>
    std::optional<std::string> wait_for(P pred, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lk(mu);
        std::optional<std::string> found;
        cv.wait_for(lk, timeout, [&] {
            for (auto& m : messages)
                if (pred(m)) {
                    found = m;
                    return true;
                }
            return false;
        });
        return found;
    }
    bool wait_close(std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return close.has_value(); });
    }
    std::vector<std::string> snapshot() {
        std::lock_guard lk(mu);
        return messages;
    }
};

Config test_config(std::string url) {
    Config cfg;
    cfg.url = std::move(url);
    cfg.retry_count = 0;
    cfg.reconnect_on_error = false;
    cfg.timeout = 5s;
    cfg.request_timeout = 5s;
    return cfg;
}

// One command on the control port; returns the answer line (without newline), empty on failure.
std::string control_line(std::uint16_t port, const std::string& line) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return {};
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        std::string l = line + "\n";
        if (::write(fd, l.data(), l.size()) == static_cast<ssize_t>(l.size())) {
            char c;
            while (::read(fd, &c, 1) == 1 && c != '\n') out += c;
        }
    }
    ::close(fd);
    return out;
}

MockExchangeOptions deribit_options() {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::deribit;
    o.control_port = 0;
    o.deribit.min_heartbeat_interval_ms = 100;
    o.deribit.notification_interval = 50ms;
    return o;
}

TEST(MockExchange, DeribitAuthThenPrivateSubscribe) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());
    Inbox inbox;
    auto client = Client::connect(test_config(server.url()), inbox.handlers());
    ASSERT_TRUE(client.ok()) << client.error().explain();

    // Private before auth: authorization_required.
    auto denied = client->call_blocking("private/subscribe", R"({"channels":["user.orders.BTC-PERPETUAL.raw"]})");
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.error().code, Errc::rpc_error);
    EXPECT_EQ(denied.error().rpc_code, 10000);

    auto bad = client->call_blocking("public/auth",
                                     R"({"grant_type":"client_credentials","client_id":"test_client","client_secret":"x"})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().rpc_code, 13004);

    auto auth = client->call_blocking(
        "public/auth", R"({"grant_type":"client_credentials","client_id":"test_client","client_secret":"test_secret"})");
    ASSERT_TRUE(auth.ok()) << auth.error().explain();
    auto env = scan_json(*auth);
    ASSERT_TRUE(env.has_result);
    EXPECT_TRUE(mock::json::string_member(env.result_raw, "access_token").has_value());

    auto sub = client->call_blocking(
        "private/subscribe", R"({"channels":["user.orders.BTC-PERPETUAL.raw","ticker.BTC-PERPETUAL.100ms"]})");
    ASSERT_TRUE(sub.ok()) << sub.error().explain();
    std::vector<std::string> channels;
    ASSERT_TRUE(parse_json_string_array(scan_json(*sub).result_raw, channels));
    EXPECT_EQ(channels.size(), 2u);

    auto note = inbox.wait_for([](const std::string& m) {
        auto e = scan_json(m);
        return e.channel == "ticker.BTC-PERPETUAL.100ms" && m.find("\"change_id\"") != std::string::npos;
    });
    ASSERT_TRUE(note.has_value());

    // Status (C++ API and control port) shows the authenticated connection with both subscriptions.
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            return s.connections.size() == 1 && s.connections[0].session.authenticated &&
                   s.connections[0].session.subscriptions.size() == 2;
        },
        2s));
    std::string st = control_line(server.control_port(), "status");
    ASSERT_EQ(st.rfind("OK {", 0), 0u) << st;
    EXPECT_NE(st.find("\"ticker.BTC-PERPETUAL.100ms\""), std::string::npos);
    EXPECT_NE(st.find("\"authenticated\":true"), std::string::npos);

    // A buy shows up as an open order and on the user.orders channel.
    auto buy = client->call_blocking("private/buy",
                                     R"({"instrument_name":"BTC-PERPETUAL","amount":10,"type":"limit","price":50000})");
    ASSERT_TRUE(buy.ok()) << buy.error().explain();
    EXPECT_TRUE(inbox.wait_for([](const std::string& m) { return scan_json(m).channel == "user.orders.BTC-PERPETUAL.raw"; })
                    .has_value());
    auto* deribit = dynamic_cast<mock::DeribitExchange*>(&server.dialect());
    ASSERT_NE(deribit, nullptr);
    EXPECT_EQ(deribit->open_orders("test_client").size(), 1u);
    client->close_and_wait(2s);
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return s.ended.size() == 1; }, 2s));
    EXPECT_EQ(server.status().ended[0].reason, mock::EndReason::client_close);
    EXPECT_EQ(server.status().ended[0].close_code, 1000);
}

TEST(MockExchange, DeribitHeartbeatKeepsAnsweringClientAliveAndClosesSilentOne) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());

    Inbox good_inbox, raw_inbox;
    Config good_cfg = test_config(server.url());
    good_cfg.heartbeat.type = HeartbeatType::deribit;  // answers test_request with public/test
    auto good = Client::connect(good_cfg, good_inbox.handlers());
    ASSERT_TRUE(good.ok()) << good.error().explain();
    auto raw = Client::connect(test_config(server.url()), raw_inbox.handlers());
    ASSERT_TRUE(raw.ok()) << raw.error().explain();

    ASSERT_TRUE(good->call_blocking("public/set_heartbeat", R"({"interval":0.15})").ok());
    ASSERT_TRUE(raw->call_blocking("public/set_heartbeat", R"({"interval":0.15})").ok());
    auto too_small = raw->call_blocking("public/set_heartbeat", R"({"interval":0.05})");
    EXPECT_FALSE(too_small.ok());

    // The silent client gets test_request, does not answer, and is closed.
    EXPECT_TRUE(raw_inbox.wait_for([](const std::string& m) {
                             return scan_json(m).heartbeat == HeartbeatKind::test_request;
                         }).has_value());
    ASSERT_TRUE(raw_inbox.wait_close(3s));
    ASSERT_TRUE(server.wait_until(
        [](const MockStatus& s) {
            for (auto& e : s.ended)
                if (e.reason == mock::EndReason::heartbeat_timeout) return true;
            return false;
        },
        2s));

    // The answering client (its test_requests are consumed by the client, not delivered) is still connected well
    // after several intervals, having sent public/test answers.
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(good->state(), State::connected);
    auto s = server.status();
    ASSERT_EQ(s.connections.size(), 1u);
    EXPECT_EQ(s.connections[0].session.heartbeat_interval_ms, 150);
    EXPECT_GE(s.connections[0].session.requests, 3u);  // set_heartbeat + public/test answers
    EXPECT_EQ(s.ended.size(), 1u);
    good->close_and_wait(2s);
}

TEST(MockExchange, BinanceCombinedStreamsWithServerPings) {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::binance;
    o.binance.ping_interval = 300ms;  // 3+ pongs/s stay under the 5 messages/s limit
    o.binance.pong_timeout = 1000ms;
    o.binance.event_interval = 50ms;
    MockExchange server(o);
    ASSERT_TRUE(server.start().ok());

    Inbox inbox;
    auto client = Client::connect(test_config(server.url("/stream?streams=btcusdt@aggTrade/ethusdt@trade")),
                                  inbox.handlers());
    ASSERT_TRUE(client.ok()) << client.error().explain();

    // Live subscribe and list (ids echoed).
    ASSERT_TRUE(client->send_text(R"({"method":"SUBSCRIBE","params":["solusdt@bookTicker"],"id":7})").ok());
    EXPECT_TRUE(inbox.wait_for([](const std::string& m) { return m == R"({"result":null,"id":7})"; }).has_value());
    ASSERT_TRUE(client->send_text(R"({"method":"LIST_SUBSCRIPTIONS","id":8})").ok());
    EXPECT_TRUE(inbox.wait_for([](const std::string& m) {
                         return m == R"({"result":["btcusdt@aggTrade","ethusdt@trade","solusdt@bookTicker"],"id":8})";
                     }).has_value());

    std::this_thread::sleep_for(1500ms);  // several server pings, answered by the client automatically
    EXPECT_EQ(client->state(), State::connected);
    auto st = server.status();
    ASSERT_EQ(st.connections.size(), 1u);
    EXPECT_TRUE(st.connections[0].session.combined);
    EXPECT_TRUE(st.ended.empty());

    // Combined events parse as notifications; aggTrade ids increase by one.
    std::vector<double> ids;
    for (auto& m : inbox.snapshot()) {
        auto e = scan_json(m);
        if (e.channel != "btcusdt@aggTrade") continue;
        EXPECT_EQ(mock::json::string_member(e.data_raw, "e"), std::optional<std::string>("aggTrade"));
        EXPECT_TRUE(mock::json::number_member(e.data_raw, "E").has_value());
        ids.push_back(mock::json::number_member(e.data_raw, "a").value_or(-1));
    }
    ASSERT_GE(ids.size(), 5u);
    for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[i - 1] + 1);
    EXPECT_TRUE(inbox.wait_for([](const std::string& m) { return scan_json(m).channel == "solusdt@bookTicker"; })
                    .has_value());
    client->close_and_wait(2s);
}

TEST(MockExchange, BinanceLifetimeSendsServerShutdownThenCloses) {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::binance;
    o.binance.lifetime = 600ms;
    o.binance.shutdown_notice = 300ms;
    MockExchange server(o);
    ASSERT_TRUE(server.start().ok());
    Inbox inbox;
    auto client = Client::connect(test_config(server.url("/ws/btcusdt@trade")), inbox.handlers());
    ASSERT_TRUE(client.ok()) << client.error().explain();
    EXPECT_TRUE(inbox.wait_for([](const std::string& m) { return scan_json(m).server_shutdown; }, 3s).has_value());
    ASSERT_TRUE(inbox.wait_close(3s));
    EXPECT_EQ(inbox.close->code, 1001);
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return s.ended.size() == 1; }, 2s));
    EXPECT_EQ(server.status().ended[0].reason, mock::EndReason::lifetime);
}

TEST(MockExchange, ControlPortDropIsSeenByClient) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());
    ASSERT_NE(server.control_port(), 0);
    Inbox inbox;
    auto client = Client::connect(test_config(server.url()), inbox.handlers());
    ASSERT_TRUE(client.ok()) << client.error().explain();
    ASSERT_TRUE(client->call_blocking("public/subscribe", R"({"channels":["book.BTC-PERPETUAL.100ms"]})").ok());

    EXPECT_EQ(control_line(server.control_port(), "drop"), "OK drop 1");
    ASSERT_TRUE(inbox.wait_close(3s));
    EXPECT_EQ(inbox.close->code, close_code::abnormal);  // no close frame
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return s.ended.size() == 1; }, 2s));
    auto st = server.status();
    EXPECT_EQ(st.ended[0].reason, mock::EndReason::dropped_by_server);
    ASSERT_EQ(st.ended[0].session.subscriptions.size(), 1u);
    EXPECT_EQ(st.ended[0].session.subscriptions[0], "book.BTC-PERPETUAL.100ms");
    EXPECT_EQ(control_line(server.control_port(), "bogus").rfind("ERR", 0), 0u);

    // Handshake faults through the control port: the next connect sees the HTTP status.
    EXPECT_EQ(control_line(server.control_port(), "handshake 503"), "OK handshake 503");
    auto refused = Client::connect(test_config(server.url()));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::http_status);
    EXPECT_EQ(refused.error().http_status, 503);
    EXPECT_EQ(control_line(server.control_port(), "handshake off"), "OK handshake off");
    auto again = Client::connect(test_config(server.url()));
    ASSERT_TRUE(again.ok()) << again.error().explain();
    again->close_and_wait(2s);
}

// no_101: the upgrade request is read and never answered; the socket stays open until the client gives up (its
// connect timeout), so the client sees connect_timeout, not an HTTP status or an EOF. Raw socket: nothing comes back.
TEST(MockExchange, HandshakeNo101NeverAnswers) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());
    EXPECT_EQ(control_line(server.control_port(), "handshake no_101"), "OK handshake no_101");

    Config cfg = test_config(server.url());
    cfg.timeout = 400ms;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = Client::connect(cfg);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::connect_timeout) << r.error().explain();
    EXPECT_EQ(r.error().http_status, 0);
    EXPECT_GE(took, 350ms);
    EXPECT_EQ(server.status().handshakes_rejected, 1u);

    // Past the mock's own 5 s handshake deadline for ordinary connections, the held socket still has no answer.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string request = "GET /ws/api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    timeval tv{5, 600'000};  // bounded wait
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(n, -1) << "the server answered or closed: "
                     << (n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("EOF"));
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
    ::close(fd);

    EXPECT_EQ(control_line(server.control_port(), "handshake off"), "OK handshake off");
    auto ok = Client::connect(test_config(server.url()));
    ASSERT_TRUE(ok.ok()) << ok.error().explain();
    ok->close_and_wait(2s);
}

TEST(MockExchange, ServerCloseCodeAndDelayedReply) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());
    Inbox inbox;
    auto client = Client::connect(test_config(server.url()), inbox.handlers());
    ASSERT_TRUE(client.ok()) << client.error().explain();
    server.set_delay("public/test", 300ms);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(client->call_blocking("public/test").ok());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
    EXPECT_EQ(server.close(4001, "maintenance"), 1u);
    ASSERT_TRUE(inbox.wait_close(3s));
    EXPECT_EQ(inbox.close->code, 4001);
    EXPECT_EQ(inbox.close->reason, "maintenance");
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return s.ended.size() == 1; }, 2s));
    EXPECT_EQ(server.status().ended[0].reason, mock::EndReason::server_close);
}

TEST(MockExchange, SliceReorderRefuseFaults) {
    MockExchange server(deribit_options());
    ASSERT_TRUE(server.start().ok());
    auto client = Client::connect(test_config(server.url()));
    ASSERT_TRUE(client.ok()) << client.error().explain();
    server.set_slice(true);  // 1-byte writes
    auto r = client->call_blocking("public/ticker", R"({"instrument_name":"BTC-PERPETUAL"})");
    ASSERT_TRUE(r.ok()) << r.error().explain();
    server.set_slice(false);

    server.set_reorder(true);  // both replies still reach their requests
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    for (int i = 0; i < 2; ++i)
        client->call("public/test", "{}", [&](Result<std::string> res) {
            std::lock_guard lk(mu);
            done += res.ok() ? 1 : 100;
            cv.notify_all();
        });
    {
        std::unique_lock lk(mu);
        EXPECT_TRUE(cv.wait_for(lk, 3s, [&] { return done >= 2; }));
        EXPECT_EQ(done, 2);
    }
    server.set_reorder(false);

    EXPECT_EQ(server.reset(), 1u);
    server.refuse_for(400ms);
    auto refused = Client::connect(test_config(server.url()));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::connection_refused);
    std::this_thread::sleep_for(700ms);
    auto back = Client::connect(test_config(server.url()));
    ASSERT_TRUE(back.ok()) << back.error().explain();
    back->close_and_wait(2s);
    ASSERT_TRUE(server.wait_until([](const MockStatus& s) { return s.ended.size() == 2; }, 2s));
    EXPECT_EQ(server.status().ended[0].reason, mock::EndReason::reset_by_server);
}

TEST(MockExchange, WssWithSelfSignedCertificate) {
    MockExchangeOptions o = deribit_options();
    o.tls = true;
    MockExchange server(o);
    auto st = server.start();
    ASSERT_TRUE(st.ok()) << st.error().explain();
    ASSERT_FALSE(server.cert_file().empty());
    EXPECT_EQ(server.url().rfind("wss://127.0.0.1:", 0), 0u);
    Config cfg = test_config(server.url());
    cfg.tls.ca_file = server.cert_file();
    auto client = Client::connect(cfg);
    ASSERT_TRUE(client.ok()) << client.error().explain();
    auto r = client->call_blocking("public/test");
    ASSERT_TRUE(r.ok()) << r.error().explain();
    EXPECT_NE(r->find("\"version\""), std::string::npos);
    client->close_and_wait(2s);
}

}  // namespace
}  // namespace zenws::test
