// redact.cpp — owns JsonRedactor (see zenws/redact.hpp): the quoted-name pre-check and the one-pass, tolerant
// scanner that replaces the values of secret members with "[REDACTED]".
#include "zenws/redact.hpp"

#include "core/ascii.hpp"

#include <cstring>
#include <utility>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"

namespace zenws {
namespace {

using detail::ascii_lower;
using detail::iequals_lower;


// Embedded JSON inside string values is unpacked at most this many levels deep.
constexpr int max_embedded_depth = 4;

bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_ws(s[i])) ++i;
    return i;
}

// Index of the quote closing the string that opens at `open`, or npos when it is unterminated.
std::size_t string_close(std::string_view s, std::size_t open) noexcept {
    for (std::size_t j = open + 1; j < s.size(); ++j) {
        if (s[j] == '\\') ++j;
        else if (s[j] == '"') return j;
    }
    return std::string_view::npos;
}

// End (exclusive) of the value starting at `v`: a string, a balanced object/array (strings inside skipped), or a
// bare token (number, literal, or whatever malformed text runs up to the next delimiter). s.size() when unterminated.
std::size_t value_end(std::string_view s, std::size_t v) noexcept {
    if (v >= s.size()) return s.size();
    const char c = s[v];
    if (c == '"') {
        const std::size_t close = string_close(s, v);
        return close == std::string_view::npos ? s.size() : close + 1;
    }
    if (c == '{' || c == '[') {
        int depth = 0;
        for (std::size_t j = v; j < s.size(); ++j) {
            const char d = s[j];
            if (d == '"') {
                j = string_close(s, j);
                if (j == std::string_view::npos) return s.size();
            } else if (d == '{' || d == '[') {
                ++depth;
            } else if (d == '}' || d == ']') {
                if (--depth == 0) return j + 1;
            }
        }
        return s.size();
    }
    std::size_t j = v;
    while (j < s.size() && !is_ws(s[j]) && s[j] != ',' && s[j] != '}' && s[j] != ']') ++j;
    return j;
}

bool keeps_value(std::string_view token) noexcept { return token == "null" || token == "true" || token == "false"; }

}  // namespace

std::vector<std::string> default_redact_fields() {
    return {"client_secret", "secret",     "api_secret", "apiSecret", "password",  "passphrase", "access_token",
            "refresh_token", "token",      "jwt",        "signature", "sign",      "authSig",    "signed_challenge",
            "api_key",       "apiKey",     "key",        "listenKey", "listen_key"};
}

JsonRedactor::JsonRedactor() : JsonRedactor(default_redact_fields()) {}

JsonRedactor::JsonRedactor(std::vector<std::string> fields) : fields_(std::move(fields)) {
    for (const auto& f : fields_) {
        if (f.empty()) continue;
        std::string lower(f.size(), '\0');
        for (std::size_t i = 0; i < f.size(); ++i) lower[i] = ascii_lower(f[i]);
        first_[static_cast<unsigned char>(lower[0])] = true;
        lower_.push_back(std::move(lower));
    }
}

bool JsonRedactor::may_contain_secret(std::string_view text) const noexcept {
    if (lower_.empty()) return false;
    const char* const begin = text.data();
    const char* const end = begin + text.size();
    for (const char* p = begin; p < end;) {
        const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
        if (!q) return false;
        const std::size_t name = static_cast<std::size_t>(static_cast<const char*>(q) - begin) + 1;
        p = begin + name;
        if (name >= text.size() || !first_[static_cast<unsigned char>(ascii_lower(text[name]))]) continue;
        for (const auto& f : lower_) {
            const std::size_t after = name + f.size();
            if (after >= text.size() || (text[after] != '"' && text[after] != '\\')) continue;
            if (iequals_lower(text.substr(name, f.size()), f)) return true;
        }
    }
    return false;
}

bool JsonRedactor::is_field(std::string_view raw_name) const {
    if (raw_name.find('\\') != std::string_view::npos) {
        if (auto decoded = json_unescape(raw_name)) {
            for (const auto& f : lower_)
                if (iequals_lower(*decoded, f)) return true;
            return false;
        }
    }
    for (const auto& f : lower_)
        if (iequals_lower(raw_name, f)) return true;
    return false;
}

bool JsonRedactor::redact(std::string_view text, std::string& out) const {
    if (!may_contain_secret(text)) return false;
    return redact_at(text, out, 0);
}

std::string JsonRedactor::redacted(std::string_view text) const {
    std::string out;
    if (redact(text, out)) return out;
    return std::string(text);
}

// One pass over the text: every string token is either a member name (followed by ':') or a value. Names that match
// get their value replaced; string values holding escaped JSON are redacted recursively.
bool JsonRedactor::redact_at(std::string_view text, std::string& out, int depth) const {
    bool changed = false;
    std::size_t copied = 0;  // text[0, copied) is already in `out`
    auto start_output = [&] {
        if (changed) return;
        changed = true;
        out.clear();
        out.reserve(text.size() + 16);
    };
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] != '"') {
            ++i;
            continue;
        }
        const std::size_t close = string_close(text, i);
        if (close == std::string_view::npos) break;
        const std::string_view content = text.substr(i + 1, close - i - 1);
        const std::size_t after = close + 1;
        const std::size_t colon = skip_ws(text, after);
        if (colon < text.size() && text[colon] == ':') {  // a member name
            if (is_field(content)) {
                const std::size_t v = skip_ws(text, colon + 1);
                const std::size_t end = value_end(text, v);
                if (end > v && !keeps_value(text.substr(v, end - v))) {
                    start_output();
                    out.append(text, copied, v - copied);
                    out += '"';
                    out += redacted_text;
                    out += '"';
                    copied = end;
                    i = end;
                    continue;
                }
            }
            i = after;
            continue;
        }
        // A string value: it may carry JSON of its own ("{\"password\":...}").
        if (depth < max_embedded_depth && content.find("\\\"") != std::string_view::npos &&
            may_contain_secret(content)) {
            if (auto decoded = json_unescape(content)) {
                std::string inner;
                if (redact_at(*decoded, inner, depth + 1)) {
                    start_output();
                    out.append(text, copied, i - copied);
                    append_json_string(out, inner);
                    copied = after;
                }
            }
        }
        i = after;
    }
    if (!changed) return false;
    out.append(text, copied, std::string_view::npos);
    return true;
}

}  // namespace zenws
