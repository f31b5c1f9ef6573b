// recorder.cpp — owns the JSON-lines recording format (format/parse, timestamps, base64), the readers
// (replay_recording, recording_metadata) and RecordWriter with its background flusher and async-signal-safe crash
// flush (secret redaction itself is in redact.cpp). See zenws/recorder.hpp for the format and the crash-flush limits.
#include "zenws/recorder.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zenws/utf8.hpp"

namespace zenws {

using SysClock = std::chrono::system_clock;

std::string_view to_string(RecordDirection d) noexcept { return d == RecordDirection::in ? "in" : "out"; }

std::string_view to_string(RecordType t) noexcept {
    switch (t) {
        case RecordType::text: return "text";
        case RecordType::binary: return "binary";
        case RecordType::close: return "close";
    }
    return "?";
}

std::string_view to_string(RecordErrc e) noexcept {
    switch (e) {
        case RecordErrc::ok: return "ok";
        case RecordErrc::empty_line: return "empty_line";
        case RecordErrc::malformed_json: return "malformed_json";
        case RecordErrc::missing_field: return "missing_field";
        case RecordErrc::bad_timestamp: return "bad_timestamp";
        case RecordErrc::bad_direction: return "bad_direction";
        case RecordErrc::bad_type: return "bad_type";
        case RecordErrc::bad_base64: return "bad_base64";
        case RecordErrc::bad_close: return "bad_close";
    }
    return "?";
}

// ---- base64 ----------------------------------------------------------------------------------------------------

namespace {
constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}
}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += b64_alphabet[(v >> 18) & 63];
        out += b64_alphabet[(v >> 12) & 63];
        out += b64_alphabet[(v >> 6) & 63];
        out += b64_alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = byte(i) << 16;
        out += b64_alphabet[(v >> 18) & 63];
        out += b64_alphabet[(v >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += b64_alphabet[(v >> 18) & 63];
        out += b64_alphabet[(v >> 12) & 63];
        out += b64_alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=') {
                // '=' only in the last group, only in the last two positions, and nothing but '=' after it.
                if (!last || k < 2) return std::nullopt;
                ++pad;
                v[k] = 0;
            } else {
                if (pad > 0) return std::nullopt;
                v[k] = b64_value(c);
                if (v[k] < 0) return std::nullopt;
            }
        }
        const std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
                                (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
        // Reject non-canonical encodings (bits set in the padding part).
        if (pad == 1 && (n & 0xFF) != 0) return std::nullopt;
        if (pad == 2 && (n & 0xFFFF) != 0) return std::nullopt;
        out += static_cast<char>((n >> 16) & 0xFF);
        if (pad < 2) out += static_cast<char>((n >> 8) & 0xFF);
        if (pad < 1) out += static_cast<char>(n & 0xFF);
    }
    return out;
}

// ---- timestamps ------------------------------------------------------------------------------------------------

std::string format_record_timestamp(SysClock::time_point ts) {
    using namespace std::chrono;
    const auto us = floor<microseconds>(ts);
    const auto day = floor<days>(us);
    const year_month_day ymd{day};
    const hh_mm_ss hms{us - day};
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<long long>(hms.subseconds().count()));
    return buf;
}

std::optional<SysClock::time_point> parse_record_timestamp(std::string_view t) noexcept {
    using namespace std::chrono;
    auto digits = [&](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > t.size()) return false;
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return false;
            v = v * 10 + (t[i] - '0');
        }
        out = v;
        return true;
    };
    int y, mo, d, h, mi, s;
    if (t.size() < 20) return std::nullopt;
    if (!digits(0, 4, y) || t[4] != '-' || !digits(5, 2, mo) || t[7] != '-' || !digits(8, 2, d) || t[10] != 'T' ||
        !digits(11, 2, h) || t[13] != ':' || !digits(14, 2, mi) || t[16] != ':' || !digits(17, 2, s))
        return std::nullopt;
    std::size_t pos = 19;
    long long frac_us = 0;
    if (t[pos] == '.') {
        ++pos;
        std::size_t n = 0;
        long long scale = 100000;
        while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
            if (n < 6) {
                frac_us += (t[pos] - '0') * scale;
                scale /= 10;
            }
            ++n;
            ++pos;
        }
        if (n == 0 || n > 9) return std::nullopt;
    }
    if (pos + 1 != t.size() || t[pos] != 'Z') return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
    return SysClock::time_point{sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + microseconds{frac_us}};
}

