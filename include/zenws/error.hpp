// zenws/error.hpp — the one error type of zenws and the Result<T> that carries it.
//
// Every failure anywhere in the library is an Error: a specific code (Errc), the category it belongs to
// (transport, tls, handshake, ...), whether retrying can help, the facts that caused it (errno, OpenSSL text,
// HTTP status, close code and reason, the config field) and explain(): a sentence with a suggestion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zenws {

enum class ErrorCategory : std::uint8_t {
    none,
    transport,      // TCP level: refused, reset, unreachable, DNS, EOF without close frame
    tls,            // TLS handshake / certificate verification
    handshake,      // HTTP upgrade rejected or malformed
    protocol,       // RFC 6455 violation (by the peer or detected locally)
    timeout,        // connect attempt or request deadline passed
    closed,         // connection closed (by the peer with a close frame, or by the user)
    not_connected,  // operation needs a live connection
    rate_limited,   // local rate limiter or exchange said "too many requests"
    auth,           // authentication rejected
    config,         // invalid configuration
    request,        // request-level failures: disconnected while pending, duplicate id, JSON-RPC error reply
    pool,           // pool / supervisor level: no connections
};

enum class Errc : std::uint16_t {
    ok = 0,
    // config
    invalid_config,
    // transport
    dns_failure,
    connection_refused,
    connection_reset,
    network_unreachable,
    eof_without_close,
    transport_error,
    // tls
    tls_handshake_failed,
    tls_certificate_rejected,
    tls_setup_failed,
    // handshake (HTTP upgrade)
    http_status,            // non-101 status
    bad_accept,             // Sec-WebSocket-Accept mismatch or missing
    missing_upgrade,        // no "Upgrade: websocket"
    missing_connection,     // no "Connection: upgrade"
    unexpected_extension,   // server chose an extension we did not offer
    unexpected_subprotocol, // server chose a subprotocol we did not offer
    malformed_response,     // not parseable as HTTP/1.1
    response_too_large,     // headers exceed the limit
    // protocol
    protocol_violation,     // close 1002 (reason says which rule)
    invalid_utf8,           // close 1007
    message_too_big,        // close 1009
    // timeout
    connect_timeout,
    request_timeout,
    close_timeout,
    heartbeat_timeout,
    // closed
    closed_by_peer,         // peer sent a close frame (code/reason in Error)
    closed_by_user,
    // state
    not_connected,
    queue_full,
    // rate limiting / auth
    rate_limited,
    auth_failed,
    // requests
    disconnected,           // connection lost while a request was pending
    duplicate_request_id,
    rpc_error,              // JSON-RPC error reply (code/message/raw body in Error)
    // pool / supervision
    no_connections,
    retries_exhausted,
    not_found,
    handler_exception,
    // more request errors
    invalid_request,        // a request without a JSON object / id
    // lifetime
    runtime_stopped,        // the Runtime the client ran on was destroyed: nothing can be sent or received any more
};

// The facts behind an Error. All optional; empty strings/zero mean "not applicable".
struct Error {
    Errc code = Errc::ok;
    std::string message;              // one line, what happened
    int sys_errno = 0;                // errno or asio error value
    std::string tls_detail;           // OpenSSL / verification text
    int http_status = 0;              // handshake: status code of a non-101 answer
    std::string http_reason;          // handshake: reason phrase
    std::string body_prefix;          // handshake: first bytes of the body
    std::optional<int> retry_after;   // handshake: Retry-After seconds
    std::uint16_t close_code = 0;     // closed/protocol: close code sent or received
    std::string close_reason;         // closed/protocol: reason text
    std::string field;                // config: the offending field
    std::int64_t rpc_code = 0;        // rpc_error: JSON-RPC error code
    std::string raw;                  // rpc_error: the raw reply body; other errors: extra context

    Error() = default;
    Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}

    explicit operator bool() const noexcept { return code != Errc::ok; }
    ErrorCategory category() const noexcept;
    // Can retrying (reconnecting) help? Transport, TLS alerts, timeouts, 5xx/429 statuses, server restarts, a
    // server's RFC 6455 violations (1002/1007/1009 sent by us because of what the server sent): yes. Bad
    // configuration, authentication, certificate rejection, a stopped runtime: no.
    bool retryable() const noexcept;
    // A human explanation with a suggestion, e.g. "Connection refused by 127.0.0.1:9: check that the server is
    // running and the URL is correct".
    std::string explain() const;
    // Short machine-friendly name of the code, e.g. "connection_refused".
    std::string_view name() const noexcept;
};

std::string_view to_string(ErrorCategory) noexcept;
std::string_view to_string(Errc) noexcept;

// Config errors name the failing field.
Error config_error(std::string field, std::string message);

// Result<T>: a value or an Error. Deliberately tiny (no exceptions needed).
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}              // NOLINT
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}          // NOLINT
    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}                               // NOLINT
    bool ok() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

private:
    Error error_;
};

using Status = Result<void>;

}  // namespace zenws
