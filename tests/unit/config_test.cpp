// config_test.cpp — owns the unit tests of zenws::Config: defaults, validate() (one failing case per field, each
// naming the field it expects), to_string() redaction and the low_latency / market_data / hft profiles.
#include "zenws/config.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace {

using std::chrono::milliseconds;
using zenws::Config;
using zenws::Errc;
using zenws::HeartbeatType;

Config valid() {
    Config c;
    c.url = "wss://www.deribit.com/ws/api/v2";
    return c;
}

// Validates `c` and expects an invalid_config error naming `field`, whose message contains `needle`.
void expect_field(const Config& c, const std::string& field, const std::string& needle = {}) {
    auto s = c.validate();
    ASSERT_FALSE(s.ok()) << "expected a failure on " << field;
    EXPECT_EQ(s.error().code, Errc::invalid_config);
    EXPECT_EQ(s.error().field, field) << s.error().message;
    EXPECT_EQ(s.error().category(), zenws::ErrorCategory::config);
    EXPECT_FALSE(s.error().retryable());
    if (!needle.empty()) EXPECT_NE(s.error().message.find(needle), std::string::npos) << s.error().message;
}

TEST(Config, DefaultsEqualZenWebsocket) {
    Config c;
    EXPECT_EQ(c.url, "");
    EXPECT_TRUE(c.headers.empty());
    EXPECT_EQ(c.timeout, milliseconds{5000});
    EXPECT_EQ(c.retry_count, 3);
    EXPECT_EQ(c.retry_delay, milliseconds{1000});
    EXPECT_EQ(c.max_backoff, milliseconds{30000});
    EXPECT_EQ(c.heartbeat_interval, milliseconds{30000});
    EXPECT_EQ(c.request_timeout, milliseconds{30000});
    EXPECT_EQ(c.latency_buffer_size, 100u);
    EXPECT_TRUE(c.reconnect_on_error);
    EXPECT_TRUE(c.restore_subscriptions);
    EXPECT_FALSE(c.debug);
    EXPECT_EQ(c.record_to, "");
    EXPECT_EQ(c.heartbeat.type, HeartbeatType::disabled);  // heartbeats are off unless configured
}

TEST(Config, DefaultsBeyondTheOriginal) {
    Config c;
    EXPECT_TRUE(c.backoff_jitter);
    EXPECT_EQ(c.heartbeat.interval, milliseconds{0});
    EXPECT_EQ(c.heartbeat.failure_threshold, 2);
    EXPECT_EQ(c.idle_timeout, milliseconds{0});
    EXPECT_EQ(c.max_message_size, 64ull << 20);
    EXPECT_EQ(c.send_queue_limit, 1024u);
    EXPECT_EQ(c.send_policy, zenws::SendPolicy::fail_fast);
    EXPECT_EQ(c.overflow_policy, zenws::OverflowPolicy::reject_new);
    EXPECT_FALSE(c.tls.insecure_skip_verify);
    EXPECT_EQ(c.tls.alpn, std::vector<std::string>{"http/1.1"});
    EXPECT_EQ(c.close_timeout, milliseconds{1000});
}

TEST(Config, DefaultWithUrlValidates) {
    EXPECT_TRUE(valid().validate().ok());
    Config c = valid();
    c.url = "ws://127.0.0.1:8080/path?x=1";
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, EmptyConfigFailsOnUrl) { expect_field(Config{}, "url"); }

TEST(Config, Url) {
    for (const char* bad : {"http://example.com", "example.com", "ws://", "wss://:443/", "ws://host:0/",
                            "ws://host:70000/", "ws://user:pw@host/"}) {
        SCOPED_TRACE(bad);
        Config c = valid();
        c.url = bad;
        expect_field(c, "url");
    }
}

TEST(Config, UrlErrorNamesTheBadValue) {
    Config c = valid();
    c.url = "ftp://example.com/feed";
    expect_field(c, "url", "ftp");
}

TEST(Config, HeaderNameMustBeAToken) {
    Config c = valid();
    c.headers = {{"X-Ok", "1"}, {"Bad Name", "1"}};
    expect_field(c, "headers[1]", "Bad Name");
    c.headers = {{"", "1"}};
    expect_field(c, "headers[0]");
    c.headers = {{"X:Colon", "1"}};
    expect_field(c, "headers[0]");
    c.headers = {{"X-Nl\r\n", "1"}};
    expect_field(c, "headers[0]");
}

