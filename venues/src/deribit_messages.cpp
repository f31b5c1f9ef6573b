// deribit_messages.cpp — owns the pure half of the venue adapters: the small JSON readers of
// zenws/venues/venue.hpp, and the Deribit request builders, client_signature (HMAC-SHA256), typed result parsers
// and error mapping of zenws/venues/deribit.hpp. No sockets.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "zenws/venues/deribit.hpp"
#include "zenws/venues/venue.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/redact.hpp"

namespace zenws::adapters {

std::string_view to_string(ErrorAction a) noexcept {
    switch (a) {
        case ErrorAction::none: return "none";
        case ErrorAction::retry: return "retry";
        case ErrorAction::reconnect: return "reconnect";
        case ErrorAction::reauthenticate: return "reauthenticate";
        case ErrorAction::fatal: return "fatal";
    }
    return "unknown";
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void skip_ws(std::string_view s, std::size_t& i) {
    while (i < s.size() && is_ws(s[i])) ++i;
}

// Skips one JSON value starting at s[i] (text assumed valid). Returns false on obviously malformed input.
bool skip_value(std::string_view s, std::size_t& i) {
    skip_ws(s, i);
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '"') {
        ++i;
        while (i < s.size()) {
            if (s[i] == '\\') {
                i += 2;
                continue;
            }
            if (s[i] == '"') {
                ++i;
                return true;
            }
            ++i;
        }
        return false;
    }
    if (c == '{' || c == '[') {
        int depth = 0;
        while (i < s.size()) {
            char d = s[i];
            if (d == '"') {
                if (!skip_value(s, i)) return false;
                continue;
            }
            if (d == '{' || d == '[') ++depth;
            if (d == '}' || d == ']') {
                --depth;
                if (depth == 0) {
                    ++i;
                    return true;
                }
            }
            ++i;
        }
        return false;
    }
    // number, true, false, null
    std::size_t start = i;
    while (i < s.size() && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
    return i > start;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<std::string_view> json_member(std::string_view object_raw, std::string_view key) {
    std::string_view s = trim(object_raw);
    if (s.size() < 2 || s.front() != '{') return std::nullopt;
    std::size_t i = 1;
    std::optional<std::string_view> found;
    while (i < s.size()) {
        skip_ws(s, i);
        if (i >= s.size() || s[i] == '}') break;
        if (s[i] == ',') {
            ++i;
            continue;
        }
        if (s[i] != '"') return std::nullopt;
        std::size_t kstart = i;
        if (!skip_value(s, i)) return std::nullopt;
        std::string_view k = s.substr(kstart + 1, i - kstart - 2);
        skip_ws(s, i);
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        ++i;
        skip_ws(s, i);
        std::size_t vstart = i;
        if (!skip_value(s, i)) return std::nullopt;
        if (k == key) found = s.substr(vstart, i - vstart);  // last one wins
    }
    return found;
}

std::optional<std::string> json_string_value(std::string_view raw) {
    raw = trim(raw);
    if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
    return json_unescape(raw.substr(1, raw.size() - 2));
}

std::optional<double> json_number_value(std::string_view raw) {
    raw = trim(raw);
    if (raw.size() >= 2 && raw.front() == '"') raw = raw.substr(1, raw.size() - 2);
    if (raw.empty()) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
    if (ec != std::errc() || p != raw.data() + raw.size()) return std::nullopt;
    return v;
}

std::optional<std::string> json_string(std::string_view object_raw, std::string_view key) {
    auto m = json_member(object_raw, key);
    if (!m) return std::nullopt;
    return json_string_value(*m);
}

std::optional<double> json_number(std::string_view object_raw, std::string_view key) {
    auto m = json_member(object_raw, key);
    if (!m) return std::nullopt;
    return json_number_value(*m);
}

std::optional<std::int64_t> json_int(std::string_view object_raw, std::string_view key) {
    auto m = json_member(object_raw, key);
    if (!m) return std::nullopt;
    std::string_view raw = trim(*m);
    if (raw.size() >= 2 && raw.front() == '"') raw = raw.substr(1, raw.size() - 2);
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
    if (ec == std::errc() && p == raw.data() + raw.size()) return v;
    auto d = json_number_value(raw);  // 1.7e12 etc.
    if (d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return static_cast<std::int64_t>(*d);
    return std::nullopt;
}

std::optional<bool> json_bool(std::string_view object_raw, std::string_view key) {
    auto m = json_member(object_raw, key);
    if (!m) return std::nullopt;
    auto v = trim(*m);
    if (v == "true") return true;
    if (v == "false") return false;
    return std::nullopt;
}

std::optional<std::vector<std::string_view>> json_array(std::string_view array_raw) {
    std::string_view s = trim(array_raw);
    if (s.size() < 2 || s.front() != '[') return std::nullopt;
    std::vector<std::string_view> out;
    std::size_t i = 1;
    while (i < s.size()) {
        skip_ws(s, i);
        if (i >= s.size() || s[i] == ']') break;
        if (s[i] == ',') {
            ++i;
            continue;
        }
        std::size_t start = i;
        if (!skip_value(s, i)) return std::nullopt;
        out.push_back(s.substr(start, i - start));
    }
    return out;
}

}  // namespace zenws::adapters

namespace zenws::deribit {

using adapters::ErrorAction;
using adapters::json_array;
using adapters::json_bool;
using adapters::json_int;
using adapters::json_member;
using adapters::json_number;
using adapters::json_string;

// ---- builders -------------------------------------------------------------------------------------------------------

std::string client_signature(std::string_view secret, std::int64_t timestamp_ms, std::string_view nonce,
                             std::string_view data) {
    std::string msg = std::to_string(timestamp_ms);
    msg += '\n';
    msg.append(nonce);
    msg += '\n';
    msg.append(data);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 0xF];
    }
    return out;
}

std::string make_nonce() {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
    std::string n(16, 'x');
    for (auto& c : n) c = alphabet[pick(rng)];
    return n;
}

namespace {

std::string number(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(v));
    }
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "0";
    return std::string(buf, p);
}

struct ObjectWriter {
    std::string s = "{";
    void key(std::string_view k) {
        if (s.size() > 1) s += ',';
        append_json_string(s, k);
        s += ':';
    }
    ObjectWriter& str(std::string_view k, std::string_view v) {
        key(k);
        append_json_string(s, v);
        return *this;
    }
    ObjectWriter& num(std::string_view k, double v) {
        key(k);
        s += number(v);
        return *this;
    }
    ObjectWriter& integer(std::string_view k, std::int64_t v) {
        key(k);
        s += std::to_string(v);
        return *this;
    }
    ObjectWriter& boolean(std::string_view k, bool v) {
        key(k);
        s += v ? "true" : "false";
        return *this;
    }
    std::string done() { return s + "}"; }
};

}  // namespace

