// json_scan.cpp — the allocation-free JSON envelope scanner (scan_json), full-grammar validation of the skipped
// parts, JSON string unescaping and the request-id key scheme. See zenws/json_scan.hpp.
#include "zenws/json_scan.hpp"

#include <charconv>

namespace zenws {

namespace {

constexpr int kMaxDepth = 256;  // deeper nesting is rejected as malformed (bounds the recursion)

struct Cursor {
    const char* p;
    const char* e;

    bool at_end() const noexcept { return p >= e; }
    void ws() noexcept {
        while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    }
};

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Bytes that end a plain run inside a string: '"', '\\' and control characters.
struct SpecialTable {
    bool v[256] = {};
    constexpr SpecialTable() {
        for (int i = 0; i < 0x20; ++i) v[i] = true;
        v[static_cast<unsigned char>('"')] = true;
        v[static_cast<unsigned char>('\\')] = true;
    }
};
constexpr SpecialTable kStringSpecial{};

// At '"'. Validates the string, sets `content` to the text between the quotes and advances past the closing quote.
bool scan_string(Cursor& c, std::string_view& content, bool& escaped) noexcept {
    const char* start = ++c.p;
    escaped = false;
    while (c.p < c.e) {
        while (c.p < c.e && !kStringSpecial.v[static_cast<unsigned char>(*c.p)]) ++c.p;  // plain run
        if (c.p >= c.e) break;
        const auto ch = static_cast<unsigned char>(*c.p);
        if (ch == '"') {
            content = std::string_view(start, static_cast<std::size_t>(c.p - start));
            ++c.p;
            return true;
        }
        if (ch == '\\') {
            escaped = true;
            if (c.e - c.p < 2) return false;
            const char x = c.p[1];
            if (x == 'u') {
                if (c.e - c.p < 6) return false;
                if (!is_hex(c.p[2]) || !is_hex(c.p[3]) || !is_hex(c.p[4]) || !is_hex(c.p[5])) return false;
                c.p += 6;
                continue;
            }
            if (x != '"' && x != '\\' && x != '/' && x != 'b' && x != 'f' && x != 'n' && x != 'r' && x != 't') {
                return false;
            }
            c.p += 2;
            continue;
        }
        if (ch < 0x20) return false;  // raw control characters are not allowed in JSON strings
        ++c.p;
    }
    return false;
}

// At '-' or a digit. Validates a JSON number; `integer` is false when it has a fraction or an exponent.
bool scan_number(Cursor& c, bool& integer) noexcept {
    integer = true;
    if (*c.p == '-') ++c.p;
    if (c.at_end()) return false;
    if (*c.p == '0') {
        ++c.p;
    } else if (*c.p >= '1' && *c.p <= '9') {
        while (c.p < c.e && is_digit(*c.p)) ++c.p;
    } else {
        return false;
    }
    if (c.p < c.e && *c.p == '.') {
        integer = false;
        ++c.p;
        if (c.at_end() || !is_digit(*c.p)) return false;
        while (c.p < c.e && is_digit(*c.p)) ++c.p;
    }
    if (c.p < c.e && (*c.p == 'e' || *c.p == 'E')) {
        integer = false;
        ++c.p;
        if (c.p < c.e && (*c.p == '+' || *c.p == '-')) ++c.p;
        if (c.at_end() || !is_digit(*c.p)) return false;
        while (c.p < c.e && is_digit(*c.p)) ++c.p;
    }
    return true;
}

bool scan_literal(Cursor& c, std::string_view word) noexcept {
    if (static_cast<std::size_t>(c.e - c.p) < word.size()) return false;
    if (std::string_view(c.p, word.size()) != word) return false;
    c.p += word.size();
    return true;
}

bool skip_value(Cursor& c, int depth) noexcept;

// At '{'. Calls on_member(name, cursor, depth) with the cursor at the member's value; it must consume the value.
template <class F>
bool scan_object(Cursor& c, int depth, F&& on_member) {
    ++c.p;
    c.ws();
    if (c.p < c.e && *c.p == '}') {
        ++c.p;
        return true;
    }
    while (c.p < c.e) {  // every iteration consumes at least a name and a value
        if (*c.p != '"') return false;
        std::string_view name;
        bool escaped = false;
        if (!scan_string(c, name, escaped)) return false;
        c.ws();
        if (c.at_end() || *c.p != ':') return false;
        ++c.p;
        c.ws();
        if (c.at_end()) return false;
        if (!on_member(name, c, depth + 1)) return false;
        c.ws();
        if (c.at_end()) return false;
        if (*c.p == ',') {
            ++c.p;
            c.ws();
            continue;
        }
        if (*c.p == '}') {
            ++c.p;
            return true;
        }
        return false;
    }
    return false;
}

bool skip_array(Cursor& c, int depth) noexcept {
    ++c.p;
    c.ws();
    if (c.p < c.e && *c.p == ']') {
        ++c.p;
        return true;
    }
    while (c.p < c.e) {
        if (!skip_value(c, depth + 1)) return false;
        c.ws();
        if (c.at_end()) return false;
        if (*c.p == ',') {
            ++c.p;
            c.ws();
            continue;
        }
        if (*c.p == ']') {
            ++c.p;
            return true;
        }
        return false;
    }
    return false;
}

bool skip_member(std::string_view, Cursor& c, int depth) noexcept { return skip_value(c, depth); }

// Validates and skips one value starting at the cursor (no leading whitespace).
bool skip_value(Cursor& c, int depth) noexcept {
    if (depth > kMaxDepth || c.at_end()) return false;
    switch (*c.p) {
        case '{': return scan_object(c, depth, skip_member);
        case '[': return skip_array(c, depth);
        case '"': {
            std::string_view s;
            bool escaped = false;
            return scan_string(c, s, escaped);
        }
        case 't': return scan_literal(c, "true");
        case 'f': return scan_literal(c, "false");
        case 'n': return scan_literal(c, "null");
        default: {
            if (*c.p != '-' && !is_digit(*c.p)) return false;
            bool integer = false;
            return scan_number(c, integer);
        }
    }
}

// Skips a value and returns its raw text.
bool capture_value(Cursor& c, int depth, std::string_view& raw) noexcept {
    const char* start = c.p;
    if (!skip_value(c, depth)) return false;
    raw = std::string_view(start, static_cast<std::size_t>(c.p - start));
    return true;
}

// A string member: captured when the value is a string, otherwise skipped (found stays false).
bool capture_string(Cursor& c, int depth, std::string_view& out, bool& found) noexcept {
    if (*c.p != '"') return skip_value(c, depth);
    bool escaped = false;
    if (!scan_string(c, out, escaped)) return false;
    found = true;
    return true;
}

bool parse_int64(std::string_view text, std::int64_t& out) noexcept {
    const auto* first = text.data();
    const auto* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, out);
    return ec == std::errc() && ptr == last;
}

// An integer member: captured when the value is an integer fitting in 64 bits, otherwise skipped.
bool capture_int(Cursor& c, int depth, std::int64_t& out, bool& found) noexcept {
    if (*c.p != '-' && !is_digit(*c.p)) return skip_value(c, depth);
    const char* start = c.p;
    bool integer = false;
    if (!scan_number(c, integer)) return false;
    if (integer && parse_int64(std::string_view(start, static_cast<std::size_t>(c.p - start)), out)) found = true;
    return true;
}

struct ErrorFields {
    bool has_code = false;
    std::int64_t code = 0;
    bool has_message = false;
    std::string_view message;
};

// Members of an "error" object: code, message (JSON-RPC) or msg (Binance).
bool scan_error_object(Cursor& c, int depth, ErrorFields& f) {
    return scan_object(c, depth, [&f](std::string_view name, Cursor& cc, int d) {
        if (name == "code") return capture_int(cc, d, f.code, f.has_code);
        if (name == "message" || name == "msg") return capture_string(cc, d, f.message, f.has_message);
        return skip_value(cc, d);
    });
}

void append_codepoint(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Reads 4 hex digits at s[i..i+3]; -1 if not available or not hex.
long read_hex4(std::string_view s, std::size_t i) noexcept {
    if (i + 4 > s.size()) return -1;
    long v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
        const int h = hex_value(s[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

}  // namespace

// ---- ids -------------------------------------------------------------------------------------------------------

void IdRef::key_into(std::string& out) const {
    out.clear();
    switch (kind) {
        case IdKind::none: return;
        case IdKind::integer:
        case IdKind::number:
            if (content == "-0") {
                out.push_back('0');
            } else {
                out.append(content);
            }
            return;
        case IdKind::string:
            out.push_back('"');
            if (!escaped) {
                out.append(content);
            } else if (!json_unescape_append(content, out)) {
                out.resize(1);  // unpaired surrogate: fall back to the escaped text, still a distinct key
                out.append(content);
            }
            return;
    }
}

std::string IdRef::key() const {
    std::string out;
    key_into(out);
    return out;
}

std::optional<std::int64_t> IdRef::as_int64() const noexcept {
    if (kind != IdKind::integer) return std::nullopt;
    std::int64_t v = 0;
    if (!parse_int64(content, v)) return std::nullopt;
    return v;
}

std::string id_key(std::int64_t id) { return std::to_string(id); }

std::string string_id_key(std::string_view unescaped_id) {
    std::string out;
    out.reserve(unescaped_id.size() + 1);
    out.push_back('"');
    out.append(unescaped_id);
    return out;
}

// ---- scanner ---------------------------------------------------------------------------------------------------

JsonEnvelope scan_json(std::string_view text) noexcept {
    JsonEnvelope env;
    Cursor c{text.data(), text.data() + text.size()};
    c.ws();
    if (c.at_end() || *c.p != '{') return env;

    // Facts gathered in any order; interpreted once the object is complete.
    bool has_params_type = false, has_params_channel = false, has_params_data = false;
    std::string_view params_type, params_channel, params_data;
    bool has_stream = false, has_data = false;
    std::string_view stream, data;
    bool has_top_code = false, has_top_msg = false;
    std::int64_t top_code = 0;
    std::string_view top_msg;
    bool shutdown = false;
    ErrorFields err;

    auto member = [&](std::string_view name, Cursor& cc, int d) -> bool {
        switch (name.size()) {
            case 1:
                if (name == "e") {
                    std::string_view ev;
                    bool found = false;
                    if (!capture_string(cc, d, ev, found)) return false;
                    if (found) shutdown = shutdown || ev == "serverShutdown";
                    return true;
                }
                break;
            case 2:
                if (name == "id") {
                    env.id = IdRef{};
                    const char first = *cc.p;
                    const char* start = cc.p;
                    if (first == '"') {
                        std::string_view content;
                        bool escaped = false;
                        if (!scan_string(cc, content, escaped)) return false;
                        env.id.kind = IdKind::string;
                        env.id.content = content;
                        env.id.escaped = escaped;
                    } else if (first == '-' || is_digit(first)) {
                        bool integer = false;
                        if (!scan_number(cc, integer)) return false;
                        env.id.kind = integer ? IdKind::integer : IdKind::number;
                        env.id.content = std::string_view(start, static_cast<std::size_t>(cc.p - start));
                    } else {
                        return skip_value(cc, d);  // null, bool, object, array: no id
                    }
                    env.id.raw = std::string_view(start, static_cast<std::size_t>(cc.p - start));
                    return true;
                }
                break;
            case 3:
                if (name == "msg") return capture_string(cc, d, top_msg, has_top_msg);
                break;
            case 4:
                if (name == "code") return capture_int(cc, d, top_code, has_top_code);
                if (name == "data") {
                    has_data = true;
                    return capture_value(cc, d, data);
                }
                break;
            case 5:
                if (name == "error") {
                    env.has_error = false;
                    err = ErrorFields{};
                    if (*cc.p == '{') {
                        const char* start = cc.p;
                        if (!scan_error_object(cc, d, err)) return false;
                        env.error_raw = std::string_view(start, static_cast<std::size_t>(cc.p - start));
                        env.has_error = true;
                        return true;
                    }
                    if (!capture_value(cc, d, env.error_raw)) return false;
                    env.has_error = env.error_raw != "null";
                    return true;
                }
                if (name == "event") {
                    if (*cc.p != '{') return skip_value(cc, d);
                    return scan_object(cc, d, [&](std::string_view n, Cursor& c2, int d2) -> bool {
                        if (n != "e") return skip_value(c2, d2);
                        std::string_view ev;
                        bool found = false;
                        if (!capture_string(c2, d2, ev, found)) return false;
                        if (found) shutdown = shutdown || ev == "serverShutdown";
                        return true;
                    });
                }
                break;
            case 6:
                if (name == "method") {
                    env.has_method = false;
                    return capture_string(cc, d, env.method, env.has_method);
                }
                if (name == "result") {
                    env.has_result = true;
                    return capture_value(cc, d, env.result_raw);
                }
                if (name == "stream") return capture_string(cc, d, stream, has_stream);
                if (name == "params") {
                    const char* start = cc.p;
                    if (*cc.p == '{') {
                        const bool ok = scan_object(cc, d, [&](std::string_view n, Cursor& c2, int d2) -> bool {
                            if (n == "type") return capture_string(c2, d2, params_type, has_params_type);
                            if (n == "channel") return capture_string(c2, d2, params_channel, has_params_channel);
                            if (n == "data") {
                                has_params_data = true;
                                return capture_value(c2, d2, params_data);
                            }
                            return skip_value(c2, d2);
                        });
                        if (!ok) return false;
                    } else if (!skip_value(cc, d)) {
                        return false;
                    }
                    env.params_raw = std::string_view(start, static_cast<std::size_t>(cc.p - start));
                    return true;
                }
                break;
            default: break;
        }
        return skip_value(cc, d);
    };

    if (!scan_object(c, 1, member)) return JsonEnvelope{};
    c.ws();
    if (!c.at_end()) return JsonEnvelope{};  // trailing garbage

    env.valid = true;
    if (env.has_error) {
        env.has_error_code = err.has_code;
        env.error_code = err.has_code ? err.code : 0;
        env.error_message = err.has_message ? err.message : std::string_view{};
    } else if (!env.has_result && env.id && has_top_code && has_top_msg) {
        // Binance's unwrapped error reply: {"code":2,"msg":"Invalid request","id":5}
        env.has_error = true;
        env.has_error_code = true;
        env.error_code = top_code;
        env.error_message = top_msg;
        env.error_raw = text;
    }
    if (env.has_method && env.method == "heartbeat") {
        if (!has_params_type) {
            env.heartbeat = HeartbeatKind::other;
        } else if (params_type == "test_request") {
            env.heartbeat = HeartbeatKind::test_request;
        } else if (params_type == "heartbeat") {
            env.heartbeat = HeartbeatKind::heartbeat;
        } else {
            env.heartbeat = HeartbeatKind::other;
        }
    } else if (env.has_method && env.method == "subscription" && has_params_channel) {
        env.channel = params_channel;
        if (has_params_data) env.data_raw = params_data;
    } else if (has_stream && has_data) {
        env.channel = stream;
        env.data_raw = data;
    }
    env.server_shutdown = shutdown;
    return env;
}

bool is_valid_json(std::string_view text) noexcept {
    Cursor c{text.data(), text.data() + text.size()};
    c.ws();
    if (!skip_value(c, 1)) return false;
    c.ws();
    return c.at_end();
}

// ---- strings ---------------------------------------------------------------------------------------------------

bool json_unescape_append(std::string_view s, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        const char ch = s[i];
        if (ch != '\\') {
            // copy the run up to the next backslash in one go
            const std::size_t next = s.find('\\', i);
            const std::size_t stop = next == std::string_view::npos ? s.size() : next;
            out.append(s.substr(i, stop - i));
            i = stop;
            continue;
        }
        if (i + 1 >= s.size()) return false;
        const char x = s[i + 1];
        i += 2;
        switch (x) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                const long hi = read_hex4(s, i);
                if (hi < 0) return false;
                i += 4;
                auto cp = static_cast<std::uint32_t>(hi);
                if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return false;
                    const long lo = read_hex4(s, i + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF) return false;
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
                }
                append_codepoint(cp, out);
                break;
            }
            default: return false;
        }
    }
    return true;
}

