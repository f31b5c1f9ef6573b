// zenws/json_rpc.hpp — building outbound JSON-RPC 2.0 requests (with process-unique integer ids) and JSON string
// escaping. Parsing of replies lives in zenws/json_scan.hpp (scan_json).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace zenws {

// A request ready to send: its id, the id's normalized key (same scheme as IdRef::key(), i.e. the decimal text,
// what the request tracker is keyed by) and the JSON text.
struct JsonRpcRequest {
    std::int64_t id = 0;
    std::string text;
    std::string key() const { return std::to_string(id); }
};

// The next id from a process-wide atomic counter: positive, strictly increasing, unique across threads.
std::int64_t next_request_id() noexcept;

// {"jsonrpc":"2.0","id":<id>,"method":"<method>","params":<params_json>}
// `params_json` is inserted as-is (it must be a JSON object or array; check with is_valid_json() if it comes from
// an untrusted source); an empty `params_json` omits the "params" member. The method is escaped.
JsonRpcRequest build_request(std::string_view method, std::string_view params_json = "{}");
// Same with a caller-chosen id.
JsonRpcRequest build_request(std::int64_t id, std::string_view method, std::string_view params_json = "{}");
// A notification (no id): {"jsonrpc":"2.0","method":"<method>","params":<params_json>}
std::string build_notification(std::string_view method, std::string_view params_json = "{}");

// Appends `s` as a quoted JSON string: escapes '"', '\\' and control characters (\b \f \n \r \t, others as
// \u00XX). Other bytes (UTF-8) are copied unchanged.
void append_json_string(std::string& out, std::string_view s);
// Appends ["a","b",...] (each element escaped as above).
void append_json_string_array(std::string& out, std::span<const std::string> items);
// The quoted, escaped form of `s`.
std::string json_quote(std::string_view s);

}  // namespace zenws
