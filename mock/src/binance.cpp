// binance.cpp — owns the Binance market-data stream dialect of the mock exchange (pure logic, time passed in):
// raw /ws/<stream> and combined /stream?streams=a/b targets, SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS /
// SET_PROPERTY / GET_PROPERTY, the streams-per-connection and incoming-messages-per-second limits, server pings with
// a pong deadline, stream events on an exchange-wide schedule (the same event has the same id, "E" and payload on
// every connection), and the connection lifetime with a serverShutdown notice.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/mock/dialects.hpp"

namespace zenws::mock {
namespace {

struct Target {
    bool ok = false;
    bool combined = false;
    std::vector<std::string> streams;
};

bool valid_stream_name(std::string_view s) {
    if (s.empty() || s.size() > 200) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || c == '/' || c == '?' || c == '&')
            return false;
    return true;
}

void split_into(std::string_view s, std::vector<std::string>& out) {
    while (!s.empty()) {
        auto slash = s.find('/');
        auto part = s.substr(0, slash);
        if (!part.empty()) out.emplace_back(part);
        if (slash == std::string_view::npos) break;
        s.remove_prefix(slash + 1);
    }
}

Target parse_target(std::string_view target) {
    Target t;
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query = target.find('?') == std::string_view::npos ? std::string_view{}
                                                                        : target.substr(target.find('?') + 1);
    if (path == "/ws" || path == "/ws/") {
        t.ok = true;
    } else if (path.rfind("/ws/", 0) == 0) {
        split_into(path.substr(4), t.streams);
        t.ok = true;
    } else if (path == "/stream" || path == "/stream/") {
        t.ok = true;
        t.combined = true;
        while (!query.empty()) {
            auto amp = query.find('&');
            auto kv = query.substr(0, amp);
            if (kv.rfind("streams=", 0) == 0) split_into(kv.substr(8), t.streams);
            if (amp == std::string_view::npos) break;
            query.remove_prefix(amp + 1);
        }
    }
    for (auto& s : t.streams)
        if (!valid_stream_name(s)) t.ok = false;
    std::sort(t.streams.begin(), t.streams.end());
    t.streams.erase(std::unique(t.streams.begin(), t.streams.end()), t.streams.end());
    return t;
}

std::int64_t wall_now_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

}  // namespace

// The exchange-wide clock of the event schedule: fixed by the first session opened, read-only afterwards.
struct BinanceExchange::Shared {
    mutable std::mutex mutex;
    bool started = false;
    SteadyTime epoch{};
    std::int64_t wall_epoch_ms = 0;

    // Fixes the epoch on the first call; returns (epoch, wall ms at the epoch).
    std::pair<SteadyTime, std::int64_t> clock(SteadyTime now) {
        std::lock_guard lock(mutex);
        if (!started) {
            started = true;
            epoch = now;
            wall_epoch_ms = wall_now_ms();
        }
        return {epoch, wall_epoch_ms};
    }
};

namespace {

// Most events a stream emits per tick when a session is behind (after a silence): the rest follow on the next
// tick, which is due at once, so nothing is lost and one tick stays bounded.
constexpr std::uint64_t max_catch_up_per_tick = 256;

class BinanceSession final : public DialectSession {
public:
    BinanceSession(const BinanceOptions& o, Target t, SteadyTime now, std::pair<SteadyTime, std::int64_t> clock)
        : opt_(o), combined_(t.combined), epoch_(clock.first), wall_epoch_ms_(clock.second) {
        for (auto& s : t.streams) add_stream(s, now);
        if (opt_.ping_interval.count() > 0) next_ping_ = now + opt_.ping_interval;
        if (opt_.lifetime.count() > 0) {
            end_at_ = now + opt_.lifetime;
            notice_at_ = opt_.shutdown_notice < opt_.lifetime ? *end_at_ - opt_.shutdown_notice : now + opt_.lifetime / 2;
        }
    }

    void on_open(SteadyTime, Output&) override {}

