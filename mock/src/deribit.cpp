// deribit.cpp — owns the Deribit v2 JSON-RPC dialect of the mock exchange (pure logic, time passed in): auth
// (client_credentials, refresh_token, client_signature) with short-lived tokens, set_heartbeat / test_request,
// subscriptions with change_id sequences, credit rate limits, cancel-on-disconnect and a small fake trading API.
// Also the shared JSON helpers of zenws/mock/dialects.hpp and EndReason names.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/mock/dialects.hpp"

namespace zenws::mock {

std::string_view to_string(EndReason r) noexcept {
    switch (r) {
        case EndReason::none: return "none";
        case EndReason::client_close: return "client_close";
        case EndReason::client_eof: return "client_eof";
        case EndReason::server_close: return "server_close";
        case EndReason::dropped_by_server: return "dropped_by_server";
        case EndReason::reset_by_server: return "reset_by_server";
        case EndReason::heartbeat_timeout: return "heartbeat_timeout";
        case EndReason::pong_timeout: return "pong_timeout";
        case EndReason::rate_limit: return "rate_limit";
        case EndReason::lifetime: return "lifetime";
        case EndReason::logout: return "logout";
        case EndReason::protocol_error: return "protocol_error";
        case EndReason::server_stopped: return "server_stopped";
    }
    return "unknown";
}

// ---- JSON helpers ------------------------------------------------------------------------------------------------

namespace json {
namespace {

constexpr std::size_t npos = std::string_view::npos;

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}

// s[i] == '"': the index just past the closing quote.
std::size_t skip_string(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') ++i;
        else if (s[i] == '"') return i + 1;
    }
    return npos;
}

std::size_t skip_value(std::string_view s, std::size_t i) {
    i = skip_ws(s, i);
    if (i >= s.size()) return npos;
    char c = s[i];
    if (c == '"') return skip_string(s, i);
    if (c == '{' || c == '[') {
        int depth = 0;
        while (i < s.size()) {
            char d = s[i];
            if (d == '"') {
                i = skip_string(s, i);
                if (i == npos) return npos;
                continue;
            }
            if (d == '{' || d == '[') ++depth;
            else if (d == '}' || d == ']') {
                if (--depth == 0) return i + 1;
            }
            ++i;
        }
        return npos;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        ++i;
    return i;
}

}  // namespace

std::optional<std::string_view> member(std::string_view s, std::string_view key) {
    std::size_t i = skip_ws(s, 0);
    if (i >= s.size() || s[i] != '{') return std::nullopt;
    ++i;
    std::optional<std::string_view> found;
    for (;;) {
        i = skip_ws(s, i);
        if (i >= s.size()) return std::nullopt;
        if (s[i] == '}') return found;
        if (s[i] != '"') return std::nullopt;
        std::size_t kend = skip_string(s, i);
        if (kend == npos) return std::nullopt;
        std::string_view name = s.substr(i + 1, kend - i - 2);
        i = skip_ws(s, kend);
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        std::size_t vstart = skip_ws(s, i + 1);
        std::size_t vend = skip_value(s, vstart);
        if (vend == npos) return std::nullopt;
        if (name == key) found = s.substr(vstart, vend - vstart);  // the last duplicate wins
        i = skip_ws(s, vend);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') return found;
        return std::nullopt;
    }
}

std::optional<std::string> string_member(std::string_view s, std::string_view key) {
    auto raw = member(s, key);
    if (!raw || raw->size() < 2 || raw->front() != '"') return std::nullopt;
    return json_unescape(raw->substr(1, raw->size() - 2));
}

std::optional<double> number_member(std::string_view s, std::string_view key) {
    auto raw = member(s, key);
    if (!raw || raw->empty()) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
    if (ec != std::errc() || p != raw->data() + raw->size()) return std::nullopt;
    return v;
}

std::optional<bool> bool_member(std::string_view s, std::string_view key) {
    auto raw = member(s, key);
    if (!raw) return std::nullopt;
    if (*raw == "true") return true;
    if (*raw == "false") return false;
    return std::nullopt;
}

std::optional<std::vector<std::string_view>> array_elements(std::string_view s) {
    std::size_t i = skip_ws(s, 0);
    if (i >= s.size() || s[i] != '[') return std::nullopt;
    std::vector<std::string_view> out;
    i = skip_ws(s, i + 1);
    if (i < s.size() && s[i] == ']') return out;
    for (;;) {
        std::size_t vstart = skip_ws(s, i);
        std::size_t vend = skip_value(s, vstart);
        if (vend == npos || vend == vstart) return std::nullopt;
        out.push_back(s.substr(vstart, vend - vstart));
        i = skip_ws(s, vend);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == ']') return out;
        return std::nullopt;
    }
}

std::string number(double v) {
    if (!std::isfinite(v)) return "0";
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "0";
    return std::string(buf, p);
}

}  // namespace json

// ---- signature ---------------------------------------------------------------------------------------------------

