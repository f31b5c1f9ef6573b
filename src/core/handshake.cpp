// handshake.cpp — owns the client side of the RFC 6455 opening handshake: key and accept computation, the request
// text, the incremental parse of the response head, and its validation against what we asked for.
#include "zenws/handshake.hpp"

#include "core/ascii.hpp"

#include <chrono>
#include <limits>
#include <optional>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace zenws {
namespace {

using detail::ascii_lower;
using detail::iequals;


constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t body_prefix_limit = 256;

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// RFC 9110 token characters (header names, subprotocol names).
bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// A value we may put on a header line: no CR, LF or NUL (which would end or corrupt the line).
bool is_safe_value(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3), '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(written > 0 ? static_cast<std::size_t>(written) : 0);
    return out;
}

// Does any header called `name` hold `token` in its comma-separated list (case-insensitive)?
bool header_has_token(const Headers& headers, std::string_view name, std::string_view token) {
    for (const auto& [n, v] : headers) {
        if (!iequals(n, name)) continue;
        std::string_view list = v;
        while (true) {
            const std::size_t comma = list.find(',');
            if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    return false;
}

ResponseParse parse_error(Errc code, std::string message) {
    ResponseParse p;
    p.state = ResponseParse::State::error;
    p.error = Error(code, std::move(message));
    return p;
}

// Quote a received line for an error message, cut to a readable length.
std::string quote(std::string_view line) {
    constexpr std::size_t limit = 80;
    std::string out = "'";
    for (char c : line.substr(0, limit)) {
        auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    out += line.size() > limit ? "...'" : "'";
    return out;
}

// "HTTP/1.1 101 Switching Protocols" -> status + reason. Returns an error message, empty on success.
std::string parse_status_line(std::string_view line, HandshakeResponse& out) {
    const std::string bad = "malformed status line " + quote(line) + " (expected 'HTTP/1.1 <code> <reason>')";
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/") return bad;
    const std::string_view version = line.substr(5, 3);
    if (version != "1.1" && version != "1.0") return bad;
    if (line[8] != ' ') return bad;
    const std::string_view code = line.substr(9, 3);
    int status = 0;
    for (char c : code) {
        if (c < '0' || c > '9') return bad;
        status = status * 10 + (c - '0');
    }
    if (status < 100 || status > 599) return bad;
    if (line.size() > 12 && line[12] != ' ') return bad;
    std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
    for (char c : reason) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return bad;
    }
    if (status == 101 && version == "1.0") return "101 Switching Protocols over HTTP/1.0 is not a valid upgrade";
    out.status = status;
    out.reason = std::string(reason);
    return {};
}

}  // namespace

std::string make_websocket_key() {
    std::array<unsigned char, 16> nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
        // OpenSSL's generator failed (practically never: it seeds from the OS). The key only needs to be
        // unpredictable enough to defeat caching intermediaries, so the OS device via random_device will do.
        std::random_device device;
        for (auto& b : nonce) b = static_cast<unsigned char>(device() & 0xff);
    }
    return base64(nonce.data(), nonce.size());
}

std::string compute_accept(std::string_view key) {
    std::string input;
    input.reserve(key.size() + websocket_guid.size());
    input.append(key);
    input.append(websocket_guid);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) != 1) return {};
    return base64(digest.data(), digest_size);
}