// ---- JSON writing ----------------------------------------------------------------------------------------------

namespace {

// Appends s as a JSON string (with quotes). escape_high: bytes >= 0x80 become \u00XX (for text that is not UTF-8;
// lossy, used for close reasons only).
void append_json_string(std::string& out, std::string_view s, bool escape_high = false) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || (escape_high && c >= 0x80)) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

// One line without '\n'. For close, `data` is ignored and code/reason are used.
std::string format_line(RecordDirection dir, RecordType type, std::string_view data, SysClock::time_point ts,
                        std::uint16_t close_code, std::string_view close_reason) {
    std::string out;
    out.reserve(data.size() + data.size() / 8 + 96);
    out += "{\"ts\":\"";
    out += format_record_timestamp(ts);
    out += "\",\"dir\":\"";
    out += to_string(dir);
    out += "\",\"type\":\"";
    out += to_string(type);
    out += "\",\"data\":";
    switch (type) {
        case RecordType::text:
            if (is_valid_utf8(data)) {
                append_json_string(out, data);
            } else {
                append_json_string(out, base64_encode(data));
                out += ",\"binary\":true";
            }
            break;
        case RecordType::binary:
            append_json_string(out, base64_encode(data));
            out += ",\"binary\":true";
            break;
        case RecordType::close:
            append_json_string(out, format_close_data(close_code, close_reason));
            break;
    }
    out += '}';
    return out;
}

// ---- JSON reading (just enough for one flat record object) -----------------------------------------------------

struct JsonValue {
    enum class Kind { string, number, boolean, null, object, array } kind = Kind::null;
    std::string str;        // string: decoded; number: the text
    bool boolean = false;
    std::string_view raw;   // the value's source text (objects: for close data given as an object)
};

class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    // Parses `{ "k": v, ... }` with nothing but whitespace after it. fn(key, value) per member.
    template <class Fn>
    bool object(Fn&& fn) {
        ws();
        if (!eat('{')) return false;
        ws();
        if (eat('}')) return at_end();
        for (;;) {
            ws();
            std::string key;
            if (!string(key)) return false;
            ws();
            if (!eat(':')) return false;
            JsonValue v;
            if (!value(v, 0)) return false;
            fn(key, v);
            ws();
            if (eat(',')) continue;
            if (eat('}')) return at_end();
            return false;
        }
    }