std::string deribit_signature(std::string_view secret, std::int64_t timestamp, std::string_view nonce,
                              std::string_view data) {
    std::string msg = std::to_string(timestamp);
    msg += '\n';
    msg += nonce;
    msg += '\n';
    msg += data;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

// ---- shared exchange state ---------------------------------------------------------------------------------------

struct DeribitExchange::Shared {
    struct Token {
        std::string client_id;
        SteadyTime expires;
        bool refresh = false;
    };
    mutable std::mutex mu;
    std::map<std::string, Token, std::less<>> tokens;
    std::map<std::string, std::vector<MockOrder>, std::less<>> orders;  // open orders per client id
    std::uint64_t token_counter = 0;
    std::uint64_t order_counter = 0;
    std::uint64_t trade_counter = 0;
    std::uint64_t cancelled_cod = 0;
};

namespace {

using Shared = DeribitExchange::Shared;

std::int64_t wall_now_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double base_price(std::string_view instrument) {
    std::string up(instrument);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up.rfind("BTC", 0) == 0) return 60000;
    if (up.rfind("ETH", 0) == 0) return 3000;
    if (up.rfind("SOL", 0) == 0) return 150;
    return 100;
}

// A plausible price that wanders slowly with time; tick 0.5 (or 0.01 below 1000).
double fake_price(std::string_view instrument, std::int64_t wall_ms) {
    double base = base_price(instrument);
    std::size_t h = std::hash<std::string_view>{}(instrument) % 1000;
    double p = base * (1.0 + 0.002 * std::sin(static_cast<double>(wall_ms) / 7000.0 + static_cast<double>(h)));
    double tick = base >= 1000 ? 0.5 : 0.01;
    return std::round(p / tick) * tick;
}

std::string currency_of(std::string_view instrument) {
    auto dash = instrument.find_first_of("-_");
    std::string cur(instrument.substr(0, dash));
    for (auto& c : cur) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return cur;
}

bool known_channel(std::string_view ch) {
    static constexpr std::string_view prefixes[] = {
        "book.", "ticker.", "trades.", "deribit_price_index.", "deribit_price_ranking.", "quote.", "user.",
        "incremental_ticker.", "perpetual.", "chart.trades.", "markprice.options.", "estimated_expiration_price.",
        "deribit_volatility_index.", "instrument.state.", "announcements", "platform_state"};
    for (auto p : prefixes)
        if (ch.rfind(p, 0) == 0 && ch.size() >= p.size()) return true;
    return false;
}

std::string order_json(const MockOrder& o, std::string_view state, double filled, std::int64_t now_ms) {
    std::string s = "{\"order_id\":" + json_quote(o.order_id) + ",\"order_state\":" + json_quote(state) +
                    ",\"instrument_name\":" + json_quote(o.instrument_name) + ",\"direction\":" +
                    json_quote(o.direction) + ",\"order_type\":" + json_quote(o.order_type) +
                    ",\"label\":" + json_quote(o.label) + ",\"price\":" +
                    (o.order_type == "market" ? std::string("\"market_price\"") : json::number(o.price)) +
                    ",\"amount\":" + json::number(o.amount) + ",\"filled_amount\":" + json::number(filled) +
                    ",\"average_price\":" + json::number(filled > 0 ? o.price : 0) +
                    ",\"time_in_force\":\"good_til_cancelled\",\"post_only\":false,\"reduce_only\":false,"
                    "\"api\":true,\"creation_timestamp\":" + std::to_string(o.creation_timestamp) +
                    ",\"last_update_timestamp\":" + std::to_string(now_ms) + "}";
    return s;
}

class Bucket {
public:
    Bucket(double pool, double refill) : level_(pool), pool_(pool), refill_(refill) {}
    bool take(double cost, SteadyTime now) {
        if (started_) {
            double secs = std::chrono::duration<double>(now - last_).count();
            if (secs > 0) level_ = std::min(pool_, level_ + secs * refill_);
        }
        started_ = true;
        last_ = now;
        if (level_ < cost) return false;
        level_ -= cost;
        return true;
    }

private:
    double level_, pool_, refill_;
    SteadyTime last_{};
    bool started_ = false;
};

class DeribitSession final : public DialectSession {
public:
    DeribitSession(const DeribitOptions& o, std::shared_ptr<Shared> shared, std::uint64_t id, SteadyTime now)
        : opt_(o), shared_(std::move(shared)), id_(id), open_steady_(now), open_wall_ms_(wall_now_ms()),
          requests_(o.request_pool, o.request_refill_per_s), subscribes_(o.subscribe_pool, o.subscribe_refill_per_s) {}

    void on_open(SteadyTime, Output&) override {}

    void on_text(std::string_view text, SteadyTime now, Output& out) override {
        if (closed_) return;
        ++info_requests_;
        activity_ = true;
        JsonEnvelope env = scan_json(text);
        Req r{now, wall_us(now), env.id ? std::string(env.id.raw) : std::string("null"), {}, {}};
        if (!env.valid) {
            if (is_valid_json(text)) return error(out, r, -32600, "Invalid Request");
            return error(out, r, -32700, "Parse error");
        }
        if (!env.has_method) return error(out, r, -32600, "Invalid Request");
        r.method = std::string(env.method);
        r.params = env.params_raw.empty() ? std::string_view("{}") : env.params_raw;
        if (r.params.front() != '{') return error(out, r, -32602, "Invalid params");
        if (!env.id) r.id.clear();  // a notification: processed, never answered

        bool subscribe = r.method.ends_with("/subscribe");
        if (opt_.rate_limits && !(subscribe ? subscribes_ : requests_).take(
                                    subscribe ? opt_.subscribe_cost : opt_.request_cost, now)) {
            error(out, r, 10028, "too_many_requests");
            out.close_with(1008, "too_many_requests", EndReason::rate_limit);
            closed_ = true;
            return;
        }
        dispatch(r, out);
    }

    void on_tick(SteadyTime now, Output& out) override {
        if (closed_) return;
        if (hb_interval_ms_ > 0 && now >= hb_next_) {
            hb_next_ += milliseconds(hb_interval_ms_);
            if (hb_next_ <= now) hb_next_ = now + milliseconds(hb_interval_ms_);
            if (skip_hb_) {
                skip_hb_ = false;
            } else if (test_outstanding_) {
                out.close_with(1000, "heartbeat: test_request not answered", EndReason::heartbeat_timeout);
                closed_ = true;
                return;
            } else if (activity_) {
                out.notify(R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}})");
                activity_ = false;
            } else {
                out.notify(R"({"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}})");
                test_outstanding_ = true;
            }
        }
        if (opt_.notification_interval.count() > 0) {
            for (auto& [name, ch] : channels_) {
                if (!ch.periodic || now < ch.next_due) continue;
                ch.next_due += opt_.notification_interval;
                if (ch.next_due <= now) ch.next_due = now + opt_.notification_interval;
                emit(name, ch, now, out);
            }
        }
    }

    SteadyTime next_deadline() const override {
        if (closed_) return SteadyTime::max();
        SteadyTime t = SteadyTime::max();
        if (hb_interval_ms_ > 0) t = hb_next_;
        if (opt_.notification_interval.count() > 0)
            for (auto& [name, ch] : channels_)
                if (ch.periodic) t = std::min(t, ch.next_due);
        return t;
    }

    void on_end(EndReason) override {
        closed_ = true;
        if (!cod_ || client_id_.empty()) return;
        std::lock_guard lk(shared_->mu);
        auto it = shared_->orders.find(client_id_);
        if (it == shared_->orders.end()) return;
        shared_->cancelled_cod += it->second.size();
        it->second.clear();
    }

    SessionInfo info() const override {
        SessionInfo i;
        i.authenticated = !client_id_.empty();
        i.client_id = client_id_;
        for (auto& [name, ch] : channels_) i.subscriptions.push_back(name);
        i.cancel_on_disconnect = cod_;
        i.heartbeat_interval_ms = hb_interval_ms_;
        i.requests = info_requests_;
        i.notifications = info_notifications_;
        return i;
    }

    void inject_gap() override { gap_ = true; }
    void skip_heartbeat() override { skip_hb_ = true; }