std::optional<std::string> json_unescape(std::string_view content) {
    std::string out;
    out.reserve(content.size());
    if (!json_unescape_append(content, out)) return std::nullopt;
    return out;
}

bool parse_json_string_array(std::string_view raw, std::vector<std::string>& out) {
    const std::size_t old_size = out.size();
    auto fail = [&]() {
        out.resize(old_size);
        return false;
    };
    Cursor c{raw.data(), raw.data() + raw.size()};
    c.ws();
    if (c.at_end() || *c.p != '[') return false;
    ++c.p;
    c.ws();
    if (c.p < c.e && *c.p == ']') {
        ++c.p;
        c.ws();
        return c.at_end() ? true : fail();
    }
    while (c.p < c.e) {
        if (*c.p != '"') return fail();
        std::string_view content;
        bool escaped = false;
        if (!scan_string(c, content, escaped)) return fail();
        if (escaped) {
            std::string item;
            if (!json_unescape_append(content, item)) return fail();
            out.push_back(std::move(item));
        } else {
            out.emplace_back(content);
        }
        c.ws();
        if (c.at_end()) return fail();
        if (*c.p == ',') {
            ++c.p;
            c.ws();
            continue;
        }
        if (*c.p == ']') {
            ++c.p;
            c.ws();
            return c.at_end() ? true : fail();
        }
        return fail();
    }
    return fail();
}

}  // namespace zenws