private:
    static constexpr int max_depth = 32;

    bool at_end() {
        ws();
        return pos_ == s_.size();
    }
    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }
    bool hex4(std::uint32_t& out) {
        if (pos_ + 4 > s_.size()) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[pos_++];
            out <<= 4;
            if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }
    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        for (;;) {
            if (pos_ >= s_.size()) return false;
            const char c = s_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return false;
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
                        std::uint32_t lo;
                        if (!literal("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return false;
            }
        }
    }
    bool number(std::string& out) {
        const std::size_t start = pos_;
        eat('-');
        auto digits = [&] {
            const std::size_t b = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            return pos_ > b;
        };
        if (!digits()) return false;
        if (eat('.') && !digits()) return false;
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (!eat('+')) eat('-');
            if (!digits()) return false;
        }
        out.assign(s_.substr(start, pos_ - start));
        return true;
    }
    bool value(JsonValue& v, int depth) {
        ws();
        if (pos_ >= s_.size()) return false;
        const std::size_t start = pos_;
        const char c = s_[pos_];
        bool ok = false;
        if (c == '"') {
            v.kind = JsonValue::Kind::string;
            ok = string(v.str);
        } else if (c == '{' || c == '[') {
            v.kind = c == '{' ? JsonValue::Kind::object : JsonValue::Kind::array;
            ok = skip_container(depth + 1);
        } else if (c == 't') {
            v.kind = JsonValue::Kind::boolean;
            v.boolean = true;
            ok = literal("true");
        } else if (c == 'f') {
            v.kind = JsonValue::Kind::boolean;
            ok = literal("false");
        } else if (c == 'n') {
            v.kind = JsonValue::Kind::null;
            ok = literal("null");
        } else {
            v.kind = JsonValue::Kind::number;
            ok = number(v.str);
        }
        if (ok) v.raw = s_.substr(start, pos_ - start);
        return ok;
    }
    // Validates and skips an object or array (nesting bounded by max_depth).
    bool skip_container(int depth) {
        if (depth > max_depth) return false;
        const char close = s_[pos_] == '{' ? '}' : ']';
        const bool is_object = close == '}';
        ++pos_;
        ws();
        if (eat(close)) return true;
        for (;;) {
            ws();
            if (is_object) {
                std::string key;
                if (!string(key)) return false;
                ws();
                if (!eat(':')) return false;
            }
            JsonValue inner;
            if (!value(inner, depth)) return false;
            ws();
            if (eat(',')) continue;
            return eat(close);
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

RecordParseError parse_error(RecordErrc code, std::string field, std::string message) {
    return RecordParseError{code, std::move(field), std::move(message)};
}

// Parses {"code":N,"reason":"..."} into the entry.
bool parse_close_data(std::string_view text, RecordEntry& e) {
    std::optional<long long> code;
    std::string reason;
    bool bad = false;
    JsonReader r(text);
    const bool ok = r.object([&](const std::string& key, const JsonValue& v) {
        if (key == "code") {
            if (v.kind != JsonValue::Kind::number || v.str.empty() || v.str.size() > 5 ||
                v.str.find_first_not_of("0123456789") != std::string::npos) {
                bad = true;
                return;
            }
            code = std::stoll(v.str);
        } else if (key == "reason") {
            if (v.kind == JsonValue::Kind::string) reason = v.str;
            else if (v.kind != JsonValue::Kind::null) bad = true;
        }
    });
    if (!ok || bad || !code || *code > 65535) return false;
    e.close_code = static_cast<std::uint16_t>(*code);
    e.close_reason = std::move(reason);
    e.data = std::string(text);
    return true;
}

}  // namespace

std::string format_close_data(std::uint16_t code, std::string_view reason) {
    std::string out = "{\"code\":" + std::to_string(code) + ",\"reason\":";
    append_json_string(out, reason, !is_valid_utf8(reason));
    out += '}';
    return out;
}

std::string format_record_line(const RecordEntry& e) {
    return format_line(e.dir, e.type, e.data, e.ts, e.close_code, e.close_reason);
}

RecordParseResult parse_record_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos)
        return parse_error(RecordErrc::empty_line, "", "empty line");

    std::optional<JsonValue> ts, dir, type, data, binary;
    JsonReader reader(line);
    const bool ok = reader.object([&](const std::string& key, const JsonValue& v) {
        if (key == "ts") ts = v;
        else if (key == "dir") dir = v;
        else if (key == "type") type = v;
        else if (key == "data") data = v;
        else if (key == "binary") binary = v;
    });
    if (!ok) return parse_error(RecordErrc::malformed_json, "", "not a JSON object on one line");

    using K = JsonValue::Kind;
    if (!ts || ts->kind != K::string) return parse_error(RecordErrc::missing_field, "ts", "ts missing or not a string");
    if (!dir || dir->kind != K::string)
        return parse_error(RecordErrc::missing_field, "dir", "dir missing or not a string");
    if (!type || type->kind != K::string)
        return parse_error(RecordErrc::missing_field, "type", "type missing or not a string");
    if (!data) return parse_error(RecordErrc::missing_field, "data", "data missing");

    RecordEntry e;
    auto when = parse_record_timestamp(ts->str);
    if (!when) return parse_error(RecordErrc::bad_timestamp, "ts", "invalid timestamp: " + ts->str);
    e.ts = *when;

    if (dir->str == "in") e.dir = RecordDirection::in;
    else if (dir->str == "out") e.dir = RecordDirection::out;
    else return parse_error(RecordErrc::bad_direction, "dir", "invalid direction: " + dir->str);

    if (type->str == "text") e.type = RecordType::text;
    else if (type->str == "binary") e.type = RecordType::binary;
    else if (type->str == "close") e.type = RecordType::close;
    else return parse_error(RecordErrc::bad_type, "type", "invalid type: " + type->str);

    if (binary && binary->kind == K::boolean) e.binary = binary->boolean;

    if (e.type == RecordType::close) {
        std::string_view text;
        if (data->kind == K::string) text = data->str;
        else if (data->kind == K::object) text = data->raw;
        else return parse_error(RecordErrc::bad_close, "data", "close data must be a string or an object");
        if (!parse_close_data(text, e))
            return parse_error(RecordErrc::bad_close, "data", "close data is not {\"code\":N,\"reason\":\"...\"}");
        return e;
    }
    if (data->kind != K::string) return parse_error(RecordErrc::missing_field, "data", "data is not a string");
    if (e.binary) {
        auto bytes = base64_decode(data->str);
        if (!bytes) return parse_error(RecordErrc::bad_base64, "data", "binary data is not valid base64");
        e.data = std::move(*bytes);
    } else {
        e.data = std::move(data->str);
    }
    return e;
}

