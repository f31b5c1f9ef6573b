// zenws/url.hpp — parsing ws:// and wss:// URLs into what the transport and the handshake need.
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
    std::string target;         // path + query, "/" when empty; fragment dropped

    // Host header value: host, plus ":port" when the port is not the scheme's default; IPv6 in brackets.
    std::string host_header() const;
    std::string to_string() const;
};

// Accepts ws:// and wss:// (scheme case-insensitive) with a non-empty host, optional port 1..65535, optional
// userinfo is rejected. Errors are config errors naming the field "url".
Result<Url> parse_url(std::string_view text);

}  // namespace zenws
