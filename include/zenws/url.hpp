// zenws/url.hpp — parsing ws:// and wss:// URLs into what the transport and the handshake need, and their redacted
// printable form: query values (listenKey=..., token=...) and userinfo are credentials and never reach a message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "zenws/error.hpp"

namespace zenws {

struct Url {
    bool secure = false;        // wss
    std::string host;           // without brackets for IPv6 literals
    std::uint16_t port = 0;     // explicit or default (80 / 443)
    bool explicit_port = false;
    std::string target;         // path + query, "/" when empty; fragment dropped. Unredacted: what goes on the
                                // wire in the request line (build_handshake_request uses it); never print it.

    // Host header value: host, plus ":port" when the port is not the scheme's default; IPv6 in brackets.
    std::string host_header() const;
    // The URL for messages, logs and observers, REDACTED: every query value becomes [REDACTED]
    // ("wss://h/ws?listenKey=[REDACTED]&x=[REDACTED]"). Not the request target: use `target` for the wire.
    std::string to_string() const;
};

// Accepts ws:// and wss:// (scheme case-insensitive) with a non-empty host, optional port 1..65535, optional
// userinfo is rejected. Errors are config errors naming the field "url"; they quote the URL only redacted.
Result<Url> parse_url(std::string_view text);

// The printable form of any URL-like text, valid or not: userinfo becomes "[REDACTED]@", every query value (and a
// query component without '=') "[REDACTED]", a fragment "#[REDACTED]"; scheme, host, port and path are kept.
// "wss://u:pw@h:1/p?a=1&b#f" -> "wss://[REDACTED]@h:1/p?a=[REDACTED]&[REDACTED]#[REDACTED]". Empty values stay empty.
std::string redact_url(std::string_view text);

}  // namespace zenws