// ---- readers ---------------------------------------------------------------------------------------------------

namespace {

// verb: "open" (the file could not be opened) or "read" (reading it failed half-way).
Error read_error(const std::string& path, const char* verb, int err) {
    Error e(Errc::not_found, std::string("cannot ") + verb + " recording " + path + ": " + std::strerror(err));
    e.sys_errno = err;
    e.field = "path";
    return e;
}

// Calls fn(line_number, parse result) for every non-blank line.
template <class Fn>
Status for_each_line(const std::string& path, Fn&& fn) {
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return read_error(path, "open", errno ? errno : ENOENT);
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        auto parsed = parse_record_line(line);
        if (!parsed.ok() && parsed.error().code == RecordErrc::empty_line) continue;
        fn(number, std::move(parsed));
    }
    if (in.bad()) return read_error(path, "read", errno ? errno : EIO);
    return {};
}

}  // namespace

Result<ReplaySummary> replay_recording(const std::string& path,
                                       const std::function<void(const RecordEntry&)>& callback,
                                       const ReplayOptions& options) {
    ReplaySummary summary;
    std::optional<SysClock::time_point> previous;
    const auto max_gap = std::chrono::duration_cast<std::chrono::nanoseconds>(options.max_gap);
    auto status = for_each_line(path, [&](std::size_t number, RecordParseResult parsed) {
        if (!parsed.ok()) {
            if (summary.skipped++ == 0) {
                summary.first_bad_line = number;
                summary.first_error = parsed.error();
            }
            return;
        }
        const RecordEntry& e = parsed.value();
        if (options.realtime && previous) {
            auto gap = std::chrono::duration_cast<std::chrono::nanoseconds>(e.ts - *previous);
            gap = std::clamp(gap, std::chrono::nanoseconds::zero(), std::max(max_gap, std::chrono::nanoseconds::zero()));
            if (gap > std::chrono::nanoseconds::zero()) {
                if (options.sleep) options.sleep(gap);
                else std::this_thread::sleep_for(gap);
            }
        }
        previous = e.ts;
        if (callback) callback(e);
        ++summary.delivered;
    });
    if (!status) return Error(status.error());
    return summary;
}

Result<ReplaySummary> replay_recording(const std::string& path,
                                       const std::function<void(const RecordEntry&)>& callback, bool realtime) {
    ReplayOptions options;
    options.realtime = realtime;
    return replay_recording(path, callback, options);
}

