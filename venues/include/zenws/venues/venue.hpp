// zenws/venues/venue.hpp — what every venue adapter plugs into a Client (see docs/adapters.md), and the small JSON
// readers the adapters use to turn replies into typed structs.
//
// An adapter is a piece of state that lives OUTSIDE any Client (credentials, tokens, the desired subscriptions) plus
// the hooks it installs into a Client's Config and Handlers:
//   * authentication    Handlers::on_reconnect — runs after every (re)connection, before the subscription restore
//                       and the buffered sends, so the order is always connect -> authenticate -> restore -> resume;
//   * heartbeat         Config::heartbeat (deribit test_request answers, server_ping liveness, ping_pong, custom);
//   * subscriptions     Config::subscription_dialect (deribit_dialect(), binance_dialect(), custom_dialect());
//   * rate limit        Config::rate_limit (rate_limits::deribit(), binance_incoming());
//   * error mapping     classify_error(): venue error code -> what to do (ErrorAction) and which Errc to report;
//   * rotation          a lifetime timer / venue notice that opens a new connection before closing the old one.
// Because the state is outside the Client, install() can be applied to a Client created by a ClientSupervisor:
// every restart creates a new Client whose on_reconnect re-applies the same state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zenws::adapters {

// What a venue error asks the adapter to do.
enum class ErrorAction : std::uint8_t {
    none,            // a plain request error: report it to the caller
    retry,           // transient: the same request may be retried later (e.g. Deribit 10040, 10047)
    reconnect,       // the session is (or will be) terminated: back off, reconnect, re-authenticate, resubscribe
    reauthenticate,  // the token is missing/expired: authenticate again, then retry the request once
    fatal,           // credentials rejected: stop, do not retry
};
std::string_view to_string(ErrorAction) noexcept;

// ---- JSON readers over text that is already known to be valid JSON (e.g. JsonEnvelope::result_raw) -------------
// The raw text of member `key` of the object `object_raw` (nullopt when absent or `object_raw` is not an object).
std::optional<std::string_view> json_member(std::string_view object_raw, std::string_view key);
// A string member, decoded (nullopt when absent, null or not a string).
std::optional<std::string> json_string(std::string_view object_raw, std::string_view key);
// A number member (a JSON number, or a string holding one, as Binance sends prices). nullopt otherwise.
std::optional<double> json_number(std::string_view object_raw, std::string_view key);
// An integer member (a JSON integer, or a string holding one). nullopt otherwise.
std::optional<std::int64_t> json_int(std::string_view object_raw, std::string_view key);
std::optional<bool> json_bool(std::string_view object_raw, std::string_view key);
// The raw elements of an array (nullopt when not an array).
std::optional<std::vector<std::string_view>> json_array(std::string_view array_raw);
// The decoded value of a raw JSON string token ("..."); nullopt when not a string.
std::optional<std::string> json_string_value(std::string_view raw);
// A raw token as a number (JSON number or numeric string).
std::optional<double> json_number_value(std::string_view raw);

}  // namespace zenws::adapters
