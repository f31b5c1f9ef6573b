// url.cpp — owns parse_url(), Url's text forms (Host header value, redacted URL) and redact_url() for ws:// and
// wss:// URLs.
#include "zenws/url.hpp"

#include "core/ascii.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace zenws {
namespace {

using detail::ascii_lower;
using detail::iequals;


constexpr std::uint16_t default_port(bool secure) noexcept { return secure ? 443 : 80; }

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Printable form of a byte for error messages ("' '", "0x0a").
std::string describe_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u == ' ') return "a space";
    if (u < 0x20 || u == 0x7f || u >= 0x80) {
        static constexpr char digits[] = "0123456789abcdef";
        return std::string("byte 0x") + digits[u >> 4] + digits[u & 0xf];
    }
    return std::string("'") + c + "'";
}

Error url_error(std::string message) { return config_error("url", std::move(message)); }

// Appends path + query + fragment with the query values and the fragment redacted.
void append_redacted_target(std::string& out, std::string_view rest) {
    const std::size_t q = rest.find_first_of("?#");
    out += rest.substr(0, q);
    if (q == std::string_view::npos) return;
    std::size_t hash = q;
    if (rest[q] == '?') {
        hash = rest.find('#', q);
        const std::string_view query = rest.substr(q + 1, hash == std::string_view::npos ? hash : hash - q - 1);
        out += '?';
        std::size_t start = 0;
        for (;;) {
            const std::size_t amp = query.find('&', start);
            const std::string_view part = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
            const std::size_t eq = part.find('=');
            if (eq != std::string_view::npos) {
                out += part.substr(0, eq + 1);
                if (eq + 1 < part.size()) out += "[REDACTED]";
            } else if (!part.empty()) {
                out += "[REDACTED]";  // a bare component may be the credential itself (?<token>)
            }
            if (amp == std::string_view::npos) break;
            out += '&';
            start = amp + 1;
        }
    }
    if (hash != std::string_view::npos) out += hash + 1 < rest.size() ? "#[REDACTED]" : "#";
}

// Registered-name hosts: letters, digits and the unreserved punctuation. Internationalized names must be given
// in their ASCII (punycode) form; anything else would end up raw in the Host header and the TLS SNI.
bool is_reg_name_char(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Path and query characters we send verbatim in the request line: visible ASCII except '#' (already split off).
bool is_target_char(char c) noexcept {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
}

Result<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty()) return url_error("empty port after ':' (give a number 1..65535 or omit the ':')");
    for (char c : text)
        if (!is_digit(c)) return url_error("port '" + std::string(text) + "' is not a number (expected 1..65535)");
    // Leading zeros are harmless; skip them so the length check below only counts significant digits.
    std::size_t first = text.find_first_not_of('0');
    std::string_view significant = first == std::string_view::npos ? std::string_view{} : text.substr(first);
    if (significant.size() > 5) return url_error("port " + std::string(text) + " is out of range 1..65535");
    unsigned value = 0;
    for (char c : significant) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value < 1 || value > 65535) return url_error("port " + std::string(text) + " is out of range 1..65535");
    return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
    if (text.empty()) return url_error("URL is empty (expected ws://host[:port]/path or wss://...)");
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f)
            return url_error("URL contains " + describe_char(c) + " (spaces and control characters must be "
                             "percent-encoded)");
        if (u >= 0x80) return url_error("URL contains non-ASCII " + describe_char(c) + " (percent-encode it)");
    }

    Url url;
    const std::size_t sep = text.find("://");
    if (sep == std::string_view::npos)
        return url_error("'" + redact_url(text) + "' has no scheme (expected ws:// or wss://)");
    const std::string_view scheme = text.substr(0, sep);
    if (iequals(scheme, "ws")) url.secure = false;
    else if (iequals(scheme, "wss")) url.secure = true;
    else return url_error("unsupported scheme '" + std::string(scheme) + "' (expected ws:// or wss://)");

    const std::string_view rest = text.substr(sep + 3);
    const std::size_t authority_end = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, authority_end);
    const std::string_view after =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

    if (authority.find('@') != std::string_view::npos)
        return url_error("userinfo (user@host) is not supported in the URL; send credentials in a header instead");
    if (authority.empty()) return url_error("host is empty");

    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return url_error("IPv6 address is missing its closing ']'");
        const std::string_view literal = authority.substr(1, close - 1);
        if (literal.empty()) return url_error("host is empty (nothing between '[' and ']')");
        bool has_colon = false;
        for (char c : literal) {
            if (c == ':') has_colon = true;
            else if (!is_hex(c) && c != '.')
                return url_error("IPv6 address '" + std::string(literal) + "' contains " + describe_char(c));
        }
        if (!has_colon) return url_error("'[" + std::string(literal) + "]' is not an IPv6 address");
        url.host = std::string(literal);
        const std::string_view tail = authority.substr(close + 1);
        if (!tail.empty()) {
            if (tail.front() != ':')
                return url_error("unexpected '" + std::string(tail) + "' after the IPv6 address (expected ':port')");
            has_port = true;
            port_text = tail.substr(1);
        }
    } else {
        const std::size_t colon = authority.find(':');
        std::string_view host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.find(':') != std::string_view::npos)
                return url_error("host '" + std::string(authority) + "' has several ':' (IPv6 addresses must be "
                                 "written in brackets, e.g. ws://[::1]:9000/)");
            has_port = true;
        }
        if (host.empty()) return url_error("host is empty");
        for (char c : host)
            if (!is_reg_name_char(c))
                return url_error("host '" + std::string(host) + "' contains " + describe_char(c));
        url.host = std::string(host);
    }

    if (has_port) {
        auto port = parse_port(port_text);
        if (!port) return port.error();
        url.port = port.value();
        url.explicit_port = true;
    } else {
        url.port = default_port(url.secure);
    }

    // Target: path + query exactly as written; the fragment is client-side only and never sent.
    std::string_view target = after.substr(0, after.find('#'));
    for (char c : target)
        if (!is_target_char(c)) return url_error("path contains " + describe_char(c));
    if (target.empty() || target.front() == '?') url.target = "/";
    url.target += std::string(target);
    return url;
}

std::string Url::host_header() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 0 && port != default_port(secure)) out += ":" + std::to_string(port);
    return out;
}

std::string Url::to_string() const {
    std::string out = secure ? "wss://" : "ws://";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != 0 && (explicit_port || port != default_port(secure))) out += ":" + std::to_string(port);
    if (target.empty()) out += '/';
    else append_redacted_target(out, target);
    return out;
}

std::string redact_url(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    const std::size_t sep = text.find("://");
    const std::size_t start = sep == std::string_view::npos ? 0 : sep + 3;
    const std::size_t authority_end = std::min(text.find_first_of("/?#", start), text.size());
    const std::string_view authority = text.substr(start, authority_end - start);
    out += text.substr(0, start);
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        out += "[REDACTED]@";
        out += authority.substr(at + 1);
    } else {
        out += authority;
    }
    append_redacted_target(out, text.substr(authority_end));
    return out;
}

}  // namespace zenws
