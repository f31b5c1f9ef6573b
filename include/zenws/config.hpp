// zenws/config.hpp — the one configuration struct of a client, its validation and ready-made profiles.
//
// Every ZenWebsocket option with its default, plus what a 24/7 client needs on top (jitter, heartbeat threshold,
// idle timeout, message size, send queue, TLS, fallback URLs). validate() names the failing field. to_string()
// redacts header values, URL query values and userinfo so credentials never reach a log.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/handshake.hpp"
#include "zenws/redact.hpp"

namespace zenws {

class SubscriptionDialect;  // zenws/subscriptions.hpp
struct RateLimitPolicy;     // zenws/rate_limiter.hpp

using std::chrono::milliseconds;

struct TlsOptions {
    // Peer verification, host-name check and SNI are on by default. Setting this to true disables verification of
    // the server certificate and host name: for tests against self-signed servers only.
    bool insecure_skip_verify = false;
    std::string ca_file;                          // PEM bundle; default: the system trust store
    std::string ca_dir;                           // hashed directory of PEM certificates
    std::string cert_file;                        // client certificate (PEM)
    std::string key_file;                         // client private key (PEM)
    std::vector<std::string> alpn{"http/1.1"};    // Cloudflare-fronted venues need http/1.1
};

enum class HeartbeatType : std::uint8_t {
    disabled,
    ping_pong,    // WS ping with a unique payload every interval; the matching pong gives the RTT
    deribit,      // answer {"method":"heartbeat","params":{"type":"test_request"}} with public/test
    server_ping,  // the server must ping at least every interval (Binance); silence is a failure
    custom,       // a user text message every interval plus a matcher for its reply
};

struct HeartbeatConfig {
    HeartbeatType type = HeartbeatType::disabled;
    milliseconds interval{0};                 // 0 = use Config::heartbeat_interval
    int failure_threshold = 2;                // consecutive failures before the connection is closed
    // deribit: send public/set_heartbeat with this interval (seconds, >= 10) after every connect; 0 = don't
    int deribit_set_heartbeat_seconds = 0;
    // custom
    std::string custom_message;
    std::function<bool(std::string_view)> custom_matcher;
};

// Kernel-level liveness for every connection (SO_KEEPALIVE + TCP_USER_TIMEOUT): a peer that vanished (a half-open
// link, a blackholed route) is noticed within idle + interval * count even with no heartbeat configured, and data
// left unacknowledged for that long fails the connection too. The defaults notice a dead link within 80 s.
struct TcpKeepalive {
    bool enabled = true;
    std::chrono::seconds idle{30};       // silence before the first probe
    std::chrono::seconds interval{10};   // between probes
    int count = 5;                       // unanswered probes before the link counts as dead
    std::chrono::seconds bound() const noexcept { return idle + interval * count; }
};

enum class SendPolicy : std::uint8_t {
    fail_fast,  // sends while not connected fail at once with not_connected (default)
    buffer,     // buffered up to send_queue_limit and flushed after reconnection
};

enum class OverflowPolicy : std::uint8_t {
    reject_new,   // the new send fails with queue_full
    drop_oldest,  // the oldest buffered send fails with queue_full (its completion says so); the new one is queued
};

struct Config {
    // ---- ZenWebsocket's options (same names, same defaults) ----
    std::string url;                              // ws:// or wss:// with a non-empty host
    Headers headers;                              // sent with the upgrade request
    milliseconds timeout{5000};                   // per attempt: TCP + TLS + upgrade
    int retry_count = 3;                          // attempts per outage; 0 = no retries
    milliseconds retry_delay{1000};               // backoff base
    milliseconds max_backoff{30000};              // backoff cap (>= retry_delay)
    milliseconds heartbeat_interval{30000};       // used when heartbeat.interval is 0 (heartbeat.type enables)
    milliseconds request_timeout{30000};
    std::size_t latency_buffer_size = 100;        // samples kept for latency percentiles
    bool reconnect_on_error = true;
    bool restore_subscriptions = true;
    bool debug = false;
    std::string record_to;                        // JSON-lines recording path; empty = off

