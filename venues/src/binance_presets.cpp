// binance_presets.cpp — owns what Binance plugs into the generic client: its subscription dialect (SUBSCRIBE /
// UNSUBSCRIBE with ids, the 1024-stream limit, batching) and its incoming-message rate-limit preset. Pure.
#include <algorithm>
#include <memory>
#include <string>

#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/venues/binance.hpp"

namespace zenws {
namespace {

// ---- Binance ---------------------------------------------------------------------------------------------------

class BinanceDialect final : public SubscriptionDialect {
public:
    BinanceDialect(std::size_t max_streams, std::size_t batch) : max_(max_streams), batch_(batch) {}

    std::string_view name() const noexcept override { return "binance"; }
    std::string build_subscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return build(channels, id, "SUBSCRIBE");
    }
    std::string build_unsubscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return build(channels, id, "UNSUBSCRIBE");
    }
    ReplyVerdict interpret_reply(const JsonEnvelope& reply, bool /*subscribe*/) const override {
        ReplyVerdict v;
        if (!reply.has_error && reply.has_result) v.kind = ReplyVerdict::Kind::all_confirmed;
        return v;
    }
    std::size_t max_channels() const noexcept override { return max_; }
    std::size_t default_batch_size() const noexcept override { return batch_; }

private:
    static std::string build(std::span<const std::string> channels, std::int64_t id, std::string_view method) {
        std::string t;
        t.reserve(48 + channels.size() * 24);
        t.append(R"({"method":")");
        t.append(method);
        t.append(R"(","params":)");
        append_json_string_array(t, channels);
        t.append(R"(,"id":)");
        t.append(std::to_string(id));
        t.push_back('}');
        return t;
    }

    std::size_t max_;
    std::size_t batch_;
};

}  // namespace

std::shared_ptr<const SubscriptionDialect> binance_dialect(std::size_t max_streams, std::size_t batch_size) {
    return std::make_shared<BinanceDialect>(max_streams, batch_size);
}

namespace rate_limits {

RateLimitPreset binance_incoming() {
    return RateLimitPreset{std::make_shared<TokenBucket>(binance_incoming_burst, binance_incoming_per_second),
                           [](std::string_view) { return 1.0; }, 1.0};
}

}  // namespace rate_limits
}  // namespace zenws