    void on_text(std::string_view text, SteadyTime now, Output& out) override {
        if (closed_ || !count_incoming(now, out)) return;
        ++requests_;
        JsonEnvelope env = scan_json(text);
        if (!env.valid) {
            return error(out, "null", 3, "Invalid JSON: expected value at line 1 column 1", {});
        }
        std::string id = "null";
        if (env.id) {
            bool ok = env.id.kind == IdKind::integer ? !env.id.raw.starts_with('-')
                                                     : env.id.kind == IdKind::string && env.id.content.size() <= 36;
            if (!ok) return error(out, "null", 2, "Invalid request: request ID must be an unsigned integer", {});
            id = std::string(env.id.raw);
        }
        std::string method(env.method);
        if (!env.has_method) return error(out, id, 2, "Invalid request: method is required", method);
        std::vector<std::string_view> params;
        if (!env.params_raw.empty()) {
            auto elems = json::array_elements(env.params_raw);
            if (!elems) return error(out, id, 2, "Invalid request: params must be an array", method);
            params = *elems;
        }
        if (method == "SUBSCRIBE" || method == "UNSUBSCRIBE") {
            std::vector<std::string> names;
            for (auto p : params) {
                auto s = p.size() >= 2 && p.front() == '"' ? json_unescape(p.substr(1, p.size() - 2)) : std::nullopt;
                if (!s || !valid_stream_name(*s))
                    return error(out, id, 2, "Invalid request: invalid stream name", method);
                names.push_back(*s);
            }
            if (method == "SUBSCRIBE") {
                std::size_t fresh = 0;
                for (auto& n : names) fresh += streams_.count(n) ? 0 : 1;
                if (streams_.size() + fresh > opt_.max_streams)
                    return error(out, id, 2,
                                 "Invalid request: too many streams (max " + std::to_string(opt_.max_streams) + ")",
                                 method);
                for (auto& n : names) add_stream(n, now);
            } else {
                for (auto& n : names) streams_.erase(n);
            }
            return out.reply("{\"result\":null,\"id\":" + id + "}", method);
        }
        if (method == "LIST_SUBSCRIPTIONS") {
            std::string res = "[";
            for (auto& [n, s] : streams_) {
                if (res.size() > 1) res += ',';
                res += json_quote(n);
            }
            return out.reply("{\"result\":" + res + "],\"id\":" + id + "}", method);
        }
        if (method == "SET_PROPERTY" || method == "GET_PROPERTY") {
            if (params.empty()) return error(out, id, 2, "Invalid request: property name is required", method);
            if (params[0] != "\"combined\"") return error(out, id, 0, "Unknown property", method);
            if (method == "GET_PROPERTY")
                return out.reply(std::string("{\"result\":") + (combined_ ? "true" : "false") + ",\"id\":" + id + "}",
                                 method);
            if (params.size() != 2 || (params[1] != "true" && params[1] != "false"))
                return error(out, id, 1, "Invalid value type: expected Boolean", method);
            combined_ = params[1] == "true";
            return out.reply("{\"result\":null,\"id\":" + id + "}", method);
        }
        return error(out, id, 2, "Invalid request: unknown method", method);
    }

    void on_ping(std::string_view, SteadyTime now, Output& out) override {
        if (!closed_) count_incoming(now, out);
    }