TEST(Config, HeaderValueWithoutLineBreaksAndNotEchoed) {
    Config c = valid();
    c.headers = {{"Authorization", "Bearer secret\r\nX-Injected: 1"}};
    expect_field(c, "headers[0]", "Authorization");
    EXPECT_EQ(c.validate().error().message.find("secret"), std::string::npos);
    EXPECT_EQ(c.validate().error().explain().find("secret"), std::string::npos);
    c.headers = {{"Authorization", "Bearer secret\n"}};
    expect_field(c, "headers[0]");
    c.headers = {{"Authorization", std::string("a\0b", 3)}};
    expect_field(c, "headers[0]");
    c.headers = {{"Authorization", "Bearer ok\ttab is fine"}, {"X-Empty", ""}};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeadersTheHandshakeOwnsAreRejected) {
    for (const char* name : {"Host", "upgrade", "CONNECTION", "Sec-WebSocket-Key", "sec-websocket-version",
                             "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol"}) {
        SCOPED_TRACE(name);
        Config c = valid();
        c.headers = {{name, "x"}};
        expect_field(c, "headers[0]");
    }
}

TEST(Config, Timeout) {
    Config c = valid();
    c.timeout = milliseconds{0};
    expect_field(c, "timeout", "0");
    c.timeout = milliseconds{-5};
    expect_field(c, "timeout", "-5");
}

TEST(Config, RetryCount) {
    Config c = valid();
    c.retry_count = -1;
    expect_field(c, "retry_count", "-1");
    c.retry_count = 0;  // no retries: valid
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, RetryDelay) {
    Config c = valid();
    c.retry_delay = milliseconds{0};
    expect_field(c, "retry_delay");
}

TEST(Config, MaxBackoffPositive) {
    Config c = valid();
    c.max_backoff = milliseconds{0};
    expect_field(c, "max_backoff");
}

TEST(Config, MaxBackoffAtLeastRetryDelay) {
    Config c = valid();
    c.retry_delay = milliseconds{2000};
    c.max_backoff = milliseconds{1999};
    expect_field(c, "max_backoff", "1999");
    c.max_backoff = milliseconds{2000};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeartbeatInterval) {
    Config c = valid();
    c.heartbeat_interval = milliseconds{0};
    expect_field(c, "heartbeat_interval");
}

TEST(Config, RequestTimeout) {
    Config c = valid();
    c.request_timeout = milliseconds{-1};
    expect_field(c, "request_timeout");
}

TEST(Config, LatencyBufferSize) {
    Config c = valid();
    c.latency_buffer_size = 0;
    expect_field(c, "latency_buffer_size");
    c.latency_buffer_size = 1'000'001;
    expect_field(c, "latency_buffer_size", "1000001");
    c.latency_buffer_size = 1'000'000;
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, RecordTo) {
    Config c = valid();
    c.record_to = std::string("/tmp/a\0b", 8);
    expect_field(c, "record_to");
    c.record_to = "/tmp/session.jsonl";
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeartbeatType) {
    Config c = valid();
    c.heartbeat.type = static_cast<HeartbeatType>(99);
    expect_field(c, "heartbeat.type");
}

TEST(Config, HeartbeatIntervalNested) {
    Config c = valid();
    c.heartbeat.interval = milliseconds{-1};
    expect_field(c, "heartbeat.interval");
    c.heartbeat.interval = milliseconds{0};  // falls back to heartbeat_interval
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeartbeatFailureThreshold) {
    Config c = valid();
    c.heartbeat.failure_threshold = 0;
    expect_field(c, "heartbeat.failure_threshold", "0");
    c.heartbeat.failure_threshold = 1;
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeartbeatDeribitSetHeartbeatSeconds) {
    Config c = valid();
    c.heartbeat.type = HeartbeatType::deribit;
    c.heartbeat.deribit_set_heartbeat_seconds = 9;
    expect_field(c, "heartbeat.deribit_set_heartbeat_seconds", "9");
    c.heartbeat.deribit_set_heartbeat_seconds = -10;
    expect_field(c, "heartbeat.deribit_set_heartbeat_seconds");
    c.heartbeat.deribit_set_heartbeat_seconds = 10;
    EXPECT_TRUE(c.validate().ok());
    c.heartbeat.deribit_set_heartbeat_seconds = 0;
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, HeartbeatCustomNeedsMessageAndMatcher) {
    Config c = valid();
    c.heartbeat.type = HeartbeatType::custom;
    expect_field(c, "heartbeat.custom_message");
    c.heartbeat.custom_message = R"({"op":"ping"})";
    expect_field(c, "heartbeat.custom_matcher");
    c.heartbeat.custom_matcher = [](std::string_view m) { return m.find("pong") != std::string_view::npos; };
    EXPECT_TRUE(c.validate().ok());
    // Not needed for other types.
    Config p = valid();
    p.heartbeat.type = HeartbeatType::ping_pong;
    EXPECT_TRUE(p.validate().ok());
}