std::string build_handshake_request(const HandshakeRequest& request, std::string_view key) {
    const std::string& target = request.url.target.empty() ? std::string("/") : request.url.target;
    std::string out;
    out.reserve(256 + target.size());
    out += "GET ";
    out += target;
    out += " HTTP/1.1\r\nHost: ";
    out += request.url.host_header();
    out += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
    out += key;
    out += "\r\nSec-WebSocket-Version: 13\r\n";
    if (!request.origin.empty() && is_safe_value(request.origin)) {
        out += "Origin: ";
        out += request.origin;
        out += "\r\n";
    }
    std::string protocols;
    for (const auto& p : request.subprotocols) {
        if (!is_token(p)) continue;  // not a valid subprotocol name: it could not be matched anyway
        if (!protocols.empty()) protocols += ", ";
        protocols += p;
    }
    if (!protocols.empty()) {
        out += "Sec-WebSocket-Protocol: ";
        out += protocols;
        out += "\r\n";
    }
    if (!request.user_agent.empty() && is_safe_value(request.user_agent)) {
        out += "User-Agent: ";
        out += request.user_agent;
        out += "\r\n";
    }
    for (const auto& [name, value] : request.headers) {
        // Never let a header smuggle extra lines into the request: drop it rather than emit a raw CR/LF.
        if (!is_token(name) || !is_safe_value(value)) continue;
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

std::optional<std::string_view> HandshakeResponse::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
}

ResponseParse parse_handshake_response(std::string_view bytes, std::size_t max_head_size) {
    // Fail fast on something that is not HTTP at all (e.g. a TLS alert or a banner), without waiting for a
    // terminator that may never come.
    constexpr std::string_view http_prefix = "HTTP/";
    const std::size_t seen = std::min(bytes.size(), http_prefix.size());
    if (bytes.substr(0, seen) != http_prefix.substr(0, seen))
        return parse_error(Errc::malformed_response, "response does not start with 'HTTP/': " + quote(bytes));

    const std::size_t terminator = bytes.find("\r\n\r\n");
    if (terminator == std::string_view::npos || terminator + 4 > max_head_size) {
        if (bytes.size() >= max_head_size)
            return parse_error(Errc::response_too_large, "response head exceeds " + std::to_string(max_head_size) +
                                                             " bytes without ending in an empty line");
        const std::size_t first_eol = bytes.find("\r\n");
        if (first_eol != std::string_view::npos) {
            HandshakeResponse scratch;
            std::string problem = parse_status_line(bytes.substr(0, first_eol), scratch);
            if (!problem.empty()) return parse_error(Errc::malformed_response, std::move(problem));
        }
        return {};
    }

    ResponseParse result;
    HandshakeResponse& response = result.response;
    const std::string_view head = bytes.substr(0, terminator + 2);  // every line, each with its CRLF
    std::size_t pos = head.find("\r\n");
    std::string problem = parse_status_line(head.substr(0, pos), response);
    if (!problem.empty()) return parse_error(Errc::malformed_response, std::move(problem));
    pos += 2;

    while (pos < head.size()) {
        const std::size_t eol = head.find("\r\n", pos);  // always found: head ends with CRLF
        const std::string_view line = head.substr(pos, eol - pos);
        pos = eol + 2;
        if (is_ows(line.front()))
            return parse_error(Errc::malformed_response, "obsolete header line folding: " + quote(line));
        if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
            return parse_error(Errc::malformed_response, "stray CR, LF or NUL in header line " + quote(line));
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos)
            return parse_error(Errc::malformed_response, "header line without ':' " + quote(line));
        const std::string_view name = line.substr(0, colon);
        if (!is_token(name))
            return parse_error(Errc::malformed_response, "invalid header name in " + quote(line));
        response.headers.emplace_back(std::string(name), std::string(trim_ows(line.substr(colon + 1))));
    }

    result.state = ResponseParse::State::complete;
    result.head_size = terminator + 4;
    if (response.status != 101)
        response.body_prefix = std::string(bytes.substr(result.head_size, body_prefix_limit));
    return result;
}

namespace {

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7) to seconds since the Unix epoch.
std::optional<std::int64_t> parse_http_date(std::string_view v) {
    v = trim_ows(v);
    if (v.size() != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
        v[19] != ':' || v[22] != ':' || v.substr(25) != " GMT") {
        return std::nullopt;
    }
    auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        int x = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (v[i] < '0' || v[i] > '9') return std::nullopt;
            x = x * 10 + (v[i] - '0');
        }
        return x;
    };
    static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    auto m = months.find(v.substr(8, 3));
    auto day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
    if (m == std::string_view::npos || m % 3 != 0 || !day || !year || !hh || !mm || !ss) return std::nullopt;
    if (*day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's well-known formulation.
    int y = *year;
    const unsigned mon = static_cast<unsigned>(m / 3 + 1);
    y -= mon <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(*day) - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
    return days * 86400 + *hh * 3600 + *mm * 60 + *ss;
}

}  // namespace