private:
    struct Req {
        SteadyTime now;
        std::int64_t us_in;
        std::string id;  // raw JSON id; empty = notification (no reply)
        std::string method;
        std::string_view params;
    };
    struct Channel {
        SteadyTime next_due{};
        std::uint64_t change_id = 0;
        bool periodic = true;
    };

    std::int64_t wall_us(SteadyTime now) const {
        return open_wall_ms_ * 1000 + std::chrono::duration_cast<std::chrono::microseconds>(now - open_steady_).count();
    }
    std::int64_t wall_ms(SteadyTime now) const { return wall_us(now) / 1000; }

    std::string envelope_tail(const Req& r) const {
        std::int64_t us_out = wall_us(r.now) + 17;
        return ",\"usIn\":" + std::to_string(r.us_in) + ",\"usOut\":" + std::to_string(us_out) +
               ",\"usDiff\":" + std::to_string(us_out - r.us_in) + ",\"testnet\":" + (opt_.testnet ? "true" : "false") +
               "}";
    }

    void result(Output& out, const Req& r, std::string_view result_json) {
        if (r.id.empty()) return;
        std::string s = "{\"jsonrpc\":\"2.0\",\"id\":" + r.id + ",\"result\":";
        s += result_json;
        s += envelope_tail(r);
        out.reply(std::move(s), r.method);
    }

    void error(Output& out, const Req& r, int code, std::string_view message, std::string_view reason = {},
               std::string_view param = {}) {
        if (r.id.empty() && code > -32700 && code != -32600) return;
        std::string s = "{\"jsonrpc\":\"2.0\",\"id\":" + (r.id.empty() ? std::string("null") : r.id) +
                        ",\"error\":{\"code\":" + std::to_string(code) + ",\"message\":" + json_quote(message);
        if (!reason.empty() || !param.empty()) {
            s += ",\"data\":{\"reason\":" + json_quote(reason);
            if (!param.empty()) s += ",\"param\":" + json_quote(param);
            s += "}";
        }
        s += "}" + envelope_tail(r);
        out.reply(std::move(s), r.method);
    }

    bool token_valid(SteadyTime now) const { return !client_id_.empty() && now < token_expires_; }

    // Private methods: a valid connection token, or a valid params.access_token. Replies with the error otherwise.
    bool require_auth(const Req& r, Output& out) {
        if (auto tok = json::string_member(r.params, "access_token")) {
            std::lock_guard lk(shared_->mu);
            auto it = shared_->tokens.find(*tok);
            if (it == shared_->tokens.end() || it->second.refresh) {
                error(out, r, 13009, "unauthorized", "invalid token", "access_token");
                return false;
            }
            if (r.now >= it->second.expires) {
                error(out, r, 13009, "unauthorized", "token has expired", "access_token");
                return false;
            }
            client_id_ = it->second.client_id;
            token_expires_ = it->second.expires;
            return true;
        }
        if (client_id_.empty()) {
            error(out, r, 10000, "authorization_required");
            return false;
        }
        if (r.now >= token_expires_) {
            error(out, r, 13009, "unauthorized", "token has expired", "access_token");
            return false;
        }
        return true;
    }

    const DeribitAccount* account(std::string_view id) const {
        for (auto& a : opt_.accounts)
            if (a.client_id == id) return &a;
        return nullptr;
    }

    void dispatch(const Req& r, Output& out) {
        const std::string& m = r.method;
        if (m == "public/auth") return auth(r, out);
        if (m == "public/test") {
            test_outstanding_ = false;
            if (json::string_member(r.params, "expected_result") == std::optional<std::string>("exception"))
                return error(out, r, 11094, "internal_server_error", "expected_result: exception");
            return result(out, r, R"({"version":"1.2.26"})");
        }
        if (m == "public/set_heartbeat") {
            auto iv = json::number_member(r.params, "interval");
            if (!iv) return error(out, r, -32602, "Invalid params", "interval is required", "interval");
            auto ms = static_cast<std::int64_t>(std::llround(*iv * 1000.0));
            if (ms < opt_.min_heartbeat_interval_ms || ms <= 0)
                return error(out, r, -32602, "Invalid params", "interval too small", "interval");
            hb_interval_ms_ = ms;
            hb_next_ = r.now + milliseconds(ms);
            test_outstanding_ = false;
            return result(out, r, "\"ok\"");
        }
        if (m == "public/disable_heartbeat") {
            hb_interval_ms_ = 0;
            test_outstanding_ = false;
            return result(out, r, "\"ok\"");
        }
        if (m == "public/hello") return result(out, r, R"({"version":"1.2.26"})");
        if (m == "public/get_time") return result(out, r, std::to_string(wall_ms(r.now)));
        if (m == "public/subscribe" || m == "private/subscribe") return subscribe(r, out, m[1] == 'r');
        if (m == "public/unsubscribe" || m == "private/unsubscribe") return unsubscribe(r, out, m[1] == 'r');
        if (m == "public/unsubscribe_all" || m == "private/unsubscribe_all") {
            if (m[1] == 'r' && !require_auth(r, out)) return;
            channels_.clear();
            return result(out, r, "\"ok\"");
        }
        if (m == "public/ticker") return ticker(r, out);
        if (m == "public/get_instruments") return instruments(r, out);
        if (m == "public/get_order_book") return order_book(r, out);
        if (m.rfind("private/", 0) == 0) {
            static const std::set<std::string, std::less<>> known = {
                "private/enable_cancel_on_disconnect", "private/disable_cancel_on_disconnect",
                "private/get_cancel_on_disconnect", "private/logout", "private/buy", "private/sell",
                "private/cancel", "private/cancel_all", "private/get_open_orders",
                "private/get_open_orders_by_currency", "private/get_open_orders_by_instrument",
                "private/get_account_summary"};
            if (!known.count(m)) return error(out, r, -32601, "Method not found");
            if (!require_auth(r, out)) return;
            return private_method(r, out);
        }
        return error(out, r, -32601, "Method not found");
    }

    void auth(const Req& r, Output& out) {
        auto grant = json::string_member(r.params, "grant_type");
        if (!grant) return error(out, r, -32602, "Invalid params", "grant_type is required", "grant_type");
        std::string client;
        if (*grant == "client_credentials") {
            auto id = json::string_member(r.params, "client_id");
            auto secret = json::string_member(r.params, "client_secret");
            if (!id || !secret) return error(out, r, -32602, "Invalid params", "client_id and client_secret required");
            const DeribitAccount* a = account(*id);
            if (!a || a->client_secret != *secret) return error(out, r, 13004, "invalid_credentials");
            client = *id;
        } else if (*grant == "client_signature") {
            auto id = json::string_member(r.params, "client_id");
            auto ts = json::number_member(r.params, "timestamp");
            auto nonce = json::string_member(r.params, "nonce");
            auto sig = json::string_member(r.params, "signature");
            auto data = json::string_member(r.params, "data").value_or("");
            if (!id || !ts || !nonce || !sig) return error(out, r, -32602, "Invalid params", "signature fields missing");
            const DeribitAccount* a = account(*id);
            if (!a) return error(out, r, 13004, "invalid_credentials");
            std::string want = deribit_signature(a->client_secret, static_cast<std::int64_t>(*ts), *nonce, data);
            std::string got = *sig;
            for (auto& c : got) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (want.size() != got.size() || CRYPTO_memcmp(want.data(), got.data(), want.size()) != 0)
                return error(out, r, 13004, "invalid_credentials", "invalid signature", "signature");
            client = *id;
        } else if (*grant == "refresh_token") {
            auto tok = json::string_member(r.params, "refresh_token");
            if (!tok) return error(out, r, -32602, "Invalid params", "refresh_token is required", "refresh_token");
            std::lock_guard lk(shared_->mu);
            auto it = shared_->tokens.find(*tok);
            if (it == shared_->tokens.end() || !it->second.refresh)
                return error(out, r, 13009, "unauthorized", "invalid refresh token", "refresh_token");
            if (r.now >= it->second.expires)
                return error(out, r, 13009, "unauthorized", "refresh token has expired", "refresh_token");
            client = it->second.client_id;
            shared_->tokens.erase(it);  // refresh tokens are single-use
        } else {
            return error(out, r, -32602, "Invalid params", "unknown grant_type", "grant_type");
        }
        std::string access, refresh;
        {
            std::lock_guard lk(shared_->mu);
            auto make = [&](bool is_refresh) {
                std::string t = std::to_string(wall_ms(r.now)) + "." + std::to_string(id_) + "." +
                                std::to_string(++shared_->token_counter) + (is_refresh ? ".r" : ".a");
                shared_->tokens[t] = {client, r.now + (is_refresh ? opt_.refresh_token_ttl : opt_.token_ttl),
                                      is_refresh};
                return t;
            };
            access = make(false);
            refresh = make(true);
        }
        client_id_ = client;
        token_expires_ = r.now + opt_.token_ttl;
        auto expires_in = std::max<std::int64_t>(1, opt_.token_ttl.count() / 1000);
        result(out, r,
               "{\"access_token\":" + json_quote(access) + ",\"expires_in\":" + std::to_string(expires_in) +
                   ",\"refresh_token\":" + json_quote(refresh) +
                   ",\"scope\":\"connection mainaccount\",\"enabled_features\":[],\"token_type\":\"bearer\"}");
    }

    std::optional<std::vector<std::string>> channels_param(const Req& r, Output& out) {
        std::vector<std::string> list;
        auto raw = json::member(r.params, "channels");
        if (!raw || !parse_json_string_array(*raw, list)) {
            error(out, r, -32602, "Invalid params", "channels must be an array of strings", "channels");
            return std::nullopt;
        }
        return list;
    }

    void subscribe(const Req& r, Output& out, bool priv) {
        if (priv && !require_auth(r, out)) return;
        auto list = channels_param(r, out);
        if (!list) return;
        bool authed = token_valid(r.now);
        for (auto& ch : *list) {
            if (!priv && !authed && (ch.ends_with(".raw") || ch.rfind("user.", 0) == 0))
                return error(out, r, 13778, "raw_subscriptions_not_available_for_unauthorized", "", "channels");
        }
        std::string res = "[";
        for (auto& ch : *list) {
            if (!known_channel(ch)) continue;
            if (!channels_.count(ch)) {
                Channel c;
                c.next_due = r.now + opt_.notification_interval;
                c.periodic = ch.rfind("user.", 0) != 0 && ch != "platform_state" && ch != "announcements";
                channels_.emplace(ch, c);
            }
            if (res.size() > 1) res += ',';
            res += json_quote(ch);
        }
        res += ']';
        result(out, r, res);
    }

    void unsubscribe(const Req& r, Output& out, bool priv) {
        if (priv && !require_auth(r, out)) return;
        auto list = channels_param(r, out);
        if (!list) return;
        std::string res = "[";
        for (auto& ch : *list) {
            if (channels_.erase(ch) == 0) continue;
            if (res.size() > 1) res += ',';
            res += json_quote(ch);
        }
        res += ']';
        result(out, r, res);
    }

    void emit(const std::string& name, Channel& ch, SteadyTime now, Output& out) {
        if (gap_ && ch.change_id != 0) {  // the notification with the next id is never sent
            ch.change_id += 1;
            gap_ = false;
        }
        std::uint64_t prev = ch.change_id;
        ch.change_id += 1;
        std::int64_t ts = wall_ms(now);
        std::string data = "{\"timestamp\":" + std::to_string(ts);
        auto parts_at = [&](std::size_t n) {  // n-th dot-separated part of the channel name
            std::size_t b = 0;
            for (std::size_t k = 0; k < n; ++k) {
                b = name.find('.', b);
                if (b == std::string::npos) return std::string();
                ++b;
            }
            return name.substr(b, name.find('.', b) - b);
        };
        std::string instr = parts_at(1);
        double px = fake_price(instr, ts);
        if (name.rfind("deribit_price_index.", 0) == 0) {
            data += ",\"index_name\":" + json_quote(instr) + ",\"price\":" + json::number(px);
        } else if (name.rfind("ticker.", 0) == 0 || name.rfind("incremental_ticker.", 0) == 0 ||
                   name.rfind("quote.", 0) == 0) {
            double tick = px >= 1000 ? 0.5 : 0.01;
            data += ",\"instrument_name\":" + json_quote(instr) + ",\"best_bid_price\":" + json::number(px - tick) +
                    ",\"best_bid_amount\":" + json::number(10) + ",\"best_ask_price\":" + json::number(px + tick) +
                    ",\"best_ask_amount\":" + json::number(12) + ",\"last_price\":" + json::number(px) +
                    ",\"mark_price\":" + json::number(px) + ",\"index_price\":" + json::number(px) +
                    ",\"state\":\"open\"";
        } else if (name.rfind("book.", 0) == 0) {
            double tick = px >= 1000 ? 0.5 : 0.01;
            data += ",\"instrument_name\":" + json_quote(instr) + ",\"type\":\"" +
                    (prev == 0 ? "snapshot" : "change") + "\",\"bids\":[[\"" + (prev == 0 ? "new" : "change") +
                    "\"," + json::number(px - tick) + "," + json::number(10 + double(ch.change_id % 7)) +
                    "]],\"asks\":[[\"" + (prev == 0 ? "new" : "change") + "\"," + json::number(px + tick) + "," +
                    json::number(12 + double(ch.change_id % 5)) + "]]";
        } else if (name.rfind("trades.", 0) == 0) {
            std::uint64_t tid;
            {
                std::lock_guard lk(shared_->mu);
                tid = ++shared_->trade_counter;
            }
            data += ",\"instrument_name\":" + json_quote(instr) + ",\"trades\":[{\"trade_seq\":" +
                    std::to_string(ch.change_id) + ",\"trade_id\":\"" + std::to_string(tid) +
                    "\",\"timestamp\":" + std::to_string(ts) + ",\"instrument_name\":" + json_quote(instr) +
                    ",\"price\":" + json::number(px) + ",\"amount\":10,\"direction\":\"" +
                    (ch.change_id % 2 ? "buy" : "sell") + "\"}]";
        }
        data += ",\"change_id\":" + std::to_string(ch.change_id);
        if (prev != 0) data += ",\"prev_change_id\":" + std::to_string(prev);
        data += "}";
        out.notify(R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":)" + json_quote(name) +
                   ",\"data\":" + data + "}}");
        ++info_notifications_;
    }

    // One notification on each subscribed user.orders.* channel matching the order's instrument.
    void order_update(const std::string& order_json_text, const std::string& instrument, Output& out) {
        for (auto& [name, ch] : channels_) {
            if (name.rfind("user.orders.", 0) != 0) continue;
            std::string_view rest = std::string_view(name).substr(12);
            if (rest.rfind(instrument, 0) != 0 && rest.rfind("any", 0) != 0 &&
                rest.rfind(currency_of(instrument), 0) != 0)
                continue;
            out.notify(R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":)" + json_quote(name) +
                       ",\"data\":" + order_json_text + "}}");
            ++info_notifications_;
        }
    }

    void ticker(const Req& r, Output& out) {
        auto instr = json::string_member(r.params, "instrument_name");
        if (!instr) return error(out, r, -32602, "Invalid params", "instrument_name is required", "instrument_name");
        std::int64_t ts = wall_ms(r.now);
        double px = fake_price(*instr, ts), tick = px >= 1000 ? 0.5 : 0.01;
        result(out, r,
               "{\"instrument_name\":" + json_quote(*instr) + ",\"timestamp\":" + std::to_string(ts) +
                   ",\"state\":\"open\",\"best_bid_price\":" + json::number(px - tick) +
                   ",\"best_bid_amount\":10,\"best_ask_price\":" + json::number(px + tick) +
                   ",\"best_ask_amount\":12,\"last_price\":" + json::number(px) + ",\"mark_price\":" +
                   json::number(px) + ",\"index_price\":" + json::number(px) + ",\"open_interest\":1000," +
                   "\"stats\":{\"volume\":1234.5,\"high\":" + json::number(px * 1.01) + ",\"low\":" +
                   json::number(px * 0.99) + ",\"price_change\":0.1}}");
    }

    void instruments(const Req& r, Output& out) {
        auto cur = json::string_member(r.params, "currency");
        if (!cur) return error(out, r, -32602, "Invalid params", "currency is required", "currency");
        std::string c = *cur;
        for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (c != "BTC" && c != "ETH" && c != "SOL" && c != "USDC" && c != "ANY")
            return error(out, r, -32602, "Invalid params", "unknown currency", "currency");
        if (c == "ANY") c = "BTC";
        auto kind = json::string_member(r.params, "kind").value_or("");
        std::int64_t now = wall_ms(r.now);
        std::int64_t expiry = now - now % 86'400'000 + 30LL * 86'400'000 + 8 * 3'600'000;
        struct I { std::string name, kind, period; std::int64_t exp; };
        std::vector<I> list = {{c + "-PERPETUAL", "future", "perpetual", 32503708800000LL},
                               {c + "-FUT30D", "future", "month", expiry},
                               {c + "-OPT30D-" + std::to_string(static_cast<long long>(base_price(c))) + "-C",
                                "option", "month", expiry}};
        std::string res = "[";
        for (auto& i : list) {
            if (!kind.empty() && kind != i.kind) continue;
            if (res.size() > 1) res += ',';
            res += "{\"instrument_name\":" + json_quote(i.name) + ",\"kind\":\"" + i.kind +
                   "\",\"base_currency\":\"" + c + "\",\"quote_currency\":\"USD\",\"settlement_currency\":\"" + c +
                   "\",\"counter_currency\":\"USD\",\"tick_size\":" + json::number(base_price(c) >= 1000 ? 0.5 : 0.01) +
                   ",\"min_trade_amount\":10,\"contract_size\":10,\"is_active\":true,\"settlement_period\":\"" +
                   i.period + "\",\"creation_timestamp\":1534167754000,\"expiration_timestamp\":" +
                   std::to_string(i.exp) + (i.kind == "option" ? ",\"option_type\":\"call\",\"strike\":" +
                                                                     json::number(base_price(c))
                                                               : std::string()) +
                   "}";
        }
        res += ']';
        result(out, r, res);
    }

    void order_book(const Req& r, Output& out) {
        auto instr = json::string_member(r.params, "instrument_name");
        if (!instr) return error(out, r, -32602, "Invalid params", "instrument_name is required", "instrument_name");
        int depth = static_cast<int>(json::number_member(r.params, "depth").value_or(5));
        depth = std::clamp(depth, 1, 100);
        std::int64_t ts = wall_ms(r.now);
        double px = fake_price(*instr, ts), tick = px >= 1000 ? 0.5 : 0.01;
        std::string bids = "[", asks = "[";
        for (int i = 0; i < depth; ++i) {
            if (i) bids += ',', asks += ',';
            bids += "[" + json::number(px - tick * (i + 1)) + "," + json::number(10.0 * (i + 1)) + "]";
            asks += "[" + json::number(px + tick * (i + 1)) + "," + json::number(10.0 * (i + 1)) + "]";
        }
        bids += ']';
        asks += ']';
        result(out, r,
               "{\"instrument_name\":" + json_quote(*instr) + ",\"timestamp\":" + std::to_string(ts) +
                   ",\"state\":\"open\",\"change_id\":" + std::to_string(ts) + ",\"bids\":" + bids + ",\"asks\":" +
                   asks + ",\"best_bid_price\":" + json::number(px - tick) + ",\"best_ask_price\":" +
                   json::number(px + tick) + ",\"last_price\":" + json::number(px) + ",\"mark_price\":" +
                   json::number(px) + ",\"index_price\":" + json::number(px) + "}");
    }

    void private_method(const Req& r, Output& out) {
        const std::string& m = r.method;
        std::int64_t now_ms = wall_ms(r.now);
        if (m == "private/enable_cancel_on_disconnect" || m == "private/disable_cancel_on_disconnect") {
            cod_ = m == "private/enable_cancel_on_disconnect";
            return result(out, r, "\"ok\"");
        }
        if (m == "private/get_cancel_on_disconnect")
            return result(out, r, std::string("{\"scope\":\"connection\",\"enabled\":") + (cod_ ? "true" : "false") + "}");
        if (m == "private/logout") {
            if (json::bool_member(r.params, "invalidate_token").value_or(true)) {
                std::lock_guard lk(shared_->mu);
                for (auto it = shared_->tokens.begin(); it != shared_->tokens.end();)
                    it = it->second.client_id == client_id_ ? shared_->tokens.erase(it) : std::next(it);
            }
            result(out, r, "\"ok\"");
            out.close_with(1000, "logout", EndReason::logout);
            closed_ = true;
            return;
        }
        if (m == "private/get_account_summary") {
            auto cur = json::string_member(r.params, "currency").value_or("BTC");
            return result(out, r,
                          "{\"currency\":" + json_quote(cur) + ",\"balance\":10,\"equity\":10,\"available_funds\":10,"
                          "\"margin_balance\":10,\"initial_margin\":0,\"maintenance_margin\":0}");
        }
        if (m == "private/buy" || m == "private/sell") {
            auto instr = json::string_member(r.params, "instrument_name");
            auto amount = json::number_member(r.params, "amount");
            if (!instr) return error(out, r, -32602, "Invalid params", "instrument_name is required", "instrument_name");
            if (!amount || *amount <= 0) return error(out, r, -32602, "Invalid params", "amount must be > 0", "amount");
            MockOrder o;
            o.instrument_name = *instr;
            o.direction = m == "private/buy" ? "buy" : "sell";
            o.order_type = json::string_member(r.params, "type").value_or("limit");
            o.label = json::string_member(r.params, "label").value_or("");
            o.amount = *amount;
            o.creation_timestamp = now_ms;
            if (o.order_type != "limit" && o.order_type != "market")
                return error(out, r, -32602, "Invalid params", "unsupported order type", "type");
            if (o.order_type == "limit") {
                auto price = json::number_member(r.params, "price");
                if (!price || *price <= 0) return error(out, r, -32602, "Invalid params", "price is required", "price");
                o.price = *price;
            } else {
                o.price = fake_price(*instr, now_ms);
            }
            std::uint64_t trade_id = 0;
            {
                std::lock_guard lk(shared_->mu);
                o.order_id = "MOCK-" + std::to_string(++shared_->order_counter);
                if (o.order_type == "limit") shared_->orders[client_id_].push_back(o);
                else trade_id = ++shared_->trade_counter;
            }
            bool filled = o.order_type == "market";
            std::string order = order_json(o, filled ? "filled" : "open", filled ? o.amount : 0, now_ms);
            std::string trades = "[]";
            if (filled)
                trades = "[{\"trade_id\":\"" + std::to_string(trade_id) + "\",\"order_id\":" + json_quote(o.order_id) +
                         ",\"instrument_name\":" + json_quote(o.instrument_name) + ",\"direction\":" +
                         json_quote(o.direction) + ",\"price\":" + json::number(o.price) + ",\"amount\":" +
                         json::number(o.amount) + ",\"timestamp\":" + std::to_string(now_ms) + "}]";
            result(out, r, "{\"order\":" + order + ",\"trades\":" + trades + "}");
            order_update(order, o.instrument_name, out);
            return;
        }
        if (m == "private/cancel") {
            auto oid = json::string_member(r.params, "order_id");
            if (!oid) return error(out, r, -32602, "Invalid params", "order_id is required", "order_id");
            std::optional<MockOrder> found;
            {
                std::lock_guard lk(shared_->mu);
                auto& list = shared_->orders[client_id_];
                auto it = std::find_if(list.begin(), list.end(), [&](auto& o) { return o.order_id == *oid; });
                if (it != list.end()) {
                    found = *it;
                    list.erase(it);
                }
            }
            if (!found) return error(out, r, 11044, "not_open_order", "order not found", "order_id");
            std::string order = order_json(*found, "cancelled", 0, now_ms);
            result(out, r, order);
            order_update(order, found->instrument_name, out);
            return;
        }
        if (m == "private/cancel_all") {
            std::size_t n;
            {
                std::lock_guard lk(shared_->mu);
                auto& list = shared_->orders[client_id_];
                n = list.size();
                list.clear();
            }
            return result(out, r, std::to_string(n));
        }
        // get_open_orders[_by_currency|_by_instrument]
        auto instr = json::string_member(r.params, "instrument_name");
        auto cur = json::string_member(r.params, "currency");
        if (m == "private/get_open_orders_by_instrument" && !instr)
            return error(out, r, -32602, "Invalid params", "instrument_name is required", "instrument_name");
        if (m == "private/get_open_orders_by_currency" && !cur)
            return error(out, r, -32602, "Invalid params", "currency is required", "currency");
        std::vector<MockOrder> list;
        {
            std::lock_guard lk(shared_->mu);
            if (auto it = shared_->orders.find(client_id_); it != shared_->orders.end()) list = it->second;
        }
        std::string res = "[";
        for (auto& o : list) {
            if (instr && o.instrument_name != *instr) continue;
            if (cur && currency_of(o.instrument_name) != *cur) continue;
            if (res.size() > 1) res += ',';
            res += order_json(o, "open", 0, now_ms);
        }
        res += ']';
        result(out, r, res);
    }

    const DeribitOptions& opt_;
    std::shared_ptr<Shared> shared_;
    std::uint64_t id_;
    SteadyTime open_steady_;
    std::int64_t open_wall_ms_;
    Bucket requests_, subscribes_;
    std::string client_id_;  // non-empty once authenticated
    SteadyTime token_expires_{};
    std::int64_t hb_interval_ms_ = 0;
    SteadyTime hb_next_{};
    bool test_outstanding_ = false, activity_ = false, skip_hb_ = false, gap_ = false, cod_ = false, closed_ = false;
    std::map<std::string, Channel, std::less<>> channels_;
    std::uint64_t info_requests_ = 0, info_notifications_ = 0;
};

}  // namespace

DeribitExchange::DeribitExchange(DeribitOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {}

int DeribitExchange::check_target(std::string_view) const { return 0; }

std::unique_ptr<DialectSession> DeribitExchange::open_session(std::string_view, std::uint64_t connection_id,
                                                              SteadyTime now) {
    return std::make_unique<DeribitSession>(options_, shared_, connection_id, now);
}

std::vector<MockOrder> DeribitExchange::open_orders(std::string_view client_id) const {
    std::lock_guard lk(shared_->mu);
    auto it = shared_->orders.find(client_id);
    return it == shared_->orders.end() ? std::vector<MockOrder>{} : it->second;
}

std::uint64_t DeribitExchange::cancelled_on_disconnect() const {
    std::lock_guard lk(shared_->mu);
    return shared_->cancelled_cod;
}

}  // namespace zenws::mock