TEST(Config, IdleTimeout) {
    Config c = valid();
    c.idle_timeout = milliseconds{-1};
    expect_field(c, "idle_timeout");
    c.idle_timeout = milliseconds{0};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, MaxMessageSize) {
    Config c = valid();
    c.max_message_size = 0;
    expect_field(c, "max_message_size");
    c.max_message_size = 1ull << 63;
    expect_field(c, "max_message_size");
    c.max_message_size = (1ull << 63) - 1;
    EXPECT_TRUE(c.validate().ok());
    c.max_message_size = 1;
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, SendQueueLimit) {
    Config c = valid();
    c.send_queue_limit = 0;
    expect_field(c, "send_queue_limit");
}

TEST(Config, SendAndOverflowPolicyEnums) {
    Config c = valid();
    c.send_policy = static_cast<zenws::SendPolicy>(7);
    expect_field(c, "send_policy");
    c = valid();
    c.overflow_policy = static_cast<zenws::OverflowPolicy>(7);
    expect_field(c, "overflow_policy");
}

TEST(Config, TlsCertAndKeyBothOrNeither) {
    Config c = valid();
    c.tls.cert_file = "/etc/client.pem";
    expect_field(c, "tls.key_file");
    c.tls.cert_file.clear();
    c.tls.key_file = "/etc/client.key";
    expect_field(c, "tls.cert_file");
    c.tls.cert_file = "/etc/client.pem";
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, TlsAlpn) {
    Config c = valid();
    c.tls.alpn = {"http/1.1", ""};
    expect_field(c, "tls.alpn[1]");
    c.tls.alpn = {std::string(256, 'a')};
    expect_field(c, "tls.alpn[0]");
    c.tls.alpn.clear();
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, FallbackUrls) {
    Config c = valid();
    c.fallback_urls = {"wss://backup1.example.com/ws", "https://backup2.example.com/ws"};
    expect_field(c, "fallback_urls[1]", "https");
    c.fallback_urls = {""};
    expect_field(c, "fallback_urls[0]");
    c.fallback_urls = {"wss://a.example.com/ws", "ws://10.0.0.1:9000"};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, Origin) {
    Config c = valid();
    c.origin = "https://example.com\r\nX: y";
    expect_field(c, "origin");
    c.origin = "https://example.com";
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, Subprotocols) {
    Config c = valid();
    c.subprotocols = {"json", "bad proto"};
    expect_field(c, "subprotocols[1]", "bad proto");
    c.subprotocols = {""};
    expect_field(c, "subprotocols[0]");
    c.subprotocols = {"a,b"};
    expect_field(c, "subprotocols[0]");
    c.subprotocols = {"json", "json"};
    expect_field(c, "subprotocols[1]", "twice");
    c.subprotocols = {"json", "v2.stomp", "mqtt"};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, CloseTimeout) {
    Config c = valid();
    c.close_timeout = milliseconds{0};
    expect_field(c, "close_timeout");
}

TEST(Config, FirstFailureInDeclarationOrderWins) {
    Config c;  // url invalid (empty)
    c.timeout = milliseconds{0};
    c.close_timeout = milliseconds{0};
    expect_field(c, "url");
    c.url = "ws://localhost/";
    expect_field(c, "timeout");
    c.timeout = milliseconds{1};
    c.heartbeat.failure_threshold = 0;
    c.send_queue_limit = 0;
    expect_field(c, "heartbeat.failure_threshold");
    c.heartbeat.failure_threshold = 3;
    expect_field(c, "send_queue_limit");
    c.send_queue_limit = 1;
    expect_field(c, "close_timeout");
    c.close_timeout = milliseconds{1};
    EXPECT_TRUE(c.validate().ok());
}

