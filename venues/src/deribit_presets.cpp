// deribit_presets.cpp — owns what Deribit plugs into the generic client: its subscription dialect
// (public|private/subscribe, result = confirmed channels) and its rate-limit presets (credit pools). Pure.
#include <algorithm>
#include <memory>
#include <string>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/venues/deribit.hpp"

namespace zenws {
namespace {

// ---- Deribit ---------------------------------------------------------------------------------------------------

class DeribitDialect final : public SubscriptionDialect {
public:
    std::string_view name() const noexcept override { return "deribit"; }

    std::string build_subscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return build(channels, id, any_private(channels) ? "private/subscribe" : "public/subscribe");
    }
    std::string build_unsubscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return build(channels, id, any_private(channels) ? "private/unsubscribe" : "public/unsubscribe");
    }

    ReplyVerdict interpret_reply(const JsonEnvelope& reply, bool /*subscribe*/) const override {
        ReplyVerdict v;
        if (reply.has_error || !reply.has_result) return v;  // rejected
        if (parse_json_string_array(reply.result_raw, v.channels)) {
            v.kind = ReplyVerdict::Kind::listed;
        } else {
            v.kind = ReplyVerdict::Kind::all_confirmed;  // e.g. "ok"
        }
        return v;
    }

    bool requires_auth(std::string_view channel) const override { return channel.starts_with("user."); }

private:
    bool any_private(std::span<const std::string> channels) const {
        return std::any_of(channels.begin(), channels.end(), [this](const std::string& c) { return requires_auth(c); });
    }
    static std::string build(std::span<const std::string> channels, std::int64_t id, std::string_view method) {
        std::string params;
        params.reserve(16 + channels.size() * 32);
        params.append(R"({"channels":)");
        append_json_string_array(params, channels);
        params.push_back('}');
        return build_request(id, method, params).text;
    }
};

}  // namespace

std::shared_ptr<const SubscriptionDialect> deribit_dialect() { return std::make_shared<DeribitDialect>(); }

namespace rate_limits {

bool is_deribit_subscribe(std::string_view m) noexcept {
    constexpr std::string_view key = "\"method\"";
    auto pos = m.find(key);
    if (pos == std::string_view::npos) return false;
    pos += key.size();
    auto skip_ws = [&] {
        while (pos < m.size() && (m[pos] == ' ' || m[pos] == '\t' || m[pos] == '\n' || m[pos] == '\r')) ++pos;
    };
    skip_ws();
    if (pos >= m.size() || m[pos] != ':') return false;
    ++pos;
    skip_ws();
    if (pos >= m.size() || m[pos] != '"') return false;
    const auto start = ++pos;
    const auto end = m.find('"', start);
    if (end == std::string_view::npos) return false;
    const std::string_view method = m.substr(start, end - start);
    constexpr std::string_view suffix = "/subscribe";
    return method.size() >= suffix.size() && method.substr(method.size() - suffix.size()) == suffix;
}

double deribit_cost(std::string_view message) noexcept {
    return is_deribit_subscribe(message) ? deribit_subscribe_cost : deribit_non_matching_cost;
}

RateLimitPreset deribit_non_matching() {
    return RateLimitPreset{
        std::make_shared<TokenBucket>(deribit_non_matching_pool, deribit_refill_per_second),
        [](std::string_view m) { return is_deribit_subscribe(m) ? 0.0 : deribit_non_matching_cost; }, 0};
}

RateLimitPreset deribit_subscribe() {
    return RateLimitPreset{std::make_shared<TokenBucket>(deribit_subscribe_pool, deribit_refill_per_second),
                           [](std::string_view m) { return is_deribit_subscribe(m) ? deribit_subscribe_cost : 0.0; },
                           0};
}

RateLimitPolicy deribit(RateLimitPolicy::Mode mode, std::chrono::milliseconds max_delay) {
    RateLimitPolicy p;
    p.mode = mode;
    p.max_delay = max_delay;
    p.rules.push_back(deribit_non_matching().rule());
    p.rules.push_back(deribit_subscribe().rule());
    return p;
}

}  // namespace rate_limits
}  // namespace zenws
