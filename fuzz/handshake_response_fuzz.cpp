// fuzz/handshake_response_fuzz.cpp — libFuzzer target for the opening-handshake response parser and validator
// (zenws::parse_handshake_response, zenws::validate_handshake_response).
//
// The first input byte picks the head size limit; the rest is what the server sent. Checks: no crash; a complete
// parse points just past the first CRLFCRLF within the limit; the incremental contract (the buffer re-parsed as it
// grows) holds — strict prefixes of a complete head are incomplete, the head alone parses the same; errors carry
// one of the two parse error codes; validation never accepts a non-101 answer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/handshake.hpp"

namespace {

void require(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "handshake_response_fuzz invariant violated: %s\n", what);
        std::abort();
    }
}

using State = zenws::ResponseParse::State;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static constexpr std::size_t head_limits[] = {16 * 1024, 64, 200, 1024};
    const std::size_t max_head = head_limits[data[0] & 3];
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    const zenws::ResponseParse parse = zenws::parse_handshake_response(bytes, max_head);
    if (parse.state == State::error) {
        require(parse.error.code == zenws::Errc::malformed_response ||
                    parse.error.code == zenws::Errc::response_too_large,
                "parse error code is malformed_response or response_too_large");
        return 0;
    }
    if (parse.state == State::incomplete) {
        require(bytes.size() < max_head, "an incomplete head is below the limit");
        return 0;
    }

    const std::size_t head = parse.head_size;
    require(head >= 4 && head <= bytes.size(), "head_size within the input");
    require(head <= max_head, "head_size within the limit");
    require(bytes.substr(head - 4, 4) == "\r\n\r\n", "head ends with CRLFCRLF");
    require(bytes.substr(0, head - 4).find("\r\n\r\n") == std::string_view::npos, "the first CRLFCRLF ends the head");
    require(parse.response.body_prefix.size() <= 256, "body prefix is at most 256 bytes");

    // Incremental contract: the head alone parses identically; a few strict prefixes are still incomplete.
    const zenws::ResponseParse head_only = zenws::parse_handshake_response(bytes.substr(0, head), max_head);
    require(head_only.state == State::complete && head_only.head_size == head, "head alone parses complete");
    require(head_only.response.status == parse.response.status, "same status");
    require(head_only.response.headers == parse.response.headers, "same headers");
    const std::size_t prefixes[] = {head - 1, head / 2, 5, 1};
    for (std::size_t prefix : prefixes) {
        if (prefix >= head) continue;
        const auto partial = zenws::parse_handshake_response(bytes.substr(0, prefix), max_head);
        require(partial.state == State::incomplete, "a strict prefix of a complete head is incomplete");
    }

    const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
    const std::vector<std::string> offered = {"chat", "json.v2"};
    const auto outcome = zenws::validate_handshake_response(parse.response, key, offered);
    if (outcome.ok()) {
        require(parse.response.status == 101, "only a 101 answer validates");
        const std::string& chosen = outcome.value().subprotocol;
        require(chosen.empty() || chosen == "chat" || chosen == "json.v2", "chosen subprotocol was offered");
    } else {
        require(static_cast<bool>(outcome.error()), "a failed validation carries an error");
        if (parse.response.status != 101) {
            require(outcome.error().code == zenws::Errc::http_status, "non-101 answers are http_status errors");
        }
    }
    return 0;
}
