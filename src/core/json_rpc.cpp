// json_rpc.cpp — JSON-RPC 2.0 request building, the process-wide request-id counter and JSON string escaping.
#include "zenws/json_rpc.hpp"

#include <atomic>
#include <charconv>

namespace zenws {

namespace {

std::atomic<std::int64_t> g_next_id{1};

void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, static_cast<std::size_t>(ptr - buf));
}

bool needs_escape(char c) noexcept {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

}  // namespace

std::int64_t next_request_id() noexcept { return g_next_id.fetch_add(1, std::memory_order_relaxed); }

void append_json_string_array(std::string& out, std::span<const std::string> items) {
    out.push_back('[');
    bool first = true;
    for (const auto& s : items) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, s);
    }
    out.push_back(']');
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the current run of bytes that need no escaping
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (!needs_escape(c)) continue;
        out.append(s.substr(run, i - run));
        run = i + 1;
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            default: {
                const auto u = static_cast<unsigned char>(c);
                out.append("\\u00");
                out.push_back(kHex[u >> 4]);
                out.push_back(kHex[u & 0x0F]);
            }
        }
    }
    out.append(s.substr(run));
    out.push_back('"');
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_json_string(out, s);
    return out;
}

JsonRpcRequest build_request(std::int64_t id, std::string_view method, std::string_view params_json) {
    JsonRpcRequest req;
    req.id = id;
    std::string& t = req.text;
    t.reserve(40 + method.size() + params_json.size());
    t.append(R"({"jsonrpc":"2.0","id":)");
    append_int(t, id);
    t.append(R"(,"method":)");
    append_json_string(t, method);
    if (!params_json.empty()) {
        t.append(R"(,"params":)");
        t.append(params_json);
    }
    t.push_back('}');
    return req;
}

JsonRpcRequest build_request(std::string_view method, std::string_view params_json) {
    return build_request(next_request_id(), method, params_json);
}

std::string build_notification(std::string_view method, std::string_view params_json) {
    std::string t;
    t.reserve(32 + method.size() + params_json.size());
    t.append(R"({"jsonrpc":"2.0","method":)");
    append_json_string(t, method);
    if (!params_json.empty()) {
        t.append(R"(,"params":)");
        t.append(params_json);
    }
    t.push_back('}');
    return t;
}

}  // namespace zenws