Result<RecordingMetadata> recording_metadata(const std::string& path) {
    RecordingMetadata m;
    auto status = for_each_line(path, [&](std::size_t, RecordParseResult parsed) {
        if (!parsed.ok()) {
            ++m.skipped;
            return;
        }
        const RecordEntry& e = parsed.value();
        ++m.count;
        (e.dir == RecordDirection::in ? m.inbound : m.outbound)++;
        if (!m.first_ts) m.first_ts = e.ts;
        m.last_ts = e.ts;
    });
    if (!status) return Error(status.error());
    if (m.first_ts && m.last_ts && *m.last_ts > *m.first_ts)
        m.duration = std::chrono::duration_cast<std::chrono::microseconds>(*m.last_ts - *m.first_ts);
    return m;
}

// ---- writer ----------------------------------------------------------------------------------------------------

struct RecordWriter::Impl {
    enum : int { io_idle = 0, io_busy = 1, io_crashed = 2 };

    RecordWriterOptions opt;
    JsonRedactor redactor;   // from opt.redact_fields; immutable after construction
    std::string path;
    std::mutex state_mutex;  // open/close
    bool open = false;

    std::atomic<int> fd{-1};

    // Two preallocated buffers: record() appends to the active one; a flush swaps them and writes the other.
    std::array<std::unique_ptr<char[]>, 2> buf;
    std::size_t cap = 0;
    std::mutex buf_mutex;
    bool accepting = false;                     // under buf_mutex
    std::atomic<int> active_idx{0};
    std::atomic<std::size_t> active_used{0};    // stored with release after the bytes are copied
    std::atomic<int> flushing_idx{1};
    std::atomic<std::size_t> flushing_used{0};
    std::atomic<std::size_t> flushing_written{0};

    // I/O: io_mutex orders normal threads; io_state is what the signal handler can see and claim.
    std::mutex io_mutex;
    std::atomic<int> io_state{io_idle};
    std::atomic<pthread_t> io_owner{};
    Error pending_error;                        // under io_mutex: first write error since the last flush()

    std::mutex cv_mutex;
    std::condition_variable cv;
    bool stop = false;                          // under cv_mutex
    bool wake = false;                          // under cv_mutex
    std::thread flusher;

    int slot = -1;

    std::atomic<std::uint64_t> entries{0}, bytes{0}, written{0}, dropped{0}, write_errors{0}, sync_flushes{0};

    explicit Impl(RecordWriterOptions o) : opt(std::move(o)), redactor(opt.redact_fields) {}

    void append(std::string&& line);
    Status flush_pending(std::string_view extra);
    void run_flusher();
};

namespace {

constexpr int registry_size = 64;
std::atomic<RecordWriter::Impl*> g_registry[registry_size];
std::atomic<int> g_in_crash_flush{0};

// write(2) everything, retrying on EINTR. progress (if any) is advanced after each successful write.
// Async-signal-safe. Returns 0 or the errno.
int write_all(int fd, const char* data, std::size_t size, std::atomic<std::size_t>* progress,
              std::atomic<std::uint64_t>* total) noexcept {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd, data + done, size - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        done += static_cast<std::size_t>(n);
        if (progress) progress->fetch_add(static_cast<std::size_t>(n), std::memory_order_release);
        if (total) total->fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    }
    return 0;
}

bool register_writer(RecordWriter::Impl* w, int& slot) {
    for (int i = 0; i < registry_size; ++i) {
        RecordWriter::Impl* expected = nullptr;
        if (g_registry[i].compare_exchange_strong(expected, w)) {
            slot = i;
            return true;
        }
    }
    return false;
}

