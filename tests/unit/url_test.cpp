// url_test.cpp — specification of parse_url(): which ws/wss URLs are accepted (and what they mean), which are
// rejected (and that the error names the field and the problem, never a credential), plus Url::host_header(),
// the redacted Url::to_string() / redact_url() and the unredacted request target the handshake sends.
#include "zenws/url.hpp"

#include <gtest/gtest.h>

#include "zenws/handshake.hpp"

#include <string>
#include <string_view>

namespace zenws {
namespace {

struct Accepted {
    std::string_view url;
    bool secure;
    std::string_view host;
    std::uint16_t port;
    bool explicit_port;
    std::string_view target;
    std::string_view host_header;
};

const Accepted accepted_urls[] = {
    // url                                   secure host               port   explicit target          Host header
    {"ws://example.com", false, "example.com", 80, false, "/", "example.com"},
    {"ws://example.com/", false, "example.com", 80, false, "/", "example.com"},
    {"wss://example.com", true, "example.com", 443, false, "/", "example.com"},
    {"WSS://Example.COM/Stream", true, "Example.COM", 443, false, "/Stream", "Example.COM"},
    {"Ws://h/", false, "h", 80, false, "/", "h"},
    {"ws://h:9000/feed", false, "h", 9000, true, "/feed", "h:9000"},
    {"wss://h:8443/", true, "h", 8443, true, "/", "h:8443"},
    {"ws://h:80/", false, "h", 80, true, "/", "h"},                    // explicit default port: not in Host
    {"wss://h:443/", true, "h", 443, true, "/", "h"},
    {"ws://h:443/", false, "h", 443, true, "/", "h:443"},              // 443 is not ws's default
    {"wss://h:80/", true, "h", 80, true, "/", "h:80"},
    {"ws://h:1/", false, "h", 1, true, "/", "h:1"},
    {"ws://h:65535/", false, "h", 65535, true, "/", "h:65535"},
    {"ws://h:00080/", false, "h", 80, true, "/", "h"},                 // leading zeros are just digits
    {"ws://127.0.0.1:9001/", false, "127.0.0.1", 9001, true, "/", "127.0.0.1:9001"},
    {"ws://[::1]:9000/", false, "::1", 9000, true, "/", "[::1]:9000"},
    {"wss://[2001:db8::7]/ws", true, "2001:db8::7", 443, false, "/ws", "[2001:db8::7]"},
    {"ws://[::ffff:10.0.0.1]", false, "::ffff:10.0.0.1", 80, false, "/", "[::ffff:10.0.0.1]"},
    {"wss://stream.exchange.io/ws?streams=btcusdt@trade/ethusdt@trade&x=1", true, "stream.exchange.io", 443, false,
     "/ws?streams=btcusdt@trade/ethusdt@trade&x=1", "stream.exchange.io"},
    {"ws://h?q=1", false, "h", 80, false, "/?q=1", "h"},               // query without a path
    {"ws://h:81?q", false, "h", 81, true, "/?q", "h:81"},
    {"ws://h/a/b#frag", false, "h", 80, false, "/a/b", "h"},          // fragment dropped
    {"ws://h/a?x=1#frag", false, "h", 80, false, "/a?x=1", "h"},
    {"ws://h#frag", false, "h", 80, false, "/", "h"},
    {"ws://h/a%20b?x=%2F", false, "h", 80, false, "/a%20b?x=%2F", "h"}, // percent-encoding kept verbatim
    {"ws://my-host_1.example~x/", false, "my-host_1.example~x", 80, false, "/", "my-host_1.example~x"},
};

TEST(ParseUrl, AcceptsWellFormedUrls) {
    for (const auto& c : accepted_urls) {
        SCOPED_TRACE(std::string(c.url));
        auto r = parse_url(c.url);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->secure, c.secure);
        EXPECT_EQ(r->host, c.host);
        EXPECT_EQ(r->port, c.port);
        EXPECT_EQ(r->explicit_port, c.explicit_port);
        EXPECT_EQ(r->target, c.target);
        EXPECT_EQ(r->host_header(), c.host_header);
    }
}

struct Rejected {
    std::string_view url;
    std::string_view message_contains;  // the error says what is wrong
};

const Rejected rejected_urls[] = {
    {"", "empty"},
    {"example.com/ws", "no scheme"},
    {"http://example.com/", "unsupported scheme 'http'"},
    {"https://example.com/", "unsupported scheme 'https'"},
    {"wsx://example.com/", "unsupported scheme"},
    {"://example.com/", "unsupported scheme"},
    {"ws://", "host is empty"},
    {"ws:///path", "host is empty"},
    {"ws://:9000/", "host is empty"},
    {"ws://?q", "host is empty"},
    {"ws://h:0/", "out of range"},
    {"ws://h:65536/", "out of range"},
    {"ws://h:99999999999999999999/", "out of range"},
    {"ws://h:abc/", "not a number"},
    {"ws://h:-1/", "not a number"},
    {"ws://h:+80/", "not a number"},
    {"ws://h:80a/", "not a number"},
    {"ws://h:/", "empty port"},
    {"ws://user@h/", "userinfo"},
    {"ws://user:pass@h:9000/", "userinfo"},
    {"ws://h /", "space"},
    {"ws://h/a b", "space"},
    {" ws://h/", "space"},
    {"ws://h/\r\nX-Injected: 1", "0x0d"},
    {"ws://h/\t", "0x09"},
    {std::string_view("ws://h/\0", 8), "0x00"},
    {"ws://h/\x7f", "0x7f"},
    {"ws://h\xc3\xa9/", "non-ASCII"},
    {"ws://::1:9000/", "brackets"},
    {"ws://[::1/", "closing ']'"},
    {"ws://[]/", "host is empty"},
    {"ws://[::1]x/", "after the IPv6 address"},
    {"ws://[::1]:/", "empty port"},
    {"ws://[::1]:70000/", "out of range"},
    {"ws://[example.com]/", "IPv6"},
    {"ws://[127.0.0.1]/", "not an IPv6 address"},
    {"ws://exa%6dple.com/", "contains '%'"},
    {"ws://h\\x/", "contains '\\'"},
};

TEST(ParseUrl, RejectsMalformedUrlsSayingWhy) {
    for (const auto& c : rejected_urls) {
        SCOPED_TRACE("url: '" + std::string(c.url) + "'");
        auto r = parse_url(c.url);
        ASSERT_FALSE(r.ok()) << "accepted as host=" << r->host << " port=" << r->port << " target=" << r->target;
        EXPECT_EQ(r.error().code, Errc::invalid_config);
        EXPECT_EQ(r.error().category(), ErrorCategory::config);
        EXPECT_EQ(r.error().field, "url");
        EXPECT_NE(r.error().message.find(c.message_contains), std::string::npos) << r.error().message;
    }
}

TEST(ParseUrl, ToStringRebuildsTheUrl) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"ws://example.com", "ws://example.com/"},
        {"WSS://example.com/a#frag", "wss://example.com/a"},
        {"ws://h:9000/x", "ws://h:9000/x"},
        {"wss://h:443/x", "wss://h:443/x"},  // an explicit port stays explicit
        {"wss://[2001:db8::1]", "wss://[2001:db8::1]/"},
        {"wss://stream.exchange.io/ws/btcusdt@trade", "wss://stream.exchange.io/ws/btcusdt@trade"},
    };
    for (const auto& [in, out] : cases) {
        SCOPED_TRACE(std::string(in));
        auto r = parse_url(in);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->to_string(), out);
        // Without a query the rebuilt URL parses to the same thing.
        auto again = parse_url(r->to_string());
        ASSERT_TRUE(again.ok()) << again.error().message;
        EXPECT_EQ(again->host, r->host);
        EXPECT_EQ(again->port, r->port);
        EXPECT_EQ(again->secure, r->secure);
        EXPECT_EQ(again->target, r->target);
    }
}

