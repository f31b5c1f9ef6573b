// subscriptions.cpp — SubscriptionManager (desired/pending/confirmed channel states, request bookkeeping, restore
// batching) and the hook-based subscription dialect. See zenws/subscriptions.hpp. The venues' dialects live in
// venues/src/*_presets.cpp.
#include "zenws/subscriptions.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>
#include <utility>

#include "zenws/json_rpc.hpp"

namespace zenws {

namespace {

// ---- user hooks ------------------------------------------------------------------------------------------------

class CustomDialect final : public SubscriptionDialect {
public:
    explicit CustomDialect(DialectHooks h) : h_(std::move(h)) {}

    std::string_view name() const noexcept override { return h_.name; }
    std::string build_subscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return h_.build_subscribe(channels, id);
    }
    std::string build_unsubscribe(std::span<const std::string> channels, std::int64_t id) const override {
        return h_.build_unsubscribe(channels, id);
    }
    ReplyVerdict interpret_reply(const JsonEnvelope& reply, bool subscribe) const override {
        if (h_.interpret_reply) return h_.interpret_reply(reply, subscribe);
        ReplyVerdict v;
        if (!reply.has_error) v.kind = ReplyVerdict::Kind::all_confirmed;
        return v;
    }
    bool requires_auth(std::string_view channel) const override {
        return h_.requires_auth ? h_.requires_auth(channel) : false;
    }
    std::size_t max_channels() const noexcept override { return h_.max_channels; }
    std::size_t default_batch_size() const noexcept override { return h_.batch_size; }

private:
    DialectHooks h_;
};

std::vector<std::string> to_strings(std::initializer_list<std::string_view> list) {
    std::vector<std::string> out;
    out.reserve(list.size());
    for (auto s : list) out.emplace_back(s);
    return out;
}

}  // namespace



Result<std::shared_ptr<const SubscriptionDialect>> custom_dialect(DialectHooks hooks) {
    if (!hooks.build_subscribe) return config_error("build_subscribe", "a custom dialect needs a build_subscribe hook");
    if (!hooks.build_unsubscribe) {
        return config_error("build_unsubscribe", "a custom dialect needs a build_unsubscribe hook");
    }
    return std::shared_ptr<const SubscriptionDialect>(std::make_shared<CustomDialect>(std::move(hooks)));
}

std::string_view to_string(ChannelState s) noexcept {
    switch (s) {
        case ChannelState::absent: return "absent";
        case ChannelState::unsent: return "unsent";
        case ChannelState::pending: return "pending";
        case ChannelState::confirmed: return "confirmed";
    }
    return "unknown";
}

// ---- SubscriptionManager ---------------------------------------------------------------------------------------

SubscriptionManager::SubscriptionManager(std::shared_ptr<const SubscriptionDialect> dialect, std::size_t batch_size,
                                         IdSource ids)
    : dialect_(std::move(dialect)),
      batch_size_(batch_size != 0 ? batch_size : dialect_->default_batch_size()),
      ids_(ids ? std::move(ids) : IdSource(next_request_id)) {
    if (batch_size_ == 0) batch_size_ = 1;
}

Result<std::vector<SubscriptionMessage>> SubscriptionManager::subscribe(std::span<const std::string> channels) {
    std::vector<std::string> fresh;
    std::unordered_set<std::string_view> seen;
    for (const auto& c : channels) {
        if (c.empty()) return config_error("channels", "empty channel name");
        if (is_desired(c) || !seen.insert(c).second) continue;
        fresh.push_back(c);
    }
    const std::size_t limit = dialect_->max_channels();
    if (fresh.size() > limit || channels_.size() > limit - fresh.size()) {
        Error e = config_error("channels", std::string(dialect_->name()) + " allows at most " +
                                               std::to_string(limit) + " channels per connection; " +
                                               std::to_string(channels_.size()) + " subscribed, " +
                                               std::to_string(fresh.size()) + " more requested");
        return e;
    }
    for (const auto& c : fresh) channels_.emplace(c, Channel{});
    if (!online_ || fresh.empty()) return std::vector<SubscriptionMessage>{};
    return build(std::move(fresh), true, false, batch_size_, SubscriptionDialect::unlimited);
}

Result<std::vector<SubscriptionMessage>> SubscriptionManager::subscribe(std::initializer_list<std::string_view> ch) {
    const auto v = to_strings(ch);
    return subscribe(std::span<const std::string>(v));
}

std::vector<SubscriptionMessage> SubscriptionManager::unsubscribe(std::span<const std::string> channels) {
    std::vector<std::string> to_send;
    for (const auto& c : channels) {
        const auto it = channels_.find(c);
        if (it == channels_.end()) continue;
        if (it->second.state != ChannelState::unsent) to_send.push_back(c);
        channels_.erase(it);
    }
    if (!online_ || to_send.empty()) return {};
    return build(std::move(to_send), false, false, batch_size_, SubscriptionDialect::unlimited);
}

std::vector<SubscriptionMessage> SubscriptionManager::unsubscribe(std::initializer_list<std::string_view> ch) {
    const auto v = to_strings(ch);
    return unsubscribe(std::span<const std::string>(v));
}

