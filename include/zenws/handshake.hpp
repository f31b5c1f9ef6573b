// zenws/handshake.hpp — the HTTP/1.1 opening handshake, client side. Pure: builds the request text and parses
// and validates the server's response bytes; the transport does the I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/url.hpp"

namespace zenws {

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

struct HandshakeRequest {
    Url url;
    std::string origin;                     // optional Origin header
    Headers headers;                        // custom headers (e.g. Authorization)
    std::vector<std::string> subprotocols;  // offered in Sec-WebSocket-Protocol
    std::string user_agent = "zenws/0.1";
};

// A fresh Sec-WebSocket-Key: base64 of 16 bytes from the OS CSPRNG.
std::string make_websocket_key();
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
std::string compute_accept(std::string_view key);

// The request text ("GET /path?q HTTP/1.1\r\nHost: ...\r\n...\r\n\r\n").
std::string build_handshake_request(const HandshakeRequest& request, std::string_view key);

struct HandshakeResponse {
    int status = 0;
    std::string reason;
    Headers headers;             // in order received; names as sent
    std::string body_prefix;     // up to 256 bytes of body that arrived with the headers (non-101 answers)

    // Case-insensitive lookup of the first header with this name.
    std::optional<std::string_view> header(std::string_view name) const;
};

// Incremental parser for the response head. Feed the bytes read so far (the whole accumulated buffer each time).
struct ResponseParse {
    enum class State { incomplete, complete, error } state = State::incomplete;
    std::size_t head_size = 0;   // when complete: bytes of the head including the final CRLFCRLF; bytes after it
                                 // belong to the WebSocket stream (frames the server sent right behind the 101)
    HandshakeResponse response;  // when complete
    Error error;                 // when error (malformed_response or response_too_large)
};
ResponseParse parse_handshake_response(std::string_view bytes, std::size_t max_head_size = 16 * 1024);

struct HandshakeOutcome {
    std::string subprotocol;     // the one the server chose (empty if none)
};

// Checks a complete response against the request: 101, Upgrade: websocket, Connection: upgrade,
// Sec-WebSocket-Accept, no extension we did not offer (we offer none), a subprotocol only if offered.
// A Retry-After value (RFC 9110 10.2.3) in seconds: delay-seconds, or an IMF-fixdate HTTP-date measured against the
// response's Date header when there is one (the server's clock), else against `now_unix` (default: the system
// clock); a date in the past is 0. std::nullopt when the value is neither form.
std::optional<int> parse_retry_after(std::string_view value, std::optional<std::string_view> date_header = {},
                                     std::optional<std::int64_t> now_unix = {});

// A non-101 answer yields Errc::http_status with status, reason, body prefix and Retry-After.
Result<HandshakeOutcome> validate_handshake_response(const HandshakeResponse& response, std::string_view key,
                                                     const std::vector<std::string>& offered_subprotocols);

}  // namespace zenws