    void on_pong(std::string_view payload, SteadyTime now, Output& out) override {
        if (closed_ || !count_incoming(now, out)) return;
        // A pong answers the ping with the same payload (and every older one); unsolicited pongs change nothing.
        for (std::size_t i = 0; i < pings_.size(); ++i) {
            if (pings_[i].first == payload) {
                pings_.erase(pings_.begin(), pings_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
                break;
            }
        }
    }

    void on_tick(SteadyTime now, Output& out) override {
        if (closed_) return;
        if (!pings_.empty() && now >= pings_.front().second + opt_.pong_timeout) {
            out.close_with(1008, "pong timeout", EndReason::pong_timeout);
            closed_ = true;
            return;
        }
        if (end_at_ && now >= *end_at_) {
            out.close_with(1001, "connection lifetime reached", EndReason::lifetime);
            closed_ = true;
            return;
        }
        if (notice_at_ && now >= *notice_at_) {
            notice_at_.reset();
            out.notify("{\"event\":{\"e\":\"serverShutdown\",\"E\":" + std::to_string(wall_ms(now)) + "}}");
        }
        if (next_ping_ && now >= *next_ping_) {
            *next_ping_ += opt_.ping_interval;
            if (*next_ping_ <= now) next_ping_ = now + opt_.ping_interval;
            if (skip_ping_) {
                skip_ping_ = false;
            } else {
                std::string payload = std::to_string(wall_ms(now));
                pings_.emplace_back(payload, now);
                out.pings.push_back(std::move(payload));
            }
        }
        if (opt_.event_interval.count() > 0) {
            for (auto& [name, s] : streams_) {
                for (std::uint64_t n = 0; n < max_catch_up_per_tick && due(s.next_k) <= now; ++n) {
                    std::uint64_t k = s.next_k++;
                    if (gap_) {  // this session misses the event: its ids jump by 2
                        gap_ = false;
                        continue;
                    }
                    emit(name, s.base + k, event_wall_ms(k), out);
                }
            }
        }
    }

    SteadyTime next_deadline() const override {
        if (closed_) return SteadyTime::max();
        SteadyTime t = SteadyTime::max();
        if (!pings_.empty()) t = std::min(t, pings_.front().second + opt_.pong_timeout);
        if (end_at_) t = std::min(t, *end_at_);
        if (notice_at_) t = std::min(t, *notice_at_);
        if (next_ping_) t = std::min(t, *next_ping_);
        if (opt_.event_interval.count() > 0)
            for (auto& [name, s] : streams_) t = std::min(t, due(s.next_k));
        return t;
    }

    void on_end(EndReason) override { closed_ = true; }

    SessionInfo info() const override {
        SessionInfo i;
        for (auto& [n, s] : streams_) i.subscriptions.push_back(n);
        i.combined = combined_;
        i.requests = requests_;
        i.notifications = notifications_;
        return i;
    }

    void inject_gap() override { gap_ = true; }
    void skip_heartbeat() override { skip_ping_ = true; }

private:
    struct Stream {
        std::uint64_t base = 0;    // event k has id base + k
        std::uint64_t next_k = 1;  // the next scheduled event this session sends
    };

    std::int64_t wall_ms(SteadyTime now) const {
        return wall_epoch_ms_ + std::chrono::duration_cast<milliseconds>(now - epoch_).count();
    }
    // When event k of every stream is due (exchange-wide).
    SteadyTime due(std::uint64_t k) const { return epoch_ + opt_.event_interval * static_cast<std::int64_t>(k); }
    std::int64_t event_wall_ms(std::uint64_t k) const {
        return wall_epoch_ms_ + opt_.event_interval.count() * static_cast<std::int64_t>(k);
    }

    void add_stream(const std::string& name, SteadyTime now) {
        if (streams_.count(name)) return;
        Stream s;
        s.base = BinanceExchange::event_id_base(name);
        // The first event due strictly after `now`: the ones before happened before this subscription.
        if (opt_.event_interval.count() > 0 && now >= epoch_)
            s.next_k = static_cast<std::uint64_t>((now - epoch_) / opt_.event_interval) + 1;
        streams_.emplace(name, s);
    }

    // Counts one incoming frame against the per-second limit; closes the session (false) when over it.
    bool count_incoming(SteadyTime now, Output& out) {
        if (opt_.max_incoming_per_second <= 0) return true;
        incoming_.push_back(now);
        while (!incoming_.empty() && incoming_.front() <= now - std::chrono::seconds(1)) incoming_.pop_front();
        if (static_cast<int>(incoming_.size()) > opt_.max_incoming_per_second) {
            out.close_with(1008, "too many messages", EndReason::rate_limit);
            closed_ = true;
            return false;
        }
        return true;
    }

    void error(Output& out, const std::string& id, int code, const std::string& msg, std::string_view method) {
        // Binance's documented form is {"code":..,"msg":..,"id":..}; without an id it wraps it in "error".
        if (id == "null")
            out.reply("{\"error\":{\"code\":" + std::to_string(code) + ",\"msg\":" + json_quote(msg) + "},\"id\":null}",
                      method);
        else
            out.reply("{\"code\":" + std::to_string(code) + ",\"msg\":" + json_quote(msg) + ",\"id\":" + id + "}",
                      method);
    }

    // Event `id` of stream `name` at wall time E: the payload depends on nothing else (identical on every session).
    void emit(const std::string& name, std::uint64_t id, std::int64_t E, Output& out) {
        auto at = name.find('@');
        std::string symbol = name.substr(0, at), type = at == std::string::npos ? "" : name.substr(at + 1);
        for (auto& c : symbol) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        double base = symbol.rfind("BTC", 0) == 0 ? 60000 : symbol.rfind("ETH", 0) == 0 ? 3000 : 100;
        double px = base * (1.0 + 0.001 * static_cast<double>(static_cast<std::int64_t>(id % 21) - 10) / 10.0);
        std::string p = "\"" + fixed(px, 2) + "\"", q = "\"" + fixed(0.001 * static_cast<double>(1 + id % 50), 3) + "\"";
        std::string sym = json_quote(symbol), e = std::to_string(E), ids = std::to_string(id);
        bool maker = id % 2 == 0;
        std::string data;
        if (type == "aggTrade") {
            data = "{\"e\":\"aggTrade\",\"E\":" + e + ",\"s\":" + sym + ",\"a\":" + ids + ",\"p\":" + p + ",\"q\":" + q +
                   ",\"f\":" + std::to_string(id * 2) + ",\"l\":" + std::to_string(id * 2 + 1) + ",\"T\":" + e +
                   ",\"m\":" + (maker ? "true" : "false") + ",\"M\":true}";
        } else if (type == "trade") {
            data = "{\"e\":\"trade\",\"E\":" + e + ",\"s\":" + sym + ",\"t\":" + ids + ",\"p\":" + p + ",\"q\":" + q +
                   ",\"T\":" + e + ",\"m\":" + (maker ? "true" : "false") + ",\"M\":true}";
        } else if (type == "bookTicker") {
            data = "{\"e\":\"bookTicker\",\"E\":" + e + ",\"u\":" + ids + ",\"s\":" + sym + ",\"b\":\"" +
                   fixed(px - 0.01, 2) + "\",\"B\":" + q + ",\"a\":\"" + fixed(px + 0.01, 2) + "\",\"A\":" + q + "}";
        } else if (type.rfind("depth", 0) == 0) {
            data = "{\"e\":\"depthUpdate\",\"E\":" + e + ",\"s\":" + sym + ",\"U\":" + ids + ",\"u\":" + ids +
                   ",\"b\":[[\"" + fixed(px - 0.01, 2) + "\"," + q + "]],\"a\":[[\"" + fixed(px + 0.01, 2) + "\"," + q +
                   "]]}";
        } else if (type.rfind("kline_", 0) == 0) {
            std::string iv = type.substr(6);
            data = "{\"e\":\"kline\",\"E\":" + e + ",\"s\":" + sym + ",\"k\":{\"t\":" + std::to_string(E - E % 60000) +
                   ",\"T\":" + std::to_string(E - E % 60000 + 59999) + ",\"s\":" + sym + ",\"i\":" + json_quote(iv) +
                   ",\"f\":" + ids + ",\"L\":" + ids + ",\"o\":" + p + ",\"c\":" + p + ",\"h\":" + p + ",\"l\":" + p +
                   ",\"v\":" + q + ",\"n\":1,\"x\":false}}";
        } else if (type == "ticker" || type == "miniTicker") {
            data = "{\"e\":\"" + std::string(type == "ticker" ? "24hrTicker" : "24hrMiniTicker") + "\",\"E\":" + e +
                   ",\"s\":" + sym + ",\"c\":" + p + ",\"o\":" + p + ",\"h\":" + p + ",\"l\":" + p + ",\"v\":" + q +
                   ",\"F\":" + ids + ",\"L\":" + ids + "}";
        } else {
            data = "{\"e\":" + json_quote(type) + ",\"E\":" + e + ",\"s\":" + sym + ",\"u\":" + ids + "}";
        }
        if (combined_) out.notify("{\"stream\":" + json_quote(name) + ",\"data\":" + data + "}");
        else out.notify(std::move(data));
        ++notifications_;
    }

    const BinanceOptions& opt_;
    bool combined_;
    SteadyTime epoch_;            // of the exchange-wide schedule
    std::int64_t wall_epoch_ms_;  // wall-clock ms at epoch_
    std::map<std::string, Stream, std::less<>> streams_;
    std::deque<SteadyTime> incoming_;
    std::deque<std::pair<std::string, SteadyTime>> pings_;  // outstanding: payload, sent at
    std::optional<SteadyTime> next_ping_, end_at_, notice_at_;
    bool gap_ = false, skip_ping_ = false, closed_ = false;
    std::uint64_t requests_ = 0, notifications_ = 0;
};

}  // namespace

BinanceExchange::BinanceExchange(BinanceOptions options) : options_(options), shared_(std::make_shared<Shared>()) {}

std::uint64_t BinanceExchange::event_id_base(std::string_view stream) {
    std::uint64_t h = 14695981039346656037ull;  // FNV-1a: the same ids on every platform and run
    for (char c : stream) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return 100000 + h % 100000;
}

std::optional<SteadyTime> BinanceExchange::epoch() const {
    std::lock_guard lock(shared_->mutex);
    if (!shared_->started) return std::nullopt;
    return shared_->epoch;
}

int BinanceExchange::check_target(std::string_view target) const {
    Target t = parse_target(target);
    if (!t.ok) return 404;
    if (t.streams.size() > options_.max_streams) return 400;
    return 0;
}

std::unique_ptr<DialectSession> BinanceExchange::open_session(std::string_view target, std::uint64_t,
                                                              SteadyTime now) {
    return std::make_unique<BinanceSession>(options_, parse_target(target), now, shared_->clock(now));
}

}  // namespace zenws::mock