std::vector<SubscriptionMessage> SubscriptionManager::build(std::vector<std::string> names, bool subscribe,
                                                            bool restore, std::size_t batch,
                                                            std::size_t max_messages) {
    std::vector<SubscriptionMessage> out;
    if (batch == 0) batch = 1;
    std::vector<std::string> groups[2];  // [0] no auth needed, [1] auth needed
    for (auto& n : names) groups[dialect_->requires_auth(n) ? 1 : 0].push_back(std::move(n));

    for (int g = 0; g < 2; ++g) {
        const auto& group = groups[g];
        for (std::size_t start = 0; start < group.size(); start += batch) {
            if (out.size() >= max_messages) return out;
            const std::size_t count = std::min(batch, group.size() - start);
            SubscriptionMessage m;
            m.id = ids_();
            m.subscribe = subscribe;
            m.restore = restore;
            m.needs_auth = g == 1;
            m.channels.assign(group.begin() + static_cast<std::ptrdiff_t>(start),
                              group.begin() + static_cast<std::ptrdiff_t>(start + count));
            m.text = subscribe ? dialect_->build_subscribe(m.channels, m.id)
                               : dialect_->build_unsubscribe(m.channels, m.id);
            if (subscribe) {
                for (const auto& c : m.channels) {
                    auto it = channels_.find(c);
                    if (it == channels_.end()) continue;
                    it->second.state = ChannelState::pending;
                    it->second.request = m.id;
                }
            }
            requests_[m.id] = Request{subscribe, restore, m.channels};
            out.push_back(std::move(m));
        }
    }
    return out;
}

std::optional<SubscriptionOutcome> SubscriptionManager::on_reply(const JsonEnvelope& reply) {
    if (!reply.valid || !(reply.has_result || reply.has_error)) return std::nullopt;
    const auto id = reply.id.as_int64();
    if (!id) return std::nullopt;
    const auto rit = requests_.find(*id);
    if (rit == requests_.end()) return std::nullopt;
    Request req = std::move(rit->second);
    requests_.erase(rit);

    SubscriptionOutcome out;
    out.id = *id;
    out.subscribe = req.subscribe;
    out.restore = req.restore;

    const ReplyVerdict verdict = dialect_->interpret_reply(reply, req.subscribe);
    if (verdict.kind == ReplyVerdict::Kind::rejected) {
        std::string what = req.subscribe ? "subscribe" : "unsubscribe";
        what += " rejected by the server";
        if (!reply.error_message.empty()) {
            const auto msg = json_unescape(reply.error_message);
            what += ": " + msg.value_or(std::string(reply.error_message));
        }
        out.error = Error(Errc::rpc_error, std::move(what));
        out.error.rpc_code = reply.error_code;
        out.error.raw = std::string(reply.has_error ? reply.error_raw : reply.result_raw);
    }
    std::set<std::string_view> listed;
    for (const auto& c : verdict.channels) listed.insert(c);
    auto is_confirmed = [&](const std::string& c) {
        switch (verdict.kind) {
            case ReplyVerdict::Kind::rejected: return false;
            case ReplyVerdict::Kind::all_confirmed: return true;
            case ReplyVerdict::Kind::listed: return listed.count(c) != 0;
        }
        return false;
    };

    for (auto& c : req.channels) {
        const bool ok = is_confirmed(c);
        if (!req.subscribe) {
            (ok ? out.confirmed : out.failed).push_back(std::move(c));
            continue;
        }
        // Only channels still pending on this very request are affected: a channel unsubscribed (or unsubscribed
        // and subscribed again) since then belongs to a later request.
        const auto it = channels_.find(c);
        if (it == channels_.end() || it->second.state != ChannelState::pending || it->second.request != *id) continue;
        if (ok) {
            it->second.state = ChannelState::confirmed;
            it->second.request = 0;
            out.confirmed.push_back(std::move(c));
        } else {
            channels_.erase(it);
            out.failed.push_back(std::move(c));
        }
    }
    return out;
}

bool SubscriptionManager::abandon(std::int64_t id) {
    const auto rit = requests_.find(id);
    if (rit == requests_.end()) return false;
    if (rit->second.subscribe) {
        for (const auto& c : rit->second.channels) {
            const auto it = channels_.find(c);
            if (it == channels_.end() || it->second.state != ChannelState::pending || it->second.request != id) {
                continue;
            }
            it->second = Channel{};
        }
    }
    requests_.erase(rit);
    return true;
}

void SubscriptionManager::on_disconnect() {
    online_ = false;
    requests_.clear();
    for (auto& [name, ch] : channels_) ch = Channel{};
}

std::vector<SubscriptionMessage> SubscriptionManager::restore_messages(std::size_t max_channels_per_message,
                                                                       std::size_t max_messages, bool authenticated) {
    online_ = true;
    std::vector<std::string> names;
    for (const auto& [name, ch] : channels_) {
        if (ch.state != ChannelState::unsent) continue;
        if (!authenticated && dialect_->requires_auth(name)) continue;
        names.push_back(name);
    }
    if (names.empty() || max_messages == 0) return {};
    const std::size_t batch = max_channels_per_message != 0 ? max_channels_per_message : batch_size_;
    return build(std::move(names), true, true, batch, max_messages);
}

ChannelState SubscriptionManager::state(std::string_view channel) const {
    const auto it = channels_.find(channel);
    return it == channels_.end() ? ChannelState::absent : it->second.state;
}

std::vector<std::string> SubscriptionManager::with_state(ChannelState s) const {
    std::vector<std::string> out;
    for (const auto& [name, ch] : channels_) {
        if (ch.state == s) out.push_back(name);
    }
    return out;
}

std::vector<std::string> SubscriptionManager::desired() const {
    std::vector<std::string> out;
    out.reserve(channels_.size());
    for (const auto& [name, ch] : channels_) out.push_back(name);
    return out;
}
std::vector<std::string> SubscriptionManager::confirmed() const { return with_state(ChannelState::confirmed); }
std::vector<std::string> SubscriptionManager::pending() const { return with_state(ChannelState::pending); }
std::vector<std::string> SubscriptionManager::unsent() const { return with_state(ChannelState::unsent); }

std::size_t SubscriptionManager::unsent_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [name, ch] : channels_) n += ch.state == ChannelState::unsent ? 1 : 0;
    return n;
}

}  // namespace zenws
