// handshake_test.cpp — specification of the client opening handshake (RFC 6455 section 4): key/accept values,
// the exact request text, incremental parsing of the response head, and each way validation accepts or fails.
#include "zenws/handshake.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace zenws {
namespace {

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

Url url_of(std::string_view text) {
    auto r = parse_url(text);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : Url{};
}

// ---- key and accept -----------------------------------------------------------------------------------------

TEST(Handshake, ComputeAcceptMatchesKnownVectors) {
    EXPECT_EQ(compute_accept(rfc_key), rfc_accept);                                     // RFC 6455 section 1.3
    EXPECT_EQ(compute_accept("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    EXPECT_EQ(compute_accept("AQIDBAUGBwgJCgsMDQ4PEA=="), "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=");
    EXPECT_NE(compute_accept("dGhlIHNhbXBsZSBub25jZQ=="), compute_accept("dGhlIHNhbXBsZSBub25jZA=="));
}

TEST(Handshake, KeyIsBase64Of16FreshRandomBytes) {
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::set<std::string> seen;
    for (int i = 0; i < 64; ++i) {
        const std::string key = make_websocket_key();
        ASSERT_EQ(key.size(), 24u) << key;  // 16 bytes -> 22 base64 digits + "=="
        EXPECT_EQ(key.substr(22), "==");
        for (char c : key.substr(0, 22)) EXPECT_NE(alphabet.find(c), std::string::npos) << key;
        // The last digit before "==" carries only 2 bits of data, so its low 4 bits are zero: A, Q, g or w.
        EXPECT_NE(std::string("AQgw").find(key[21]), std::string::npos) << key;
        seen.insert(key);
    }
    EXPECT_EQ(seen.size(), 64u) << "keys repeat";
}

// ---- request text -------------------------------------------------------------------------------------------

struct RequestCase {
    std::string_view name;
    HandshakeRequest request;
    std::string_view expected;
};

std::vector<RequestCase> request_cases() {
    std::vector<RequestCase> cases;
    {
        HandshakeRequest r;
        r.url = url_of("ws://example.com/chat");
        cases.push_back({"minimal", r,
                         "GET /chat HTTP/1.1\r\n"
                         "Host: example.com\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "User-Agent: zenws/0.1\r\n"
                         "\r\n"});
    }
    {
        HandshakeRequest r;
        r.url = url_of("wss://stream.ex.io:9443/ws/v1?streams=btcusdt@trade/ethusdt@depth&x=%2F#frag");
        r.user_agent = "bot/2";
        cases.push_back({"path, query, non-default port", r,
                         "GET /ws/v1?streams=btcusdt@trade/ethusdt@depth&x=%2F HTTP/1.1\r\n"
                         "Host: stream.ex.io:9443\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "User-Agent: bot/2\r\n"
                         "\r\n"});
    }
    {
        HandshakeRequest r;
        r.url = url_of("wss://h:443?q=1");
        r.origin = "https://app.example";
        r.subprotocols = {"v2.json", "v1.json"};
        r.headers = {{"Authorization", "Bearer abc.def"}, {"X-Empty", ""}, {"X-Api-Key", "k"}};
        cases.push_back({"origin, subprotocols, custom headers, explicit default port", r,
                         "GET /?q=1 HTTP/1.1\r\n"
                         "Host: h\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Origin: https://app.example\r\n"
                         "Sec-WebSocket-Protocol: v2.json, v1.json\r\n"
                         "User-Agent: zenws/0.1\r\n"
                         "Authorization: Bearer abc.def\r\n"
                         "X-Empty: \r\n"
                         "X-Api-Key: k\r\n"
                         "\r\n"});
    }
    {
        HandshakeRequest r;
        r.url = url_of("ws://[::1]:9000/");
        r.user_agent.clear();
        r.origin = "http://evil\r\nX-Injected: 1";
        r.subprotocols = {"ok", "bad\r\nX: 1", "has space"};
        r.headers = {{"X-Good", "1"},
                     {"X-Smuggle", "a\r\nX-Injected: 1"},
                     {"X-Lf", "a\nb"},
                     {"X-Cr", "a\rb"},
                     {"X-Bad\r\nName", "v"},
                     {"Bad Name", "v"},
                     {"", "v"},
                     {"X-Good-2", "2"}};
        cases.push_back({"CR/LF never reach the wire, IPv6 Host", r,
                         "GET / HTTP/1.1\r\n"
                         "Host: [::1]:9000\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Protocol: ok\r\n"
                         "X-Good: 1\r\n"
                         "X-Good-2: 2\r\n"
                         "\r\n"});
    }
    return cases;
}

TEST(Handshake, RequestTextIsExact) {
    for (const auto& c : request_cases()) {
        SCOPED_TRACE(std::string(c.name));
        EXPECT_EQ(build_handshake_request(c.request, rfc_key), c.expected);
    }
}

// ---- response parsing ---------------------------------------------------------------------------------------

const std::string ok_head =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

TEST(ResponseParse, IncompleteUntilTheEmptyLineAtEverySplitPoint) {
    for (std::size_t n = 0; n < ok_head.size(); ++n) {
        SCOPED_TRACE("prefix length " + std::to_string(n));
        auto p = parse_handshake_response(std::string_view(ok_head).substr(0, n));
        ASSERT_EQ(p.state, ResponseParse::State::incomplete) << p.error.message;
    }
    auto p = parse_handshake_response(ok_head);
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    EXPECT_EQ(p.head_size, ok_head.size());
    EXPECT_EQ(p.response.status, 101);
    EXPECT_EQ(p.response.reason, "Switching Protocols");
    const Headers expected = {{"Upgrade", "websocket"},
                              {"Connection", "Upgrade"},
                              {"Sec-WebSocket-Accept", std::string(rfc_accept)}};
    EXPECT_EQ(p.response.headers, expected);
    EXPECT_TRUE(p.response.body_prefix.empty());
    EXPECT_TRUE(validate_handshake_response(p.response, rfc_key, {}).ok());
}

TEST(ResponseParse, FramesRightBehindThe101AreLeftUntouched) {
    // A server may push its first frames in the same segment as the 101 (exchanges do: snapshot right away).
    const std::string frames = std::string("\x81\x05hello\x82\x02", 10) + std::string("\0\r", 2) + "\r\n\r\n";
    const std::string bytes = ok_head + frames;
    auto p = parse_handshake_response(bytes);
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    ASSERT_EQ(p.head_size, ok_head.size());
    EXPECT_EQ(bytes.substr(p.head_size), frames);
    EXPECT_TRUE(p.response.body_prefix.empty()) << "a 101 has no body; the bytes are frames";
}

TEST(ResponseParse, HeadLargerThanTheLimitIsAnError) {
    const std::string huge = "HTTP/1.1 101 Switching Protocols\r\nX-Filler: " + std::string(5000, 'a');
    auto p = parse_handshake_response(huge, 4096);
    ASSERT_EQ(p.state, ResponseParse::State::error);
    EXPECT_EQ(p.error.code, Errc::response_too_large);
    EXPECT_NE(p.error.message.find("4096"), std::string::npos) << p.error.message;

    // Terminator present but beyond the limit.
    auto late = parse_handshake_response(huge + "\r\n\r\n", 4096);
    ASSERT_EQ(late.state, ResponseParse::State::error);
    EXPECT_EQ(late.error.code, Errc::response_too_large);

    // Exactly at the limit is fine; one byte less is too large; still waiting below the limit.
    EXPECT_EQ(parse_handshake_response(ok_head, ok_head.size()).state, ResponseParse::State::complete);
    EXPECT_EQ(parse_handshake_response(ok_head, ok_head.size() - 1).state, ResponseParse::State::error);
    EXPECT_EQ(parse_handshake_response(std::string_view(ok_head).substr(0, 60), 61).state,
              ResponseParse::State::incomplete);
    EXPECT_EQ(parse_handshake_response(std::string_view(ok_head).substr(0, 60), 60).state,
              ResponseParse::State::error);
}

TEST(ResponseParse, MalformedHeadsAreRejected) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        // head                                                             what the error says
        {"SSH-2.0-OpenSSH_9.0\r\n\r\n", "HTTP/"},
        {"\r\n\r\n", "HTTP/"},
        {"HTTP/2 101 Switching Protocols\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 1O1 Switching Protocols\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 10 Switching\r\n\r\n", "malformed status line"},
        {"HTTP/1.1  101 Switching Protocols\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 1011 Switching Protocols\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 099 Odd\r\n\r\n", "malformed status line"},
        {"HTTP/1.1 600 Odd\r\n\r\n", "malformed status line"},
        {"HTTP/1.1101 Switching Protocols\r\n\r\n", "malformed status line"},
        {"HTTP/1.0 101 Switching Protocols\r\n\r\n", "HTTP/1.0"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n  continued\r\n\r\n", "folding"},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\tcontinued\r\n\r\n", "folding"},
        {"HTTP/1.1 101 OK\r\n Upgrade: websocket\r\n\r\n", "folding"},
        {"HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n", "without ':'"},
        {"HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n", "invalid header name"},
        {"HTTP/1.1 101 OK\r\n: websocket\r\n\r\n", "invalid header name"},
        {"HTTP/1.1 101 OK\r\nUpgrade: web\nsocket\r\n\r\n", "stray"},
        {"HTTP/1.1 101 OK\r\nUpgrade: web\rsocket\r\n\r\n", "stray"},
    };
    for (const auto& [head, says] : cases) {
        SCOPED_TRACE(std::string(head));
        auto p = parse_handshake_response(head);
        ASSERT_EQ(p.state, ResponseParse::State::error);
        EXPECT_EQ(p.error.code, Errc::malformed_response);
        EXPECT_EQ(p.error.category(), ErrorCategory::handshake);
        EXPECT_NE(p.error.message.find(says), std::string::npos) << p.error.message;
    }
}

TEST(ResponseParse, GarbageIsRejectedBeforeTheTerminatorArrives) {
    // A peer that is not speaking HTTP must not leave us waiting for an empty line that never comes.
    EXPECT_EQ(parse_handshake_response("SSH-").state, ResponseParse::State::error);
    EXPECT_EQ(parse_handshake_response("\x15\x03\x03").state, ResponseParse::State::error);  // a TLS alert
    EXPECT_EQ(parse_handshake_response("HTTP/9.9 101 X\r\n").state, ResponseParse::State::error);
    EXPECT_EQ(parse_handshake_response("HTT").state, ResponseParse::State::incomplete);
    EXPECT_EQ(parse_handshake_response("HTTP/1.1 101 Switching Protocols\r\nUpg").state,
              ResponseParse::State::incomplete);
}

TEST(ResponseParse, StatusLineAndHeaderDetails) {
    auto p = parse_handshake_response(
        "HTTP/1.0 503 Service Unavailable\r\n"
        "Retry-After:   7 \t\r\n"
        "Content-Type:text/plain\r\n"
        "X-Empty:\r\n"
        "X-Inner: a  b\r\n"
        "Set-Cookie: a=1\r\n"
        "Set-Cookie: b=2\r\n"
        "\r\n"
        "overloaded, come back later");
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    EXPECT_EQ(p.response.status, 503);
    EXPECT_EQ(p.response.reason, "Service Unavailable");
    const Headers expected = {{"Retry-After", "7"}, {"Content-Type", "text/plain"}, {"X-Empty", ""},
                              {"X-Inner", "a  b"}, {"Set-Cookie", "a=1"},       {"Set-Cookie", "b=2"}};
    EXPECT_EQ(p.response.headers, expected);
    EXPECT_EQ(p.response.body_prefix, "overloaded, come back later");
    EXPECT_EQ(p.response.header("set-cookie"), "a=1");  // the first of several
    EXPECT_EQ(p.response.header("CONTENT-TYPE"), "text/plain");
    EXPECT_EQ(p.response.header("x-empty"), "");
    EXPECT_FALSE(p.response.header("Content").has_value());
    EXPECT_FALSE(p.response.header("Content-Type-X").has_value());

    auto no_reason = parse_handshake_response("HTTP/1.1 404\r\n\r\n");
    ASSERT_EQ(no_reason.state, ResponseParse::State::complete) << no_reason.error.message;
    EXPECT_EQ(no_reason.response.status, 404);
    EXPECT_EQ(no_reason.response.reason, "");
    auto empty_reason = parse_handshake_response("HTTP/1.1 404 \r\n\r\n");
    ASSERT_EQ(empty_reason.state, ResponseParse::State::complete) << empty_reason.error.message;
    EXPECT_EQ(empty_reason.response.reason, "");
}

TEST(ResponseParse, BodyPrefixIsCappedAt256Bytes) {
    const std::string body(1000, 'x');
    auto p = parse_handshake_response("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000\r\n\r\n" + body);
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    EXPECT_EQ(p.response.body_prefix, std::string(256, 'x'));
}

// ---- validation ---------------------------------------------------------------------------------------------

struct ValidationCase {
    std::string_view name;
    std::string head;                    // the response head (without the final empty line) + body if any
    std::vector<std::string> offered;    // subprotocols we offered
    Errc code;                           // Errc::ok: accepted
    std::string_view message_contains;   // for errors; for success: the chosen subprotocol
};

std::string with_accept(std::string_view extra_lines = {}) {
    return "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
           std::string(extra_lines);
}

std::vector<ValidationCase> validation_cases() {
    return {
        {"plain success", with_accept(), {}, Errc::ok, ""},
        {"case-insensitive names and values",
         "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n"
         "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::ok, ""},
        {"offered subprotocol chosen", with_accept("Sec-WebSocket-Protocol: v1.json\r\n"), {"v2.json", "v1.json"},
         Errc::ok, "v1.json"},
        {"offered subprotocols, server chose none", with_accept(), {"v1"}, Errc::ok, ""},
        {"empty extensions header means none", with_accept("Sec-WebSocket-Extensions:\r\n"), {}, Errc::ok, ""},
        {"unoffered subprotocol", with_accept("Sec-WebSocket-Protocol: v3\r\n"), {"v1", "v2"},
         Errc::unexpected_subprotocol, "'v3'"},
        {"subprotocol when none offered", with_accept("Sec-WebSocket-Protocol: chat\r\n"), {},
         Errc::unexpected_subprotocol, "none were"},
        {"subprotocol list instead of a choice", with_accept("Sec-WebSocket-Protocol: v1, v2\r\n"), {"v1", "v2"},
         Errc::unexpected_subprotocol, "v1, v2"},
        {"subprotocol names are case-sensitive", with_accept("Sec-WebSocket-Protocol: V1\r\n"), {"v1"},
         Errc::unexpected_subprotocol, "V1"},
        {"extension we never offered", with_accept("Sec-WebSocket-Extensions: permessage-deflate\r\n"), {},
         Errc::unexpected_extension, "permessage-deflate"},
        {"extension header in odd case", with_accept("sec-websocket-extensions: x-webkit-deflate-frame\r\n"), {},
         Errc::unexpected_extension, "x-webkit-deflate-frame"},
        {"bad accept",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n",
         {}, Errc::bad_accept, "expected s3pPLMBiTxaQ9kYGzzhZRbK+xOo=, got 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='"},
        {"accept compared exactly (case matters in base64)",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n",
         {}, Errc::bad_accept, "mismatch"},
        {"missing accept", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", {},
         Errc::bad_accept, "without Sec-WebSocket-Accept"},
        {"missing upgrade",
         "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::missing_upgrade, "Upgrade: websocket"},
        {"wrong upgrade",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::missing_upgrade, "h2c"},
        {"upgrade token must match whole",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websockets\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::missing_upgrade, "websockets"},
        {"missing connection",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::missing_connection, "Connection: upgrade"},
        {"connection without the upgrade token",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, upgraded\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::missing_connection, "keep-alive, upgraded"},
        {"connection token in a second header line",
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
         {}, Errc::ok, ""},
        {"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n", {}, Errc::http_status,
         "server answered 404 Not Found instead of 101"},
        {"200 from a plain web server", "HTTP/1.1 200 OK\r\n", {}, Errc::http_status,
         "server answered 200 OK instead of 101"},
    };
}

TEST(ValidateResponse, EachRuleAcceptsOrFailsWithItsCode) {
    for (const auto& c : validation_cases()) {
        SCOPED_TRACE(std::string(c.name));
        auto p = parse_handshake_response(c.head + "\r\n");
        ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
        auto r = validate_handshake_response(p.response, rfc_key, c.offered);
        if (c.code == Errc::ok) {
            ASSERT_TRUE(r.ok()) << r.error().message;
            EXPECT_EQ(r->subprotocol, c.message_contains);
        } else {
            ASSERT_FALSE(r.ok()) << "accepted; subprotocol '" << r->subprotocol << "'";
            EXPECT_EQ(r.error().code, c.code) << r.error().message;
            EXPECT_EQ(r.error().category(), ErrorCategory::handshake);
            EXPECT_NE(r.error().message.find(c.message_contains), std::string::npos) << r.error().message;
        }
    }
}

TEST(ValidateResponse, ServiceUnavailableCarriesStatusReasonBodyAndRetryAfter) {
    auto p = parse_handshake_response(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Type: text/plain\r\n\r\n"
        "maintenance until 12:00 UTC");
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    auto r = validate_handshake_response(p.response, rfc_key, {});
    ASSERT_FALSE(r.ok());
    const Error& e = r.error();
    EXPECT_EQ(e.code, Errc::http_status);
    EXPECT_EQ(e.message, "server answered 503 Service Unavailable instead of 101");
    EXPECT_EQ(e.http_status, 503);
    EXPECT_EQ(e.http_reason, "Service Unavailable");
    EXPECT_EQ(e.body_prefix, "maintenance until 12:00 UTC");
    ASSERT_TRUE(e.retry_after.has_value());
    EXPECT_EQ(*e.retry_after, 30);
    EXPECT_TRUE(e.retryable());
}

TEST(ValidateResponse, TooManyRequestsAndRetryAfterForms) {
    const std::pair<std::string_view, std::optional<int>> cases[] = {
        {"retry-after: 5", 5},
        {"Retry-After: 0", 0},
        // HTTP-date form, against the server's Date header: 30 s.
        {"Date: Wed, 21 Oct 2026 07:27:30 GMT\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT", 30},
        {"Retry-After: -3", std::nullopt},
        {"Retry-After: 1.5", std::nullopt},
        // Absurd: the largest floor, without overflowing (the client caps it at Config::max_retry_after).
        {"Retry-After: 99999999999999", std::numeric_limits<int>::max()},
        {"Retry-After:", std::nullopt},
        {"X-Other: 1", std::nullopt},
    };
    for (const auto& [line, expected] : cases) {
        SCOPED_TRACE(std::string(line));
        auto p = parse_handshake_response("HTTP/1.1 429 Too Many Requests\r\n" + std::string(line) + "\r\n\r\n{}");
        ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
        auto r = validate_handshake_response(p.response, rfc_key, {});
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::http_status);
        EXPECT_EQ(r.error().http_status, 429);
        EXPECT_EQ(r.error().http_reason, "Too Many Requests");
        EXPECT_EQ(r.error().body_prefix, "{}");
        EXPECT_EQ(r.error().retry_after, expected);
        EXPECT_TRUE(r.error().retryable());
    }
}

TEST(ValidateResponse, AcceptIsCheckedAgainstOurKeyNotAnyKey) {
    // A correct accept for a different key (e.g. a cached response) must not pass.
    const std::string other_key = make_websocket_key();
    auto p = parse_handshake_response(with_accept() + "\r\n");
    ASSERT_EQ(p.state, ResponseParse::State::complete);
    auto r = validate_handshake_response(p.response, other_key, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::bad_accept);
    EXPECT_NE(r.error().message.find(compute_accept(other_key)), std::string::npos) << r.error().message;
}

TEST(Handshake, RequestAndResponseRoundTrip) {
    HandshakeRequest req;
    req.url = url_of("wss://h/ws");
    req.subprotocols = {"graphql-ws"};
    const std::string key = make_websocket_key();
    const std::string text = build_handshake_request(req, key);
    EXPECT_NE(text.find("Sec-WebSocket-Key: " + key + "\r\n"), std::string::npos);
    const std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: " + compute_accept(key) +
                               "\r\nSec-WebSocket-Protocol: graphql-ws\r\n\r\n";
    auto p = parse_handshake_response(answer);
    ASSERT_EQ(p.state, ResponseParse::State::complete) << p.error.message;
    auto r = validate_handshake_response(p.response, key, req.subprotocols);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->subprotocol, "graphql-ws");
}

}  // namespace
}  // namespace zenws