// Query values are credentials often enough (Binance listenKey, ?token=, ?apiKey=): every one is redacted.
TEST(ParseUrl, ToStringRedactsEveryQueryValue) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"wss://host/ws?listenKey=abc&x=1", "wss://host/ws?listenKey=[REDACTED]&x=[REDACTED]"},
        {"WSS://example.com/a?b=c#frag", "wss://example.com/a?b=[REDACTED]"},
        {"ws://[::1]:9000/?q", "ws://[::1]:9000/?[REDACTED]"},  // a bare component may be the token itself
        {"ws://h?token=s3cr3t", "ws://h/?token=[REDACTED]"},
        {"ws://h/p?empty=&&a=b=c", "ws://h/p?empty=&&a=[REDACTED]"},
        {"wss://s.io/stream?streams=btcusdt@trade/ethusdt@trade", "wss://s.io/stream?streams=[REDACTED]"},
    };
    for (const auto& [in, out] : cases) {
        SCOPED_TRACE(std::string(in));
        auto r = parse_url(in);
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->to_string(), out);
        EXPECT_EQ(redact_url(in).find("s3cr3t"), std::string::npos);
    }
}

// The wire still gets the real path and query: the handshake builds its request line from `target`.
TEST(ParseUrl, RequestTargetIsNotRedacted) {
    auto r = parse_url("wss://host:9443/ws?listenKey=abc123&x=1#frag");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->target, "/ws?listenKey=abc123&x=1");
    HandshakeRequest request;
    request.url = r.value();
    const std::string text = build_handshake_request(request, make_websocket_key());
    EXPECT_EQ(text.rfind("GET /ws?listenKey=abc123&x=1 HTTP/1.1\r\n", 0), 0u) << text;
    EXPECT_EQ(text.find("REDACTED"), std::string::npos) << text;
}