std::string auth_params(const Credentials& c, std::int64_t timestamp_ms, std::string_view nonce) {
    ObjectWriter w;
    if (c.grant == Grant::client_credentials) {
        w.str("grant_type", "client_credentials").str("client_id", c.client_id).str("client_secret", c.client_secret);
        return w.done();
    }
    if (timestamp_ms == 0) {
        timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    }
    std::string n = nonce.empty() ? make_nonce() : std::string(nonce);
    w.str("grant_type", "client_signature")
        .str("client_id", c.client_id)
        .integer("timestamp", timestamp_ms)
        .str("nonce", n)
        .str("data", "")
        .str("signature", client_signature(c.client_secret, timestamp_ms, n, ""));
    return w.done();
}

std::string refresh_params(std::string_view refresh_token) {
    return ObjectWriter{}.str("grant_type", "refresh_token").str("refresh_token", refresh_token).done();
}

std::string set_heartbeat_params(double interval_seconds) {
    return ObjectWriter{}.num("interval", interval_seconds).done();
}

std::string cancel_on_disconnect_params(std::string_view scope) {
    return ObjectWriter{}.str("scope", scope).done();
}

std::string get_instruments_params(std::string_view currency, std::string_view kind, bool expired) {
    ObjectWriter w;
    w.str("currency", currency);
    if (!kind.empty()) w.str("kind", kind);
    if (expired) w.boolean("expired", true);
    return w.done();
}

