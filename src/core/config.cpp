// config.cpp — owns Config::validate() (first failing field, in declaration order), Config::to_string() (one
// key=value per line, header values and URL query values/userinfo redacted) and the ready-made profiles
// low_latency / market_data / hft (documented in docs/profiles.md).
#include "zenws/config.hpp"

#include "core/ascii.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "zenws/url.hpp"

namespace zenws {
namespace {

using detail::ascii_lower;
using detail::iequals;


constexpr std::size_t max_latency_buffer_size = 1'000'000;
constexpr std::uint64_t max_message_size_limit = std::uint64_t{1} << 63;  // exclusive
constexpr int min_deribit_heartbeat_seconds = 10;

std::string ms(milliseconds d) { return std::to_string(d.count()) + "ms"; }

// RFC 9110 token: 1*tchar.
bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
        case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

// Printable, single-line form of a user string for messages and to_string(): control bytes, DEL, non-ASCII and
// the backslash are escaped as \xNN / \\.
std::string escape(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (u < 0x20 || u == 0x7f || u >= 0x80) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string quoted(std::string_view s) { return "'" + escape(s) + "'"; }

// Header-value safety: no CR, LF or NUL (they would split or truncate the request head).
bool has_line_break_or_nul(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Headers the handshake writes itself; a user copy would duplicate or contradict them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> reserved_headers{{
    {"Host", "it is derived from the URL"},
    {"Upgrade", "the handshake sets it"},
    {"Connection", "the handshake sets it"},
    {"Sec-WebSocket-Key", "the handshake generates it"},
    {"Sec-WebSocket-Version", "the handshake sets it"},
    {"Sec-WebSocket-Extensions", "zenws offers no extensions"},
    {"Sec-WebSocket-Protocol", "use the subprotocols field"},
}};

// parse_url() names the field "url"; give the error the field being checked and keep its explanation.
Error relabel_url_error(const Error& e, const std::string& field) {
    std::string text = e.message;
    const std::string prefix = "invalid config field '" + e.field + "': ";
    if (text.compare(0, prefix.size(), prefix) == 0) text.erase(0, prefix.size());
    if (e.code != Errc::invalid_config) text = std::string(to_string(e.code)) + ": " + text;
    return config_error(field, std::move(text));
}

bool valid_heartbeat_type(HeartbeatType t) noexcept {
    switch (t) {
        case HeartbeatType::disabled:
        case HeartbeatType::ping_pong:
        case HeartbeatType::deribit:
        case HeartbeatType::server_ping:
        case HeartbeatType::custom:
            return true;
    }
    return false;
}

std::string_view name_of(HeartbeatType t) noexcept {
    switch (t) {
        case HeartbeatType::disabled: return "disabled";
        case HeartbeatType::ping_pong: return "ping_pong";
        case HeartbeatType::deribit: return "deribit";
        case HeartbeatType::server_ping: return "server_ping";
        case HeartbeatType::custom: return "custom";
    }
    return "invalid";
}

std::string_view name_of(SendPolicy p) noexcept {
    switch (p) {
        case SendPolicy::fail_fast: return "fail_fast";
        case SendPolicy::buffer: return "buffer";
    }
    return "invalid";
}

std::string_view name_of(OverflowPolicy p) noexcept {
    switch (p) {
        case OverflowPolicy::reject_new: return "reject_new";
        case OverflowPolicy::drop_oldest: return "drop_oldest";
    }
    return "invalid";
}

std::string enum_value(auto e) { return std::to_string(static_cast<unsigned>(e)); }

Status check_url(const std::string& text, const std::string& field) {
    auto parsed = parse_url(text);
    if (parsed) return {};
    Error e = relabel_url_error(parsed.error(), field);
    // Name the bad value (redacted: query values and userinfo are credentials) unless the parser's explanation
    // already quotes it.
    const std::string shown = redact_url(text);
    if (e.message.find(shown) == std::string::npos || text.empty()) {
        e.message += " (got " + quoted(shown) + ")";
    }
    return e;
}

Status check_headers(const Headers& headers) {
    for (std::size_t i = 0; i < headers.size(); ++i) {
        const auto& [name, value] = headers[i];
        const std::string field = "headers[" + std::to_string(i) + "]";
        if (name.empty()) return config_error(field, "header name is empty");
        if (!is_token(name))
            return config_error(field, "header name " + quoted(name) +
                                           " is not a valid HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)");
        for (const auto& [reserved, why] : reserved_headers)
            if (iequals(name, reserved))
                return config_error(field, "header " + quoted(name) + " cannot be set: " + std::string(why));
        // The value is never echoed: it may be a credential.
        if (has_line_break_or_nul(value))
            return config_error(field, "value of header " + quoted(name) + " contains CR, LF or NUL");
    }
    return {};
}

Status check_heartbeat(const HeartbeatConfig& hb) {
    if (!valid_heartbeat_type(hb.type))
        return config_error("heartbeat.type", "unknown heartbeat type " + enum_value(hb.type));
    if (hb.interval.count() < 0)
        return config_error("heartbeat.interval",
                            "must be >= 0 (0 = use heartbeat_interval), got " + ms(hb.interval));
    if (hb.failure_threshold < 1)
        return config_error("heartbeat.failure_threshold",
                            "must be >= 1, got " + std::to_string(hb.failure_threshold));
    if (hb.deribit_set_heartbeat_seconds != 0 && hb.deribit_set_heartbeat_seconds < min_deribit_heartbeat_seconds)
        return config_error("heartbeat.deribit_set_heartbeat_seconds",
                            "must be 0 (don't send public/set_heartbeat) or >= 10 (Deribit's minimum), got " +
                                std::to_string(hb.deribit_set_heartbeat_seconds));
    if (hb.type == HeartbeatType::custom && hb.custom_message.empty())
        return config_error("heartbeat.custom_message", "a custom heartbeat needs a message to send, got ''");
    if (hb.type == HeartbeatType::custom && !hb.custom_matcher)
        return config_error("heartbeat.custom_matcher", "a custom heartbeat needs a matcher for its reply, got none");
    return {};
}

Status check_tls(const TlsOptions& tls) {
    if (tls.cert_file.empty() != tls.key_file.empty()) {
        if (tls.key_file.empty())
            return config_error("tls.key_file",
                                "tls.cert_file is set (" + quoted(tls.cert_file) + ") but tls.key_file is empty: "
                                "give both or neither");
        return config_error("tls.cert_file",
                            "tls.key_file is set (" + quoted(tls.key_file) + ") but tls.cert_file is empty: "
                            "give both or neither");
    }
    for (std::size_t i = 0; i < tls.alpn.size(); ++i) {
        const auto& p = tls.alpn[i];
        if (p.empty() || p.size() > 255)
            return config_error("tls.alpn[" + std::to_string(i) + "]",
                                "ALPN protocol names are 1..255 bytes, got " + std::to_string(p.size()) + " bytes");
    }
    return {};
}

}  // namespace

Status Config::validate() const {
    if (auto s = check_url(url, "url"); !s) return s;
    if (auto s = check_headers(headers); !s) return s;
    if (timeout.count() <= 0) return config_error("timeout", "must be > 0, got " + ms(timeout));
    if (retry_count < 0) return config_error("retry_count", "must be >= 0, got " + std::to_string(retry_count));
    if (retry_delay.count() <= 0) return config_error("retry_delay", "must be > 0, got " + ms(retry_delay));
    if (max_backoff.count() <= 0) return config_error("max_backoff", "must be > 0, got " + ms(max_backoff));
    if (max_backoff < retry_delay)
        return config_error("max_backoff",
                            "must be >= retry_delay (" + ms(retry_delay) + "), got " + ms(max_backoff));
    if (heartbeat_interval.count() <= 0)
        return config_error("heartbeat_interval", "must be > 0, got " + ms(heartbeat_interval));
    if (request_timeout.count() <= 0)
        return config_error("request_timeout", "must be > 0, got " + ms(request_timeout));
    if (latency_buffer_size == 0 || latency_buffer_size > max_latency_buffer_size)
        return config_error("latency_buffer_size",
                            "must be in 1..1000000, got " + std::to_string(latency_buffer_size));
    // reconnect_on_error, restore_subscriptions, debug: any value is valid.
    if (record_to.find('\0') != std::string::npos)
        return config_error("record_to", "path contains a NUL byte: " + quoted(record_to));
    // backoff_jitter: any value is valid.
    if (auto s = check_heartbeat(heartbeat); !s) return s;
    if (idle_timeout.count() < 0)
        return config_error("idle_timeout", "must be >= 0 (0 = off), got " + ms(idle_timeout));
    if (max_message_size == 0 || max_message_size >= max_message_size_limit)
        return config_error("max_message_size",
                            "must be in [1, 2^63), got " + std::to_string(max_message_size));
    if (send_queue_limit < 1) return config_error("send_queue_limit", "must be >= 1, got 0");
    if (send_policy != SendPolicy::fail_fast && send_policy != SendPolicy::buffer)
        return config_error("send_policy", "unknown send policy " + enum_value(send_policy));
    if (overflow_policy != OverflowPolicy::reject_new && overflow_policy != OverflowPolicy::drop_oldest)
        return config_error("overflow_policy", "unknown overflow policy " + enum_value(overflow_policy));
    if (auto s = check_tls(tls); !s) return s;
    for (std::size_t i = 0; i < fallback_urls.size(); ++i)
        if (auto s = check_url(fallback_urls[i], "fallback_urls[" + std::to_string(i) + "]"); !s) return s;
    if (has_line_break_or_nul(origin)) return config_error("origin", "contains CR, LF or NUL: " + quoted(origin));
    for (std::size_t i = 0; i < subprotocols.size(); ++i) {
        const auto field = "subprotocols[" + std::to_string(i) + "]";
        if (!is_token(subprotocols[i]))
            return config_error(field, "subprotocol " + quoted(subprotocols[i]) + " is not a valid HTTP token");
        for (std::size_t j = 0; j < i; ++j)
            if (subprotocols[j] == subprotocols[i])
                return config_error(field, "subprotocol " + quoted(subprotocols[i]) + " is offered twice");
    }
    if (close_timeout.count() <= 0) return config_error("close_timeout", "must be > 0, got " + ms(close_timeout));
    if (tcp_keepalive.enabled) {
        if (tcp_keepalive.idle.count() < 1 || tcp_keepalive.idle.count() > 32767)
            return config_error("tcp_keepalive.idle",
                                "must be in 1..32767 s, got " + std::to_string(tcp_keepalive.idle.count()) + "s");
        if (tcp_keepalive.interval.count() < 1 || tcp_keepalive.interval.count() > 32767)
            return config_error("tcp_keepalive.interval", "must be in 1..32767 s, got " +
                                                              std::to_string(tcp_keepalive.interval.count()) + "s");
        if (tcp_keepalive.count < 1 || tcp_keepalive.count > 127)
            return config_error("tcp_keepalive.count",
                                "must be in 1..127, got " + std::to_string(tcp_keepalive.count));
    }
    if (stable_after.count() < 0)
        return config_error("stable_after", "must be >= 0 (0 = every upgrade is stable), got " + ms(stable_after));
    if (min_attempt_interval.count() < 0)
        return config_error("min_attempt_interval", "must be >= 0 (0 = no floor), got " + ms(min_attempt_interval));
    if (max_retry_after.count() < 0)
        return config_error("max_retry_after", "must be >= 0 (0 = ignore Retry-After), got " + ms(max_retry_after));
    return {};
}

std::string Config::to_string() const {
    std::string out;
    auto line = [&out](std::string_view key, const std::string& value) {
        out += key;
        out += '=';
        out += value;
        out += '\n';
    };
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    auto list = [&out, &line](std::string_view key, const std::vector<std::string>& items, bool urls = false) {
        if (items.empty()) {
            line(key, "[]");
            return;
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            out += key;
            out += '[' + std::to_string(i) + "]=" + escape(urls ? redact_url(items[i]) : items[i]) + '\n';
        }
    };

    line("url", escape(redact_url(url)));
    if (headers.empty()) line("headers", "[]");
    for (std::size_t i = 0; i < headers.size(); ++i)
        line("headers[" + std::to_string(i) + "]", escape(headers[i].first) + ": [REDACTED]");
    line("timeout", ms(timeout));
    line("retry_count", std::to_string(retry_count));
    line("retry_delay", ms(retry_delay));
    line("max_backoff", ms(max_backoff));
    line("heartbeat_interval", ms(heartbeat_interval));
    line("request_timeout", ms(request_timeout));
    line("latency_buffer_size", std::to_string(latency_buffer_size));
    line("reconnect_on_error", flag(reconnect_on_error));
    line("restore_subscriptions", flag(restore_subscriptions));
    line("debug", flag(debug));
    line("record_to", escape(record_to));
    line("backoff_jitter", flag(backoff_jitter));
    line("heartbeat.type", std::string(name_of(heartbeat.type)));
    line("heartbeat.interval", ms(heartbeat.interval));
    line("heartbeat.failure_threshold", std::to_string(heartbeat.failure_threshold));
    line("heartbeat.deribit_set_heartbeat_seconds", std::to_string(heartbeat.deribit_set_heartbeat_seconds));
    line("heartbeat.custom_message", escape(heartbeat.custom_message));
    line("heartbeat.custom_matcher", heartbeat.custom_matcher ? "set" : "unset");
    line("idle_timeout", ms(idle_timeout));
    line("max_message_size", std::to_string(max_message_size));
    line("send_queue_limit", std::to_string(send_queue_limit));
    line("send_policy", std::string(name_of(send_policy)));
    line("overflow_policy", std::string(name_of(overflow_policy)));
    line("tls.insecure_skip_verify", flag(tls.insecure_skip_verify));
    line("tls.ca_file", escape(tls.ca_file));
    line("tls.ca_dir", escape(tls.ca_dir));
    line("tls.cert_file", escape(tls.cert_file));
    line("tls.key_file", escape(tls.key_file));
    list("tls.alpn", tls.alpn);
    list("fallback_urls", fallback_urls, true);
    line("origin", escape(origin));
    list("subprotocols", subprotocols);
    line("close_timeout", ms(close_timeout));
    line("tcp_keepalive.enabled", flag(tcp_keepalive.enabled));
    line("tcp_keepalive.idle", std::to_string(tcp_keepalive.idle.count()) + "s");
    line("tcp_keepalive.interval", std::to_string(tcp_keepalive.interval.count()) + "s");
    line("tcp_keepalive.count", std::to_string(tcp_keepalive.count));
    line("stable_after", ms(stable_after));
    line("stable_on_first_message", flag(stable_on_first_message));
    line("min_attempt_interval", ms(min_attempt_interval));
    line("max_retry_after", ms(max_retry_after));
    list("record_redact_fields", record_redact_fields);
    line("record_crash_handlers", flag(record_crash_handlers));
    return out;
}

// ---- profiles (docs/profiles.md explains every number) ----

Config Config::low_latency(std::string url) {
    Config c;
    c.url = std::move(url);
    c.timeout = milliseconds{3000};
    c.request_timeout = milliseconds{5000};
    // Reconnect ladder 0 (immediate), 100, 200, 250, 250, ... ms: after a 1 s outage the next attempt comes at most
    // 250 ms after the server is back, even with jitter (jitter only shortens delays).
    c.retry_delay = milliseconds{100};
    c.max_backoff = milliseconds{250};
    c.retry_count = 40;  // ~10 s of outage covered at 250 ms spacing before giving up
    c.min_attempt_interval = milliseconds{100};
    c.stable_after = milliseconds{5000};
    c.backoff_jitter = true;
    c.heartbeat.type = HeartbeatType::ping_pong;
    c.heartbeat.interval = milliseconds{1000};
    c.heartbeat.failure_threshold = 2;
    c.heartbeat_interval = milliseconds{1000};
    c.close_timeout = milliseconds{500};
    return c;
}

Config Config::market_data(std::string url) {
    Config c;
    c.url = std::move(url);
    c.timeout = milliseconds{10000};
    c.request_timeout = milliseconds{30000};
    c.retry_count = 20;
    c.retry_delay = milliseconds{1000};
    c.max_backoff = milliseconds{60000};
    c.backoff_jitter = true;
    c.restore_subscriptions = true;
    c.reconnect_on_error = true;
    c.heartbeat.type = HeartbeatType::ping_pong;
    c.heartbeat.interval = milliseconds{30000};
    c.heartbeat.failure_threshold = 2;
    c.heartbeat_interval = milliseconds{30000};
    return c;
}

Config Config::hft(std::string url) {
    Config c;
    c.url = std::move(url);
    c.timeout = milliseconds{2000};
    c.request_timeout = milliseconds{3000};
    c.retry_count = 3;
    c.retry_delay = milliseconds{100};
    c.max_backoff = milliseconds{1000};
    c.backoff_jitter = true;
    c.latency_buffer_size = 500;
    c.min_attempt_interval = milliseconds{100};
    c.heartbeat.type = HeartbeatType::ping_pong;
    c.heartbeat.interval = milliseconds{5000};
    c.heartbeat.failure_threshold = 2;
    c.heartbeat_interval = milliseconds{5000};
    c.close_timeout = milliseconds{500};
    return c;
}

}  // namespace zenws