void unregister_writer(RecordWriter::Impl* w, int& slot) {
    if (slot < 0) return;
    RecordWriter::Impl* expected = w;
    g_registry[slot].compare_exchange_strong(expected, nullptr);
    slot = -1;
    // A crash flush that already picked up the pointer must finish before the writer can go away (bounded wait:
    // a crash flush ends with the process dying).
    for (int i = 0; i < 5000 && g_in_crash_flush.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void crash_flush_one(RecordWriter::Impl* w) noexcept {
    using Impl = RecordWriter::Impl;
    const int fd = w->fd.load(std::memory_order_acquire);
    if (fd < 0) return;
    const pthread_t self = pthread_self();
    bool claimed = false;
    bool interrupted_own_write = false;
    for (int attempt = 0; attempt < 2000; ++attempt) {  // ~2 s at most
        int expected = Impl::io_idle;
        if (w->io_state.compare_exchange_strong(expected, Impl::io_crashed)) {
            claimed = true;
            break;
        }
        if (expected == Impl::io_crashed) return;  // already flushed by an earlier handler
        if (pthread_equal(w->io_owner.load(), self)) {  // we crashed in the middle of our own flush
            w->io_state.store(Impl::io_crashed);
            claimed = interrupted_own_write = true;
            break;
        }
        struct timespec pause = {0, 1'000'000};
        ::nanosleep(&pause, nullptr);
    }
    if (!claimed) return;
    if (interrupted_own_write) {
        const std::size_t used = w->flushing_used.load(std::memory_order_acquire);
        const std::size_t done = w->flushing_written.load(std::memory_order_acquire);
        if (used > done) write_all(fd, w->buf[w->flushing_idx.load()].get() + done, used - done, nullptr, &w->written);
    }
    const int idx = w->active_idx.load(std::memory_order_acquire);
    const std::size_t used = w->active_used.load(std::memory_order_acquire);
    if (used > 0) write_all(fd, w->buf[idx].get(), used, nullptr, &w->written);
}

struct sigaction g_previous[NSIG];
std::terminate_handler g_previous_terminate = nullptr;
constexpr int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM};
bool g_installed[NSIG] = {};

void on_fatal_signal(int sig, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    recorder_crash_flush();
    const struct sigaction& prev = g_previous[sig];
    if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction) {
        prev.sa_sigaction(sig, info, context);
    } else if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    } else {
        // Default action: restore it and re-raise; the signal is blocked while we run, so it is delivered (and
        // kills the process, with a core dump where applicable) as soon as this handler returns.
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(sig, &dfl, nullptr);
        ::raise(sig);
    }
    errno = saved_errno;
}

void on_terminate() {
    recorder_crash_flush();
    if (g_previous_terminate) g_previous_terminate();
    std::abort();
}

void forget_writers_in_child() {
    for (auto& slot : g_registry) slot.store(nullptr);
}

}  // namespace

void recorder_crash_flush() noexcept {
    g_in_crash_flush.fetch_add(1);
    for (auto& slot : g_registry) {
        RecordWriter::Impl* w = slot.load(std::memory_order_acquire);
        if (w) crash_flush_one(w);
    }
    g_in_crash_flush.fetch_sub(1);
}

void install_recorder_crash_handlers() {
    static std::once_flag once;
    std::call_once(once, [] {
        for (int sig : crash_signals) {
            struct sigaction current {};
            ::sigaction(sig, nullptr, &current);
            // SIGTERM belongs to the application if it handles or ignores it; we only act where it would kill.
            if (sig == SIGTERM && ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL)) continue;
            struct sigaction sa {};
            sa.sa_sigaction = on_fatal_signal;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
            if (::sigaction(sig, &sa, &g_previous[sig]) == 0) g_installed[sig] = true;
        }
        g_previous_terminate = std::set_terminate(on_terminate);
        ::pthread_atfork(nullptr, nullptr, forget_writers_in_child);
    });
}