std::string get_order_book_params(std::string_view instrument_name, int depth) {
    return ObjectWriter{}.str("instrument_name", instrument_name).integer("depth", depth).done();
}

std::string ticker_params(std::string_view instrument_name) {
    return ObjectWriter{}.str("instrument_name", instrument_name).done();
}

std::string order_params(const OrderRequest& o) {
    ObjectWriter w;
    w.str("instrument_name", o.instrument_name).num("amount", o.amount);
    if (!o.type.empty()) w.str("type", o.type);
    if (o.price) w.num("price", *o.price);
    if (!o.label.empty()) w.str("label", o.label);
    if (!o.time_in_force.empty()) w.str("time_in_force", o.time_in_force);
    if (o.post_only) w.boolean("post_only", true);
    if (o.reduce_only) w.boolean("reduce_only", true);
    return w.done();
}

std::string cancel_params(std::string_view order_id) { return ObjectWriter{}.str("order_id", order_id).done(); }

std::pair<std::string, std::string> open_orders_request(const OpenOrdersFilter& f) {
    ObjectWriter w;
    std::string method = "private/get_open_orders";
    if (!f.instrument_name.empty()) {
        method = "private/get_open_orders_by_instrument";
        w.str("instrument_name", f.instrument_name);
    } else if (!f.currency.empty()) {
        method = "private/get_open_orders_by_currency";
        w.str("currency", f.currency);
        if (!f.kind.empty()) w.str("kind", f.kind);
    } else if (!f.kind.empty()) {
        w.str("kind", f.kind);
    }
    if (!f.type.empty()) w.str("type", f.type);
    return {method, w.done()};
}

// ---- error mapping --------------------------------------------------------------------------------------------------

ErrorAction classify_error(std::int64_t code) noexcept {
    switch (code) {
        case codes::too_many_requests: return ErrorAction::reconnect;
        case codes::unauthorized:
        case codes::authorization_required: return ErrorAction::reauthenticate;
        case codes::invalid_credentials:
        case codes::forbidden: return ErrorAction::fatal;
        case codes::retry:
        case codes::settlement_in_progress:
        case codes::matching_engine_queue_full:
        case codes::too_many_concurrent_requests:
        case codes::system_maintenance:
        case codes::temporarily_unavailable:
        case codes::unavailable: return ErrorAction::retry;
        default: return ErrorAction::none;
    }
}

Errc errc_for(std::int64_t code) noexcept {
    switch (code) {
        case codes::too_many_requests: return Errc::rate_limited;
        case codes::invalid_credentials:
        case codes::forbidden:
        case codes::unauthorized:
        case codes::authorization_required: return Errc::auth_failed;
        default: return Errc::rpc_error;
    }
}

Error map_error(Error e) {
    if (e.code == Errc::rpc_error) e.code = errc_for(e.rpc_code);
    return e;
}

// ---- parsers --------------------------------------------------------------------------------------------------------