// ---- Retry-After (RFC 9110 10.2.3) ----

TEST(RetryAfter, DelaySecondsAndHttpDates) {
    using zenws::parse_retry_after;
    EXPECT_EQ(parse_retry_after("120"), 120);
    EXPECT_EQ(parse_retry_after(" 0 "), 0);
    EXPECT_EQ(parse_retry_after("9999999999"), std::numeric_limits<int>::max());
    EXPECT_EQ(parse_retry_after("-1"), std::nullopt);
    EXPECT_EQ(parse_retry_after("soon"), std::nullopt);
    // Against the server's Date header: 90 s later.
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:51:07 GMT", std::string_view("Sun, 06 Nov 1994 08:49:37 GMT")),
              90);
    // Without a Date header: against `now` (784111777 = 1994-11-06 08:49:37 UTC).
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", std::nullopt, 784111777), 10);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", std::nullopt, 784111777), 0);  // in the past
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 25:49:00 GMT", std::nullopt, 784111777), std::nullopt);
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", std::nullopt, 784111777), std::nullopt);
}

TEST(RetryAfter, AHttpDateOnA503ReachesTheError) {
    zenws::HandshakeResponse r;
    r.status = 503;
    r.headers = {{"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"Retry-After", "Sun, 06 Nov 1994 08:50:37 GMT"}};
    auto out = zenws::validate_handshake_response(r, "key", {});
    ASSERT_FALSE(out.ok());
    ASSERT_TRUE(out.error().retry_after.has_value());
    EXPECT_EQ(*out.error().retry_after, 60);
}