    // ---- beyond the original ----
    bool backoff_jitter = true;
    HeartbeatConfig heartbeat;
    milliseconds idle_timeout{0};                 // no frame of any kind for this long = failure; 0 = off
    std::uint64_t max_message_size = 64ull << 20;
    std::size_t send_queue_limit = 1024;          // messages buffered while not connected (SendPolicy::buffer)
    SendPolicy send_policy = SendPolicy::fail_fast;
    OverflowPolicy overflow_policy = OverflowPolicy::reject_new;
    TlsOptions tls;
    std::vector<std::string> fallback_urls;       // tried in turn after `url` fails
    std::string origin;
    std::vector<std::string> subprotocols;
    milliseconds close_timeout{1000};             // how long to wait for the close handshake / TCP close
    TcpKeepalive tcp_keepalive;                   // kernel liveness probes (on by default)
    // JSON members whose values recordings replace with "[REDACTED]" (any depth, ASCII case-insensitive); empty =
    // record verbatim. The default covers secrets, tokens, signatures, passwords, api keys and listen keys.
    std::vector<std::string> record_redact_fields = default_redact_fields();
    // Install the recorder's process-wide crash handlers (SIGSEGV, SIGABRT, SIGTERM, ..., std::terminate) so a crash
    // still writes the recording's pending lines. Opt-in: they replace handlers the application may own.
    bool record_crash_handlers = false;

    // ---- the flap guard (docs/resilience.md) ----
    // A connection counts as stable once it stayed up this long (or, with stable_on_first_message, once it
    // delivered a data message). Only the loss of a stable connection starts a fresh retry ladder with an
    // immediate attempt; a connection that drops earlier continues the ladder (and the retry_count budget) of the
    // outage before it, so a server that accepts and drops at once is not hammered. 0 = every upgrade is stable.
    milliseconds stable_after{10000};
    bool stable_on_first_message = false;
    // Never two attempts to the same endpoint closer than this, even right after a success. 0 = no floor.
    milliseconds min_attempt_interval{250};
    // A Retry-After on a 429/503 upgrade answer (or an exchange's rate-limit close) sets the floor of the next
    // delay, capped at this.
    milliseconds max_retry_after{60000};
    // How Client::subscribe() talks to the venue: zenws::deribit_dialect() (ZenWebsocket's dialect),
    // zenws::binance_dialect() (zenws/venues/*.hpp) or your own (custom_dialect). Null: subscribe() fails with
    // invalid_config naming this field (the adapters set it themselves).
    std::shared_ptr<const SubscriptionDialect> subscription_dialect;
    // Outgoing rate limit (reject or delay); null = none. Buckets may be shared by several clients.
    std::shared_ptr<const RateLimitPolicy> rate_limit;

    // Checks every field in declaration order; the first failure wins. The error is Errc::invalid_config with
    // Error::field naming the field as spelled above: nested fields dotted ("heartbeat.failure_threshold",
    // "tls.key_file"), list elements indexed ("headers[0]", "fallback_urls[1]", "subprotocols[0]", "tls.alpn[0]").
    // Header values are never echoed in messages. Beyond the per-field ranges documented above: header names must
    // be HTTP tokens other than the ones the handshake writes itself (Host, Upgrade, Connection, Sec-WebSocket-*),
    // header values and origin must not contain CR/LF/NUL, latency_buffer_size <= 1,000,000, max_message_size <
    // 2^63, subprotocols are distinct tokens, and a custom heartbeat needs both custom_message and custom_matcher.
    Status validate() const;
    // Human-readable dump, one "key=value" line per field (list fields one line per element, "key=[]" when
    // empty), with header values redacted ("headers[0]=Authorization: [REDACTED]") so credentials never reach a log.
    std::string to_string() const;

    // Documented profiles (see docs/profiles.md). Each returns a config for `url` that validates.
    static Config low_latency(std::string url);   // ping_pong every second, reconnect ladder 0/100/200/250 ms
    static Config market_data(std::string url);   // long-lived streams, many retries, subscriptions restored
    static Config hft(std::string url);           // tight deadlines, ping_pong heartbeat every 5 s, few retries
};

}  // namespace zenws