namespace {

// Error::raw keeps the server's text for diagnosis, with secret members (tokens, ...) redacted: applications log it.
std::string raw_for_error(std::string_view text) {
    static const JsonRedactor redactor;
    return redactor.redacted(text);
}

// The "result" of a reply, or the text itself when it is not an envelope. Error replies become errors.
Result<std::string_view> result_of(std::string_view reply) {
    JsonEnvelope env = scan_json(reply);
    if (env.valid && env.has_error) {
        Error e(Errc::rpc_error, "server answered with an error");
        e.rpc_code = env.has_error_code ? env.error_code : 0;
        if (auto m = json_unescape(env.error_message)) {
            e.message = "server answered with error " + std::to_string(e.rpc_code) + ": " + *m;
        }
        e.raw = raw_for_error(reply);
        return map_error(std::move(e));
    }
    if (env.valid && env.has_result) return env.result_raw;
    if (is_valid_json(reply)) return reply;
    return Error(Errc::invalid_request, "not a JSON reply");
}

Error shape_error(std::string_view what, std::string_view raw) {
    Error e(Errc::invalid_request, "unexpected result shape: expected " + std::string(what));
    e.raw = raw_for_error(raw.substr(0, 512));  // an auth result of the wrong shape may still hold a token
    return e;
}

bool is_object(std::string_view raw) {
    auto t = raw.find_first_not_of(" \t\r\n");
    return t != std::string_view::npos && raw[t] == '{';
}

std::string str_or(std::string_view obj, std::string_view key) { return json_string(obj, key).value_or(""); }
double num_or(std::string_view obj, std::string_view key) { return json_number(obj, key).value_or(0); }
std::int64_t int_or(std::string_view obj, std::string_view key) { return json_int(obj, key).value_or(0); }

std::vector<PriceLevel> levels(std::string_view obj, std::string_view key) {
    std::vector<PriceLevel> out;
    auto raw = json_member(obj, key);
    if (!raw) return out;
    auto rows = json_array(*raw);
    if (!rows) return out;
    for (auto row : *rows) {
        auto cells = json_array(row);
        if (!cells || cells->size() < 2) continue;
        // [price, amount] (get_order_book) or ["new"|"change"|"delete", price, amount] (book notifications)
        std::size_t off = cells->size() >= 3 ? cells->size() - 2 : 0;
        auto p = adapters::json_number_value((*cells)[off]);
        auto a = adapters::json_number_value((*cells)[off + 1]);
        if (p && a) out.push_back({*p, *a});
    }
    return out;
}

Trade trade_of(std::string_view t) {
    Trade x;
    x.trade_id = str_or(t, "trade_id");
    x.order_id = str_or(t, "order_id");
    x.instrument_name = str_or(t, "instrument_name");
    x.direction = str_or(t, "direction");
    x.price = num_or(t, "price");
    x.amount = num_or(t, "amount");
    x.timestamp = int_or(t, "timestamp");
    return x;
}

}  // namespace

Result<AuthResult> parse_auth(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    std::string_view obj = r.value();
    auto access = json_string(obj, "access_token");
    if (!access || access->empty()) return shape_error("an object with access_token", obj);
    AuthResult a;
    a.access_token = std::move(*access);
    a.refresh_token = str_or(obj, "refresh_token");
    a.expires_in = int_or(obj, "expires_in");
    a.scope = str_or(obj, "scope");
    a.token_type = str_or(obj, "token_type");
    return a;
}

Result<std::vector<Instrument>> parse_instruments(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    auto items = json_array(r.value());
    if (!items) return shape_error("an array of instruments", r.value());
    std::vector<Instrument> out;
    out.reserve(items->size());
    for (auto it : *items) {
        if (!is_object(it)) return shape_error("instrument objects", it);
        Instrument i;
        i.instrument_name = str_or(it, "instrument_name");
        i.kind = str_or(it, "kind");
        i.base_currency = str_or(it, "base_currency");
        i.quote_currency = str_or(it, "quote_currency");
        i.settlement_period = str_or(it, "settlement_period");
        i.option_type = str_or(it, "option_type");
        i.tick_size = num_or(it, "tick_size");
        i.min_trade_amount = num_or(it, "min_trade_amount");
        i.contract_size = num_or(it, "contract_size");
        i.strike = num_or(it, "strike");
        i.is_active = json_bool(it, "is_active").value_or(false);
        i.creation_timestamp = int_or(it, "creation_timestamp");
        i.expiration_timestamp = int_or(it, "expiration_timestamp");
        out.push_back(std::move(i));
    }
    return out;
}

