// zenws/redact.hpp — owns the redaction of secrets in JSON texts that zenws writes down (recordings): the default
// list of secret member names and JsonRedactor, which replaces their values with "[REDACTED]".
//
// What is redacted: the value of every object member, at any depth, whose name equals (ASCII case-insensitively) one
// of the fields — strings, numbers, and whole objects/arrays; null, true and false are kept (they hold no secret).
// Deribit's params.client_secret / params.signature / params.refresh_token / params.access_token and
// result.access_token / result.refresh_token are all caught by the defaults. A string value that itself holds
// escaped JSON ("payload":"{\"password\":\"x\"}") is redacted inside too (a few levels deep).
// The output stays valid JSON when the input was; malformed input is handled best effort (a member name followed by
// ':' is still found). Not covered: member names written with \u escapes, and positional secrets (Bybit's
// {"op":"auth","args":[key, expires, signature]}) — those need an application-side filter.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zenws {

inline constexpr std::string_view redacted_text = "[REDACTED]";

// client_secret, secret, api_secret, apiSecret, password, passphrase, access_token, refresh_token, token, jwt,
// signature, sign, authSig, signed_challenge, api_key, apiKey, key, listenKey, listen_key.
std::vector<std::string> default_redact_fields();

class JsonRedactor {
public:
    JsonRedactor();  // default_redact_fields()
    explicit JsonRedactor(std::vector<std::string> fields);  // empty = redact nothing

    // Fast pre-check: false when no field name appears quoted in `text` ("name" or \"name\"), i.e. there is
    // certainly nothing to redact. No allocation.
    bool may_contain_secret(std::string_view text) const noexcept;

    // When something was redacted: the redacted text in `out`, true. Otherwise false and `out` is left alone (the
    // caller keeps using `text`: nothing is copied for a message without a secret field).
    bool redact(std::string_view text, std::string& out) const;
    // The redacted text, or `text` unchanged.
    std::string redacted(std::string_view text) const;

    const std::vector<std::string>& fields() const noexcept { return fields_; }
    bool empty() const noexcept { return fields_.empty(); }

private:
    bool redact_at(std::string_view text, std::string& out, int depth) const;
    bool is_field(std::string_view raw_name) const;

    std::vector<std::string> fields_;  // as given
    std::vector<std::string> lower_;   // ASCII-lowercased, for the comparisons
    std::array<bool, 256> first_{};    // lowercased first bytes of the fields
};

}  // namespace zenws
