// error.cpp — classification (category, retryable) and explanations of zenws errors.
#include "zenws/error.hpp"

#include <string>

namespace zenws {

std::string_view to_string(ErrorCategory c) noexcept {
    switch (c) {
        case ErrorCategory::none: return "none";
        case ErrorCategory::transport: return "transport";
        case ErrorCategory::tls: return "tls";
        case ErrorCategory::handshake: return "handshake";
        case ErrorCategory::protocol: return "protocol";
        case ErrorCategory::timeout: return "timeout";
        case ErrorCategory::closed: return "closed";
        case ErrorCategory::not_connected: return "not_connected";
        case ErrorCategory::rate_limited: return "rate_limited";
        case ErrorCategory::auth: return "auth";
        case ErrorCategory::config: return "config";
        case ErrorCategory::request: return "request";
        case ErrorCategory::pool: return "pool";
    }
    return "unknown";
}

std::string_view to_string(Errc e) noexcept {
    switch (e) {
        case Errc::ok: return "ok";
        case Errc::invalid_config: return "invalid_config";
        case Errc::dns_failure: return "dns_failure";
        case Errc::connection_refused: return "connection_refused";
        case Errc::connection_reset: return "connection_reset";
        case Errc::network_unreachable: return "network_unreachable";
        case Errc::eof_without_close: return "eof_without_close";
        case Errc::transport_error: return "transport_error";
        case Errc::tls_handshake_failed: return "tls_handshake_failed";
        case Errc::tls_certificate_rejected: return "tls_certificate_rejected";
        case Errc::tls_setup_failed: return "tls_setup_failed";
        case Errc::http_status: return "http_status";
        case Errc::bad_accept: return "bad_accept";
        case Errc::missing_upgrade: return "missing_upgrade";
        case Errc::missing_connection: return "missing_connection";
        case Errc::unexpected_extension: return "unexpected_extension";
        case Errc::unexpected_subprotocol: return "unexpected_subprotocol";
        case Errc::malformed_response: return "malformed_response";
        case Errc::response_too_large: return "response_too_large";
        case Errc::protocol_violation: return "protocol_violation";
        case Errc::invalid_utf8: return "invalid_utf8";
        case Errc::message_too_big: return "message_too_big";
        case Errc::connect_timeout: return "connect_timeout";
        case Errc::request_timeout: return "request_timeout";
        case Errc::close_timeout: return "close_timeout";
        case Errc::heartbeat_timeout: return "heartbeat_timeout";
        case Errc::closed_by_peer: return "closed_by_peer";
        case Errc::closed_by_user: return "closed_by_user";
        case Errc::not_connected: return "not_connected";
        case Errc::queue_full: return "queue_full";
        case Errc::rate_limited: return "rate_limited";
        case Errc::auth_failed: return "auth_failed";
        case Errc::disconnected: return "disconnected";
        case Errc::duplicate_request_id: return "duplicate_request_id";
        case Errc::rpc_error: return "rpc_error";
        case Errc::no_connections: return "no_connections";
        case Errc::retries_exhausted: return "retries_exhausted";
        case Errc::not_found: return "not_found";
        case Errc::handler_exception: return "handler_exception";
        case Errc::invalid_request: return "invalid_request";
        case Errc::runtime_stopped: return "runtime_stopped";
    }
    return "unknown";
}

std::string_view Error::name() const noexcept { return to_string(code); }

ErrorCategory Error::category() const noexcept {
    switch (code) {
        case Errc::ok: return ErrorCategory::none;
        case Errc::invalid_config: return ErrorCategory::config;
        case Errc::dns_failure:
        case Errc::connection_refused:
        case Errc::connection_reset:
        case Errc::network_unreachable:
        case Errc::eof_without_close:
        case Errc::transport_error: return ErrorCategory::transport;
        case Errc::tls_handshake_failed:
        case Errc::tls_certificate_rejected:
        case Errc::tls_setup_failed: return ErrorCategory::tls;
        case Errc::http_status:
        case Errc::bad_accept:
        case Errc::missing_upgrade:
        case Errc::missing_connection:
        case Errc::unexpected_extension:
        case Errc::unexpected_subprotocol:
        case Errc::malformed_response:
        case Errc::response_too_large: return ErrorCategory::handshake;
        case Errc::protocol_violation:
        case Errc::invalid_utf8:
        case Errc::message_too_big: return ErrorCategory::protocol;
        case Errc::connect_timeout:
        case Errc::request_timeout:
        case Errc::close_timeout:
        case Errc::heartbeat_timeout: return ErrorCategory::timeout;
        case Errc::closed_by_peer:
        case Errc::closed_by_user: return ErrorCategory::closed;
        case Errc::not_connected:
        case Errc::queue_full:
        case Errc::runtime_stopped: return ErrorCategory::not_connected;
        case Errc::rate_limited: return ErrorCategory::rate_limited;
        case Errc::auth_failed: return ErrorCategory::auth;
        case Errc::disconnected:
        case Errc::duplicate_request_id:
        case Errc::rpc_error:
        case Errc::handler_exception:
        case Errc::invalid_request: return ErrorCategory::request;
        case Errc::no_connections:
        case Errc::retries_exhausted:
        case Errc::not_found: return ErrorCategory::pool;
    }
    return ErrorCategory::none;
}

bool Error::retryable() const noexcept {
    switch (code) {
        case Errc::dns_failure:
        case Errc::connection_refused:
        case Errc::connection_reset:
        case Errc::network_unreachable:
        case Errc::eof_without_close:
        case Errc::transport_error:
        case Errc::tls_handshake_failed:   // alerts, resets during the handshake
        case Errc::connect_timeout:
        case Errc::close_timeout:
        case Errc::heartbeat_timeout:
        case Errc::request_timeout:
        case Errc::malformed_response:     // often a proxy or half-started server
        case Errc::disconnected:
        case Errc::rate_limited:           // after backing off
        case Errc::not_connected:
        case Errc::queue_full:
        // The server broke RFC 6455 (we closed with 1002/1007/1009): a fresh connection usually works, and the flap
        // guard keeps a server that does it every time from being hammered.
        case Errc::protocol_violation:
        case Errc::invalid_utf8:
        case Errc::message_too_big:
            return true;
        case Errc::http_status:
            // 5xx (server trouble) and 429 (slow down) are worth retrying; 4xx is a request problem.
            return http_status >= 500 || http_status == 429 || http_status == 408;
        case Errc::closed_by_peer:
            // 1000 normal / 1001 going away / 1006 abnormal / 1011 internal / 1012 restart / 1013 try later.
            return close_code == 1000 || close_code == 1001 || close_code == 1006 || close_code == 1011 ||
                   close_code == 1012 || close_code == 1013 || close_code == 1014 || close_code >= 4000 ||
                   close_code == 0;
        default:
            return false;
    }
}

namespace {
std::string with_detail(std::string_view base, const std::string& detail) {
    std::string s(base);
    if (!detail.empty()) {
        s += ": ";
        s += detail;
    }
    return s;
}
}  // namespace

std::string Error::explain() const {
    std::string what = message.empty() ? std::string(name()) : message;
    std::string suggestion;
    switch (code) {
        case Errc::ok: return "no error";
        case Errc::invalid_config:
            suggestion = "fix the configuration field '" + field + "'";
            break;
        case Errc::dns_failure: suggestion = "verify the host name spelling and the DNS configuration"; break;
        case Errc::connection_refused:
            suggestion = "check that the server is running and that the URL (host and port) is correct";
            break;
        case Errc::connection_reset:
        case Errc::eof_without_close:
            suggestion = "the link dropped; a new connection usually works (zenws reconnects by itself only while "
                         "retry_count allows and reconnect_on_error is set)";
            break;
        case Errc::network_unreachable: suggestion = "check network connectivity, routes and VPN status"; break;
        case Errc::transport_error: suggestion = "check network connectivity; a new connection may work"; break;
        case Errc::tls_handshake_failed:
            suggestion = "check that the server speaks TLS on this port and supports TLS 1.2+ and ALPN http/1.1";
            break;
        case Errc::tls_certificate_rejected:
            suggestion = "the server certificate was not trusted for this host name: pass its CA with "
                         "tls.ca_file, or (tests only) tls.insecure_skip_verify";
            break;
        case Errc::tls_setup_failed: suggestion = "check the TLS file paths (ca_file, cert_file, key_file)"; break;
        case Errc::http_status:
            if (http_status == 429 || http_status == 503)
                suggestion = "the server is overloaded or rate limiting; retry later" +
                             (retry_after ? " (Retry-After: " + std::to_string(*retry_after) + " s)" : std::string());
            else if (http_status == 401 || http_status == 403)
                suggestion = "the server refused the credentials; check the headers you send";
            else if (http_status == 404)
                suggestion = "check the URL path";
            else
                suggestion = "check that the URL points at a WebSocket endpoint";
            if (retry_after && http_status != 429 && http_status != 503)
                suggestion += " (Retry-After: " + std::to_string(*retry_after) + " s)";
            break;
        case Errc::bad_accept:
        case Errc::missing_upgrade:
        case Errc::missing_connection:
        case Errc::malformed_response:
        case Errc::response_too_large:
            suggestion = "the endpoint is not a conforming WebSocket server (or a proxy altered the upgrade)";
            break;
        case Errc::unexpected_extension:
        case Errc::unexpected_subprotocol:
            suggestion = "the server chose something we did not offer; check the subprotocols in the config";
            break;
        case Errc::protocol_violation:
        case Errc::invalid_utf8:
            suggestion = "the server sent frames that break RFC 6455; report it to the server's operator";
            break;
        case Errc::message_too_big:
            // The limit is our own max_message_size: not the server's fault. Drop the generic "server violated
            // RFC 6455" lead-in the connection puts in front of the decoder's reason.
            if (constexpr std::string_view lead = "server violated RFC 6455: "; what.starts_with(lead))
                what = "incoming " + what.substr(lead.size());
            suggestion = "the limit is this client's max_message_size; raise it if such messages are expected";
            break;
        case Errc::connect_timeout:
            suggestion = "check network connectivity or increase the timeout configuration";
            break;
        case Errc::request_timeout: suggestion = "no reply before request_timeout; raise it or check the server"; break;
        case Errc::close_timeout: suggestion = "the server did not finish the close handshake in time"; break;
        case Errc::heartbeat_timeout:
            suggestion = "the link looks dead (no heartbeat answers); zenws closes it and reconnects while "
                         "retry_count allows";
            break;
        case Errc::closed_by_peer: suggestion = "the server closed the connection; see the close code and reason"; break;
        case Errc::closed_by_user: suggestion = "the connection was closed by this program"; break;
        case Errc::not_connected:
            suggestion = "wait for the connected state, or use send_policy=buffer to queue while reconnecting";
            break;
        case Errc::queue_full: suggestion = "raise send_queue_limit or slow down while disconnected"; break;
        case Errc::rate_limited: suggestion = "slow down; the rate limit refills over time"; break;
        case Errc::auth_failed: suggestion = "check the credentials"; break;
        case Errc::disconnected: suggestion = "the connection was lost before a reply; retry after reconnect"; break;
        case Errc::duplicate_request_id: suggestion = "use a unique id per pending request"; break;
        case Errc::rpc_error: suggestion = "the server answered with an error; see its code and message"; break;
        case Errc::no_connections: suggestion = "start clients first, or check that they are connected"; break;
        case Errc::retries_exhausted:
            suggestion = "the endpoint stayed unreachable; raise retry_count or check the server";
            break;
        case Errc::not_found:
            // replay_recording / recording_metadata name the field "path": a file, not a client handle.
            suggestion = field == "path" ? "check that the file exists and is readable"
                                         : "the handle does not refer to a live client";
            break;
        case Errc::handler_exception: suggestion = "a user callback threw; fix the callback"; break;
        case Errc::invalid_request:
            suggestion = "a request must be a JSON object with an integer or string \"id\"";
            break;
        case Errc::runtime_stopped:
            suggestion = "the Runtime was destroyed before this client; keep the Runtime alive as long as its clients";
            break;
    }
    std::string facts;
    if (http_status) facts += " [HTTP " + std::to_string(http_status) + (http_reason.empty() ? "" : " " + http_reason) + "]";
    if (close_code)
        facts += " [close " + std::to_string(close_code) +
                 (close_reason.empty() || what.find(close_reason) != std::string::npos ? "" : " " + close_reason) + "]";
    if (!tls_detail.empty() && what.find(tls_detail) == std::string::npos) facts += " [" + tls_detail + "]";
    return with_detail(what + facts, suggestion);
}

Error config_error(std::string field, std::string message) {
    Error e(Errc::invalid_config, "invalid config field '" + field + "': " + message);
    e.field = std::move(field);
    return e;
}

}  // namespace zenws