// Appends a line (with '\n'); buffer full => synchronous flush on this thread.
void RecordWriter::Impl::append(std::string&& line) {
    bool crossed = false;
    {
        std::lock_guard lk(buf_mutex);
        if (!accepting) {
            dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        const std::size_t used = active_used.load(std::memory_order_relaxed);
        if (line.size() <= cap - used) {
            std::memcpy(buf[active_idx.load(std::memory_order_relaxed)].get() + used, line.data(), line.size());
            active_used.store(used + line.size(), std::memory_order_release);
            entries.fetch_add(1, std::memory_order_relaxed);
            bytes.fetch_add(line.size(), std::memory_order_relaxed);
            crossed = used < opt.flush_threshold && used + line.size() >= opt.flush_threshold;
            line.clear();
        }
    }
    if (line.empty()) {
        if (crossed) {
            {
                std::lock_guard lk(cv_mutex);
                wake = true;
            }
            cv.notify_one();
        }
        return;
    }
    sync_flushes.fetch_add(1, std::memory_order_relaxed);
    (void)flush_pending(line);
}

// Swaps the buffers and writes the full one; then `extra` (a line that did not fit) is appended or written.
Status RecordWriter::Impl::flush_pending(std::string_view extra) {
    std::lock_guard io(io_mutex);
    int expected = io_idle;
    if (!io_state.compare_exchange_strong(expected, io_busy))
        return Error(Errc::closed_by_user, "recording stopped by a crash flush");
    io_owner.store(pthread_self());
    const int f = fd.load();
    int idx;
    std::size_t used;
    {
        std::lock_guard lk(buf_mutex);
        idx = active_idx.load(std::memory_order_relaxed);
        used = active_used.load(std::memory_order_relaxed);
        flushing_idx.store(idx);
        flushing_written.store(0);
        flushing_used.store(used, std::memory_order_release);
        active_idx.store(idx ^ 1, std::memory_order_release);
        active_used.store(0, std::memory_order_release);
    }
    auto note_error = [&](int err) {
        write_errors.fetch_add(1, std::memory_order_relaxed);
        if (!pending_error) {
            pending_error = Error(Errc::transport_error, "writing recording " + path + ": " + std::strerror(err));
            pending_error.sys_errno = err;
        }
    };
    if (used > 0 && f >= 0) {
        if (int err = write_all(f, buf[idx].get(), used, &flushing_written, &written)) note_error(err);
    }
    flushing_used.store(0, std::memory_order_release);
    flushing_written.store(0, std::memory_order_release);
    if (!extra.empty()) {
        bool appended = false;
        {
            std::lock_guard lk(buf_mutex);
            const std::size_t now_used = active_used.load(std::memory_order_relaxed);
            if (accepting && extra.size() <= cap - now_used) {
                std::memcpy(buf[active_idx.load(std::memory_order_relaxed)].get() + now_used, extra.data(),
                            extra.size());
                active_used.store(now_used + extra.size(), std::memory_order_release);
                appended = true;
            }
        }
        if (!appended && f >= 0) {
            if (int err = write_all(f, extra.data(), extra.size(), nullptr, &written)) note_error(err);
        }
        entries.fetch_add(1, std::memory_order_relaxed);
        bytes.fetch_add(extra.size(), std::memory_order_relaxed);
    }
    io_owner.store(pthread_t{});
    io_state.store(io_idle, std::memory_order_release);
    Status result;
    if (pending_error) {
        result = std::move(pending_error);
        pending_error = Error{};
    }
    return result;
}

void RecordWriter::Impl::run_flusher() {
    std::unique_lock lk(cv_mutex);
    while (!stop) {
        cv.wait_for(lk, opt.flush_interval, [&] { return stop || wake; });
        wake = false;
        if (stop) break;
        lk.unlock();
        (void)flush_pending({});
        lk.lock();
    }
}

RecordWriter::RecordWriter() : RecordWriter(RecordWriterOptions{}) {}
RecordWriter::RecordWriter(RecordWriterOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RecordWriter::~RecordWriter() { (void)close(); }

Status RecordWriter::open(const std::string& path) {
    Impl& w = *impl_;
    std::lock_guard state(w.state_mutex);
    if (w.open) return config_error("record_to", "recorder already open on " + w.path);
    // 0600 whatever the umask: a recording is application traffic (redacted, but still private).
    const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (f >= 0) {
        // An existing file keeps its mode through O_TRUNC: tighten it (regular files only: never chmod a device or
        // a FIFO such as /dev/stdout; failure, e.g. not our file, is not fatal).
        struct stat st {};
        if (::fstat(f, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077) != 0)
            (void)::fchmod(f, st.st_mode & 0700);
    }
    if (f < 0) {
        const int err = errno;
        Error e = config_error("record_to", err == ENOENT ? "cannot create recording " + path +
                                                                ": the directory does not exist"
                                                          : "cannot create recording " + path + ": " +
                                                                std::strerror(err));
        e.sys_errno = err;
        return e;
    }
    if (w.cap == 0) {
        w.cap = std::max<std::size_t>(w.opt.buffer_capacity, 4096);
        for (auto& b : w.buf) b = std::make_unique<char[]>(w.cap);
    }
    if (w.opt.flush_interval <= std::chrono::milliseconds::zero()) w.opt.flush_interval = std::chrono::milliseconds(200);
    w.path = path;
    w.active_idx.store(0);
    w.active_used.store(0);
    w.flushing_used.store(0);
    w.flushing_written.store(0);
    w.io_state.store(Impl::io_idle);
    w.pending_error = Error{};
    w.fd.store(f, std::memory_order_release);
    {
        std::lock_guard lk(w.buf_mutex);
        w.accepting = true;
    }
    {
        std::lock_guard lk(w.cv_mutex);
        w.stop = false;
        w.wake = false;
    }
    if (w.opt.flush_on_crash) {
        if (w.opt.install_crash_handlers) install_recorder_crash_handlers();
        register_writer(&w, w.slot);
    }
    w.flusher = std::thread([&w] { w.run_flusher(); });
    w.open = true;
    return {};
}

bool RecordWriter::is_open() const noexcept { return impl_->fd.load() >= 0; }
const std::string& RecordWriter::path() const noexcept { return impl_->path; }

void RecordWriter::record(RecordDirection dir, RecordType type, std::string_view data, SysClock::time_point ts) {
    std::uint16_t code = 0;
    std::string_view reason;
    if (type == RecordType::close) {
        if (data.size() >= 2) {
            code = static_cast<std::uint16_t>((static_cast<unsigned char>(data[0]) << 8) |
                                              static_cast<unsigned char>(data[1]));
            reason = data.substr(2);
        } else {
            code = 1005;  // no status code in the frame
        }
    }
    std::string redacted;
    if (type == RecordType::text && impl_->redactor.redact(data, redacted)) data = redacted;
    std::string line = format_line(dir, type, data, ts, code, reason);
    line += '\n';
    impl_->append(std::move(line));
}

void RecordWriter::record_close(RecordDirection dir, std::uint16_t code, std::string_view reason,
                                SysClock::time_point ts) {
    std::string line = format_line(dir, RecordType::close, {}, ts, code, reason);
    line += '\n';
    impl_->append(std::move(line));
}

void RecordWriter::record(const RecordEntry& entry) {
    std::string redacted;
    const bool redact = entry.type == RecordType::text && impl_->redactor.redact(entry.data, redacted);
    std::string line = format_line(entry.dir, entry.type, redact ? std::string_view(redacted) : entry.data, entry.ts,
                                   entry.close_code, entry.close_reason);
    line += '\n';
    impl_->append(std::move(line));
}

Status RecordWriter::flush() {
    if (impl_->fd.load() < 0) return {};
    return impl_->flush_pending({});
}

Status RecordWriter::close() {
    Impl& w = *impl_;
    std::lock_guard state(w.state_mutex);
    if (!w.open) return {};
    {
        std::lock_guard lk(w.buf_mutex);
        w.accepting = false;
    }
    {
        std::lock_guard lk(w.cv_mutex);
        w.stop = true;
    }
    w.cv.notify_all();
    if (w.flusher.joinable()) w.flusher.join();
    Status result = w.flush_pending({});
    if (!result && w.io_state.load() == Impl::io_crashed) result = Status{};
    unregister_writer(&w, w.slot);
    const int f = w.fd.exchange(-1);
    if (f >= 0 && ::close(f) != 0 && result) {
        Error e(Errc::transport_error, "closing recording " + w.path + ": " + std::strerror(errno));
        e.sys_errno = errno;
        result = std::move(e);
    }
    w.open = false;
    return result;
}

RecordWriter::Stats RecordWriter::stats() const {
    const Impl& w = *impl_;
    Stats s;
    s.entries = w.entries.load();
    s.bytes = w.bytes.load();
    s.written_bytes = w.written.load();
    s.dropped = w.dropped.load();
    s.write_errors = w.write_errors.load();
    s.sync_flushes = w.sync_flushes.load();
    s.crash_registered = w.slot >= 0;
    return s;
}

}  // namespace zenws