TEST(RedactUrl, HidesUserinfoQueryValuesAndFragment) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"wss://user:pw@host/", "wss://[REDACTED]@host/"},
        {"wss://u:p@ss@host:1/p?a=1&b#f", "wss://[REDACTED]@host:1/p?a=[REDACTED]&[REDACTED]#[REDACTED]"},
        {"ws://host/a#", "ws://host/a#"},
        {"host/ws?token=abc", "host/ws?token=[REDACTED]"},           // not even a URL: still redacted
        {"user:pw@host", "[REDACTED]@host"},
        {"ws://host/path@x", "ws://host/path@x"},                    // '@' in the path is not userinfo
        {"not a url", "not a url"},
        {"", ""},
    };
    for (const auto& [in, out] : cases) {
        SCOPED_TRACE(std::string(in));
        EXPECT_EQ(redact_url(in), out);
    }
}

TEST(ParseUrl, ErrorsNeverEchoCredentials) {
    for (std::string_view bad : {"wss://user:S3CR3T@host/ws", "host/ws?token=S3CR3T", "wss://user:S3CR3T@/x",
                                 "ftp://host/?key=S3CR3T", "wss://h/a b?token=S3CR3T"}) {
        SCOPED_TRACE(std::string(bad));
        auto r = parse_url(bad);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().message.find("S3CR3T"), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().explain().find("S3CR3T"), std::string::npos) << r.error().explain();
    }
}

TEST(ParseUrl, HostHeaderOfHandBuiltUrl) {
    Url u;
    u.host = "fe80::1";
    u.port = 443;
    u.secure = true;
    u.explicit_port = true;
    EXPECT_EQ(u.host_header(), "[fe80::1]");
    u.port = 8443;
    EXPECT_EQ(u.host_header(), "[fe80::1]:8443");
    u.explicit_port = false;  // a hand-built Url: a non-default port is always named, explicit or not
    EXPECT_EQ(u.host_header(), "[fe80::1]:8443");
    EXPECT_EQ(u.to_string(), "wss://[fe80::1]:8443/");
}

}  // namespace
}  // namespace zenws