std::optional<int> parse_retry_after(std::string_view value, std::optional<std::string_view> date_header,
                                     std::optional<std::int64_t> now_unix) {
    const std::string_view v = trim_ows(value);
    const bool digits = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
        if (v.size() > 9) return std::numeric_limits<int>::max();  // absurd, but a floor all the same (capped later)
        int seconds = 0;
        for (char c : v) seconds = seconds * 10 + (c - '0');
        return seconds;
    }
    auto when = parse_http_date(v);
    if (!when) return std::nullopt;
    // Against the server's own clock when it sent one (no skew between the two clocks), else ours.
    std::optional<std::int64_t> base;
    if (date_header) base = parse_http_date(*date_header);
    if (!base) {
        base = now_unix ? *now_unix
                        : std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    }
    const std::int64_t delta = *when - *base;
    if (delta <= 0) return 0;
    return static_cast<int>(std::min<std::int64_t>(delta, std::numeric_limits<int>::max()));
}

Result<HandshakeOutcome> validate_handshake_response(const HandshakeResponse& response, std::string_view key,
                                                     const std::vector<std::string>& offered_subprotocols) {
    if (response.status != 101) {
        Error e(Errc::http_status, "server answered " + std::to_string(response.status) +
                                       (response.reason.empty() ? "" : " " + response.reason) + " instead of 101");
        e.http_status = response.status;
        e.http_reason = response.reason;
        e.body_prefix = response.body_prefix;
        if (auto ra = response.header("Retry-After")) {
            if (auto seconds = parse_retry_after(*ra, response.header("Date"))) e.retry_after = *seconds;
        }
        return e;
    }
    if (!header_has_token(response.headers, "Upgrade", "websocket")) {
        auto got = response.header("Upgrade");
        return Error(Errc::missing_upgrade, got ? "Upgrade header is '" + std::string(*got) + "', not 'websocket'"
                                                : "101 response without 'Upgrade: websocket'");
    }
    if (!header_has_token(response.headers, "Connection", "upgrade")) {
        auto got = response.header("Connection");
        return Error(Errc::missing_connection, got ? "Connection header '" + std::string(*got) + "' lacks 'upgrade'"
                                                   : "101 response without 'Connection: upgrade'");
    }
    const std::string expected = compute_accept(key);
    auto accept = response.header("Sec-WebSocket-Accept");
    if (!accept)
        return Error(Errc::bad_accept, "101 response without Sec-WebSocket-Accept (expected " + expected + ")");
    if (*accept != expected)
        return Error(Errc::bad_accept,
                     "Sec-WebSocket-Accept mismatch: expected " + expected + ", got '" + std::string(*accept) + "'");
    for (const auto& [name, value] : response.headers) {
        if (iequals(name, "Sec-WebSocket-Extensions") && !value.empty())
            return Error(Errc::unexpected_extension, "server chose extension '" + value + "' but none was offered");
    }
    HandshakeOutcome outcome;
    if (auto chosen = response.header("Sec-WebSocket-Protocol"); chosen && !chosen->empty()) {
        const bool offered = std::find(offered_subprotocols.begin(), offered_subprotocols.end(), *chosen) !=
                             offered_subprotocols.end();
        if (!offered)
            return Error(Errc::unexpected_subprotocol,
                         "server chose subprotocol '" + std::string(*chosen) + "' which was not offered" +
                             (offered_subprotocols.empty() ? " (none were)" : ""));
        outcome.subprotocol = std::string(*chosen);
    }
    return outcome;
}

}  // namespace zenws
