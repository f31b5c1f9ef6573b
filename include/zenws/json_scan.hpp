// zenws/json_scan.hpp — a one-pass scanner that finds what an inbound-message router needs in a JSON text,
// without building a document: the request id, method, result/error, subscription channel, heartbeat kind and
// Binance serverShutdown. Also the normalized request-id key scheme shared by the request tracker and the client.
//
// Only top-level members are looked at (plus params.channel / params.type / params.data and event.e one level
// down); everything else is validated and skipped. Key order and whitespace are free. All string_views point
// into the scanned text (valid while it lives) and hold the raw text between the quotes, i.e. still escaped:
// call json_unescape() when a value contains a backslash (ids are handled for you by IdRef::key_into()).
// Member names are compared as written (a name spelled with \u escapes does not match). With duplicate member
// names the last one wins. Nothing is allocated and nothing is read past the end of the input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zenws {

enum class IdKind : std::uint8_t {
    none,     // absent, null, or not a number/string (objects, arrays, booleans are not ids)
    integer,  // -?[0-9]+
    number,   // a number with a fraction or exponent (JSON-RPC discourages it; keyed by its text)
    string,
};

// A request id as it appears in a message.
struct IdRef {
    IdKind kind = IdKind::none;
    std::string_view raw;      // the token as written: 42, -7, "a\"b" (strings with their quotes)
    std::string_view content;  // numbers: same as raw; strings: the text between the quotes (still escaped)
    bool escaped = false;      // the string contains backslash escapes

    explicit operator bool() const noexcept { return kind != IdKind::none; }

    // The normalized key: numbers -> their decimal text ("42", "-0" -> "0"); strings -> '"' + unescaped
    // content, so the integer 1 ("1") and the string "1" ("\"1") never collide. Empty for IdKind::none.
    // key_into() reuses `out`'s capacity: no allocation once the buffer is large enough.
    void key_into(std::string& out) const;
    std::string key() const;
    // For integer ids that fit in 64 bits.
    std::optional<std::int64_t> as_int64() const noexcept;
};

// Normalized keys for ids we create ourselves (same scheme as IdRef::key()).
std::string id_key(std::int64_t id);
std::string string_id_key(std::string_view unescaped_id);

enum class HeartbeatKind : std::uint8_t {
    none,          // not a heartbeat message
    heartbeat,     // {"method":"heartbeat","params":{"type":"heartbeat"}}: informational
    test_request,  // {"method":"heartbeat","params":{"type":"test_request"}}: must be answered (public/test)
    other,         // "method":"heartbeat" with another or no params.type
};

struct JsonEnvelope {
    bool valid = false;                 // the text is one well-formed JSON object (surrounding whitespace allowed)
    IdRef id;                           // top-level "id"
    bool has_method = false;
    std::string_view method;            // top-level "method" when it is a string
    bool has_result = false;            // top-level "result" present (even null)
    std::string_view result_raw;        // its raw JSON text, e.g. null, ["a","b"], {"x":1}
    bool has_error = false;             // "error" present and not null, or Binance's top-level {"code","msg","id"}
    std::string_view error_raw;         // raw JSON of "error" (the whole text for the top-level Binance form)
    bool has_error_code = false;        // error.code was an integer fitting in 64 bits
    std::int64_t error_code = 0;
    std::string_view error_message;     // error.message (or error.msg / top-level msg), still escaped
    std::string_view params_raw;        // raw JSON of top-level "params"
    std::string_view channel;           // Deribit notification params.channel, or Binance combined "stream"
    std::string_view data_raw;          // notification payload: params.data (Deribit) or "data" (Binance)
    HeartbeatKind heartbeat = HeartbeatKind::none;
    bool server_shutdown = false;       // Binance "e":"serverShutdown" at top level or under "event"

    // A reply to a request: has an id and a result or an error.
    bool is_response() const noexcept { return static_cast<bool>(id) && (has_result || has_error); }
    // A subscription data message (Deribit "method":"subscription" or a Binance combined-stream event).
    bool is_notification() const noexcept { return !channel.empty(); }
};

// Scans `text`. On malformed input or a non-object, returns an envelope with valid == false and every other field
// at its default.
JsonEnvelope scan_json(std::string_view text) noexcept;

// True when `text` is exactly one well-formed JSON value (any type), surrounding whitespace allowed.
bool is_valid_json(std::string_view text) noexcept;

// Decodes the content of a JSON string (the text between the quotes) into UTF-8, appending to `out`. Returns false
// (leaving `out` partially appended) on a bad escape or an unpaired surrogate.
bool json_unescape_append(std::string_view content, std::string& out);
// Convenience: the decoded text, or nullopt when malformed.
std::optional<std::string> json_unescape(std::string_view content);

// Parses raw JSON text that must be an array of strings (e.g. a Deribit subscribe result) into `out` (decoded,
// appended). Returns false if it is not an array of strings; `out` is then left as it was.
bool parse_json_string_array(std::string_view raw, std::vector<std::string>& out);

}  // namespace zenws