Result<OrderBook> parse_order_book(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    std::string_view o = r.value();
    if (!is_object(o) || !json_member(o, "instrument_name")) return shape_error("an order book object", o);
    OrderBook b;
    b.instrument_name = str_or(o, "instrument_name");
    b.state = str_or(o, "state");
    b.timestamp = int_or(o, "timestamp");
    b.change_id = int_or(o, "change_id");
    b.bids = levels(o, "bids");
    b.asks = levels(o, "asks");
    b.best_bid_price = num_or(o, "best_bid_price");
    b.best_ask_price = num_or(o, "best_ask_price");
    b.last_price = num_or(o, "last_price");
    b.mark_price = num_or(o, "mark_price");
    b.index_price = num_or(o, "index_price");
    return b;
}

Result<Ticker> parse_ticker_object(std::string_view o) {
    if (!is_object(o) || !json_member(o, "instrument_name")) return shape_error("a ticker object", o);
    Ticker t;
    t.instrument_name = str_or(o, "instrument_name");
    t.state = str_or(o, "state");
    t.timestamp = int_or(o, "timestamp");
    t.best_bid_price = num_or(o, "best_bid_price");
    t.best_bid_amount = num_or(o, "best_bid_amount");
    t.best_ask_price = num_or(o, "best_ask_price");
    t.best_ask_amount = num_or(o, "best_ask_amount");
    t.last_price = num_or(o, "last_price");
    t.mark_price = num_or(o, "mark_price");
    t.index_price = num_or(o, "index_price");
    t.open_interest = num_or(o, "open_interest");
    return t;
}

Result<Ticker> parse_ticker(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    return parse_ticker_object(r.value());
}

Result<Order> parse_order_object(std::string_view o) {
    if (!is_object(o) || !json_member(o, "order_id")) return shape_error("an order object", o);
    Order x;
    x.order_id = str_or(o, "order_id");
    x.instrument_name = str_or(o, "instrument_name");
    x.direction = str_or(o, "direction");
    x.order_type = str_or(o, "order_type");
    x.order_state = str_or(o, "order_state");
    x.label = str_or(o, "label");
    x.time_in_force = str_or(o, "time_in_force");
    x.price = num_or(o, "price");  // "market_price" strings give 0
    x.amount = num_or(o, "amount");
    x.filled_amount = num_or(o, "filled_amount");
    x.average_price = num_or(o, "average_price");
    x.post_only = json_bool(o, "post_only").value_or(false);
    x.reduce_only = json_bool(o, "reduce_only").value_or(false);
    x.creation_timestamp = int_or(o, "creation_timestamp");
    x.last_update_timestamp = int_or(o, "last_update_timestamp");
    return x;
}

Result<Order> parse_order(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    return parse_order_object(r.value());
}

Result<OrderResult> parse_order_result(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    auto order = json_member(r.value(), "order");
    if (!order) return shape_error("an object with order and trades", r.value());
    auto o = parse_order_object(*order);
    if (!o) return o.error();
    OrderResult out;
    out.order = std::move(o.value());
    if (auto trades = json_member(r.value(), "trades")) {
        if (auto list = json_array(*trades)) {
            for (auto t : *list) out.trades.push_back(trade_of(t));
        }
    }
    return out;
}

Result<std::vector<Order>> parse_orders(std::string_view reply) {
    auto r = result_of(reply);
    if (!r) return r.error();
    auto items = json_array(r.value());
    if (!items) return shape_error("an array of orders", r.value());
    std::vector<Order> out;
    for (auto it : *items) {
        auto o = parse_order_object(it);
        if (!o) return o.error();
        out.push_back(std::move(o.value()));
    }
    return out;
}

}  // namespace zenws::deribit