TEST(Config, ExplainMentionsTheField) {
    Config c = valid();
    c.heartbeat.failure_threshold = 0;
    auto s = c.validate();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().explain().find("heartbeat.failure_threshold"), std::string::npos) << s.error().explain();
}

// ---- to_string ----

TEST(Config, ToStringRedactsHeaderValues) {
    Config c = valid();
    c.headers = {{"Authorization", "Bearer s3cr3t-value"}, {"X-Api-Key", "s3cr3t-key-123"}};
    const auto text = c.to_string();
    EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
    EXPECT_NE(text.find("headers[0]=Authorization: [REDACTED]\n"), std::string::npos) << text;
    EXPECT_NE(text.find("headers[1]=X-Api-Key: [REDACTED]\n"), std::string::npos) << text;
}

TEST(Config, ToStringRedactsUrlQueryValuesAndUserinfo) {
    Config c = valid();
    c.url = "wss://stream.example.com/ws?listenKey=LK-S3CR3T&x=1";
    c.fallback_urls = {"wss://backup.example.com/ws?token=TK-S3CR3T", "wss://user:PW-S3CR3T@b2.example.com/"};
    const auto text = c.to_string();
    EXPECT_EQ(text.find("S3CR3T"), std::string::npos) << text;
    EXPECT_NE(text.find("url=wss://stream.example.com/ws?listenKey=[REDACTED]&x=[REDACTED]\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("fallback_urls[0]=wss://backup.example.com/ws?token=[REDACTED]\n"), std::string::npos) << text;
    EXPECT_NE(text.find("fallback_urls[1]=wss://[REDACTED]@b2.example.com/\n"), std::string::npos) << text;
    // The config itself is untouched: the client connects with the real values.
    EXPECT_EQ(c.url, "wss://stream.example.com/ws?listenKey=LK-S3CR3T&x=1");
}

TEST(Config, UrlErrorsNeverEchoCredentials) {
    for (const char* bad : {"ws://user:PW-S3CR3T@host/", "host/ws?token=TK-S3CR3T", "ws://u:PW-S3CR3T@/"}) {
        SCOPED_TRACE(bad);
        Config c = valid();
        c.url = bad;
        expect_field(c, "url");
        EXPECT_EQ(c.validate().error().message.find("S3CR3T"), std::string::npos) << c.validate().error().message;
        EXPECT_EQ(c.validate().error().explain().find("S3CR3T"), std::string::npos);
        Config f = valid();
        f.fallback_urls = {bad};
        expect_field(f, "fallback_urls[0]");
        EXPECT_EQ(f.validate().error().explain().find("S3CR3T"), std::string::npos) << f.validate().error().explain();
    }
    // Still names the value, redacted.
    Config c = valid();
    c.url = "ws://user:PW-S3CR3T@host/";
    EXPECT_NE(c.validate().error().message.find("ws://[REDACTED]@host/"), std::string::npos)
        << c.validate().error().message;
}

TEST(Config, ToStringCoversEveryField) {
    Config c = valid();
    c.fallback_urls = {"wss://b.example.com/"};
    c.subprotocols = {"json"};
    const auto text = c.to_string();
    const std::vector<std::string> keys{
        "url=wss://www.deribit.com/ws/api/v2", "headers=[]", "timeout=5000ms", "retry_count=3",
        "retry_delay=1000ms", "max_backoff=30000ms", "heartbeat_interval=30000ms", "request_timeout=30000ms",
        "latency_buffer_size=100", "reconnect_on_error=true", "restore_subscriptions=true", "debug=false",
        "record_to=", "backoff_jitter=true", "heartbeat.type=disabled", "heartbeat.interval=0ms",
        "heartbeat.failure_threshold=2", "heartbeat.deribit_set_heartbeat_seconds=0", "heartbeat.custom_message=",
        "heartbeat.custom_matcher=unset", "idle_timeout=0ms", "max_message_size=67108864",
        "send_queue_limit=1024", "send_policy=fail_fast", "overflow_policy=reject_new",
        "tls.insecure_skip_verify=false", "tls.ca_file=", "tls.ca_dir=", "tls.cert_file=", "tls.key_file=",
        "tls.alpn[0]=http/1.1", "fallback_urls[0]=wss://b.example.com/", "origin=", "subprotocols[0]=json",
        "close_timeout=1000ms", "tcp_keepalive.enabled=true", "tcp_keepalive.idle=30s",
        "tcp_keepalive.interval=10s", "tcp_keepalive.count=5", "stable_after=10000ms",
        "stable_on_first_message=false", "min_attempt_interval=250ms", "max_retry_after=60000ms"};
    std::vector<std::string> all = keys;
    const auto redacted = zenws::default_redact_fields();
    for (std::size_t i = 0; i < redacted.size(); ++i)
        all.push_back("record_redact_fields[" + std::to_string(i) + "]=" + redacted[i]);
    all.push_back("record_crash_handlers=false");
    for (const auto& k : all) EXPECT_NE(text.find(k + "\n"), std::string::npos) << k << "\n" << text;
    // One key=value per line, nothing else.
    std::size_t lines = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        auto nl = text.find('\n', pos);
        ASSERT_NE(nl, std::string::npos) << "last line not terminated";
        auto line = text.substr(pos, nl - pos);
        EXPECT_NE(line.find('='), std::string::npos) << line;
        ++lines;
        pos = nl + 1;
    }
    EXPECT_EQ(lines, all.size());
}

TEST(Config, ToStringEscapesControlCharacters) {
    Config c = valid();
    c.url = "ws://host/\r\ninjected=1";
    const auto text = c.to_string();
    EXPECT_EQ(text.find("\ninjected=1"), std::string::npos) << text;
    EXPECT_NE(text.find("url=ws://host/\\x0d\\x0ainjected=1\n"), std::string::npos) << text;
}

// ---- profiles ----

TEST(Config, ProfilesValidate) {
    for (auto make : {&Config::low_latency, &Config::market_data, &Config::hft}) {
        auto c = make("wss://stream.example.com/ws");
        EXPECT_EQ(c.url, "wss://stream.example.com/ws");
        auto s = c.validate();
        EXPECT_TRUE(s.ok()) << s.error().message;
    }
}

TEST(Config, LowLatencyProfile) {
    auto c = Config::low_latency("ws://127.0.0.1:9000/");
    EXPECT_EQ(c.timeout, milliseconds{3000});
    EXPECT_EQ(c.request_timeout, milliseconds{5000});
    EXPECT_EQ(c.heartbeat.type, HeartbeatType::ping_pong);
    EXPECT_EQ(c.heartbeat.interval, milliseconds{1000});
    EXPECT_GE(c.retry_delay, milliseconds{100});
    EXPECT_LE(c.retry_delay, milliseconds{250});
    EXPECT_LE(c.max_backoff, milliseconds{300});  // bounds the gap between attempts: reconnect <= 1.3 s
    EXPECT_TRUE(c.reconnect_on_error);
}

TEST(Config, MarketDataProfile) {
    auto c = Config::market_data("wss://stream.example.com/ws");
    EXPECT_EQ(c.timeout, milliseconds{10000});
    EXPECT_EQ(c.request_timeout, milliseconds{30000});
    EXPECT_EQ(c.retry_count, 20);
    EXPECT_EQ(c.retry_delay, milliseconds{1000});
    EXPECT_EQ(c.max_backoff, milliseconds{60000});
    EXPECT_TRUE(c.restore_subscriptions);
    EXPECT_EQ(c.heartbeat.type, HeartbeatType::ping_pong);
    EXPECT_EQ(c.heartbeat.interval, milliseconds{30000});
    EXPECT_EQ(c.heartbeat_interval, milliseconds{30000});
}

TEST(Config, HftProfile) {
    auto c = Config::hft("wss://fix.example.com/ws");
    EXPECT_EQ(c.timeout, milliseconds{2000});
    EXPECT_EQ(c.request_timeout, milliseconds{3000});
    EXPECT_EQ(c.heartbeat.type, HeartbeatType::ping_pong);
    EXPECT_EQ(c.heartbeat.interval, milliseconds{5000});
    EXPECT_EQ(c.heartbeat_interval, milliseconds{5000});
    EXPECT_EQ(c.retry_count, 3);
    EXPECT_EQ(c.retry_delay, milliseconds{100});
    EXPECT_EQ(c.max_backoff, milliseconds{1000});
    EXPECT_EQ(c.latency_buffer_size, 500u);
}

TEST(Config, ProfileWithBadUrlFailsOnUrl) { expect_field(Config::hft("not a url"), "url"); }

}  // namespace
