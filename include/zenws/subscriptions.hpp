// zenws/subscriptions.hpp — pure subscription tracking with venue dialects: the channels the user wants (desired),
// what the server confirmed, the (un)subscribe requests in flight keyed by request id, and the batched messages that
// restore the desired set after a reconnect.
//
// Rules (fixing ZenWebsocket's defects): data messages never add channels (nothing here looks at them); only a
// server confirmation makes a channel confirmed; unsubscribe() removes a channel from the desired set at once and
// nothing (reconnect, late confirmation) brings it back; a rejected subscribe removes its channels from the desired
// set and reports them. Each channel is in one state: unsent (desired, not yet requested on this connection),
// pending (subscribe request in flight) or confirmed.
//
// Lifecycle for the client: after EVERY connect (the first too) call restore_messages() and send what it returns;
// while connected, send what subscribe()/unsubscribe() return; route each reply with an id to on_reply(); on a
// connection loss call on_disconnect(). Offline, subscribe()/unsubscribe() only update the desired set.
// Not thread-safe: used from the connection's executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/json_scan.hpp"

namespace zenws {

// How a dialect reads the reply to one of its (un)subscribe requests.
struct ReplyVerdict {
    enum class Kind : std::uint8_t {
        rejected,       // the whole request failed (error reply)
        all_confirmed,  // every requested channel is confirmed (Binance "result":null)
        listed,         // exactly the channels in `channels` are confirmed (Deribit "result":[...])
    };
    Kind kind = Kind::rejected;
    std::vector<std::string> channels;  // for Kind::listed
};

// A venue's subscription protocol.
class SubscriptionDialect {
public:
    static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

    virtual ~SubscriptionDialect() = default;
    virtual std::string_view name() const noexcept = 0;
    // The message text for (un)subscribing `channels` (all of the same requires_auth() kind) with request `id`.
    virtual std::string build_subscribe(std::span<const std::string> channels, std::int64_t id) const = 0;
    virtual std::string build_unsubscribe(std::span<const std::string> channels, std::int64_t id) const = 0;
    // Reads a reply (id matched, has_result or has_error set) to a request for `subscribe` or unsubscribe.
    virtual ReplyVerdict interpret_reply(const JsonEnvelope& reply, bool subscribe) const = 0;
    // Channels needing authentication; they are batched separately from the others and restore_messages() holds
    // them back until authenticated.
    virtual bool requires_auth(std::string_view /*channel*/) const { return false; }
    // Most channels one connection may hold; subscribe() fails beyond it.
    virtual std::size_t max_channels() const noexcept { return unlimited; }
    // Default number of channels per (un)subscribe message.
    virtual std::size_t default_batch_size() const noexcept { return unlimited; }
};

// The venues' dialects (deribit_dialect(), binance_dialect()) are declared in zenws/venues/*.hpp.

// A user-defined dialect from hooks. build_subscribe and build_unsubscribe are required; interpret_reply defaults to
// "error = rejected, anything else = all confirmed"; requires_auth defaults to false for every channel.
struct DialectHooks {
    std::string name = "custom";
    std::function<std::string(std::span<const std::string> channels, std::int64_t id)> build_subscribe;
    std::function<std::string(std::span<const std::string> channels, std::int64_t id)> build_unsubscribe;
    std::function<ReplyVerdict(const JsonEnvelope& reply, bool subscribe)> interpret_reply;
    std::function<bool(std::string_view channel)> requires_auth;
    std::size_t max_channels = SubscriptionDialect::unlimited;
    std::size_t batch_size = SubscriptionDialect::unlimited;
};
// Errc::invalid_config (field "build_subscribe"/"build_unsubscribe") when a required hook is missing.
Result<std::shared_ptr<const SubscriptionDialect>> custom_dialect(DialectHooks hooks);

// One message to send.
struct SubscriptionMessage {
    std::int64_t id = 0;
    std::string text;
    std::vector<std::string> channels;
    bool subscribe = true;
    bool needs_auth = false;  // the channels need an authenticated connection
    bool restore = false;     // produced by restore_messages()
    std::string key() const { return id_key(id); }  // the request-tracker key of `id`
};

// What a reply did.
struct SubscriptionOutcome {
    std::int64_t id = 0;
    bool subscribe = true;
    bool restore = false;               // the request came from restore_messages(): `confirmed` = restored channels
    std::vector<std::string> confirmed; // subscribe: now confirmed; unsubscribe: the server removed them
    std::vector<std::string> failed;    // subscribe: rejected or missing from the result list, removed from the
                                        // desired set; unsubscribe: the server did not confirm the removal
    Error error;                        // Errc::rpc_error (code, message, raw) when the server replied with an error
};

enum class ChannelState : std::uint8_t { absent, unsent, pending, confirmed };
std::string_view to_string(ChannelState) noexcept;

class SubscriptionManager {
public:
    using IdSource = std::function<std::int64_t()>;

    // `dialect` must not be null (the client checks Config::subscription_dialect before it builds one).
    // batch_size 0 = the dialect's default; ids default to next_request_id() (zenws/json_rpc.hpp).
    explicit SubscriptionManager(std::shared_ptr<const SubscriptionDialect> dialect, std::size_t batch_size = 0,
                                 IdSource ids = {});

    // Adds channels to the desired set (already desired ones and repeats are skipped). Online: returns the
    // subscribe messages to send now (the channels become pending). Offline: returns no messages.
    // Errc::invalid_config, with nothing changed, for an empty channel name or when the desired set would exceed
    // the dialect's max_channels().
    Result<std::vector<SubscriptionMessage>> subscribe(std::span<const std::string> channels);
    Result<std::vector<SubscriptionMessage>> subscribe(std::initializer_list<std::string_view> channels);

    // Removes channels from the desired set immediately and for good. Online: returns the unsubscribe messages for
    // the channels the server may hold (pending or confirmed); unsent and unknown channels need no message.
    std::vector<SubscriptionMessage> unsubscribe(std::span<const std::string> channels);
    std::vector<SubscriptionMessage> unsubscribe(std::initializer_list<std::string_view> channels);

    // Applies a reply whose id is one of our in-flight requests and says what happened; nullopt (and no change)
    // for anything else: other replies, notifications/data messages, replies without result or error.
    std::optional<SubscriptionOutcome> on_reply(const JsonEnvelope& reply);
    bool is_pending_request(std::int64_t id) const { return requests_.count(id) != 0; }

    // The request `id` will get no reply (e.g. it timed out): forgets it; its subscribe channels that are still
    // pending on it become unsent (resent by the next restore_messages()). False if `id` is not in flight.
    bool abandon(std::int64_t id);

    // The connection dropped: goes offline, forgets the requests in flight, pending and confirmed channels become
    // unsent. The desired set is kept.
    void on_disconnect();

    // After each (re)connect: goes online and returns batched subscribe messages for the unsent channels (public
    // and auth-needing channels in separate messages). max_channels_per_message 0 = the configured batch size.
    // At most max_messages are returned: the rest stay unsent for a later call (see unsent_count()). With
    // authenticated == false, channels that need auth stay unsent.
    std::vector<SubscriptionMessage> restore_messages(std::size_t max_channels_per_message = 0,
                                                      std::size_t max_messages = SubscriptionDialect::unlimited,
                                                      bool authenticated = true);

    bool online() const noexcept { return online_; }
    bool is_desired(std::string_view channel) const { return channels_.find(channel) != channels_.end(); }
    ChannelState state(std::string_view channel) const;
    std::vector<std::string> desired() const;    // sorted
    std::vector<std::string> confirmed() const;  // sorted
    std::vector<std::string> pending() const;    // sorted
    std::vector<std::string> unsent() const;     // sorted
    std::size_t desired_count() const noexcept { return channels_.size(); }
    std::size_t unsent_count() const noexcept;
    std::size_t requests_in_flight() const noexcept { return requests_.size(); }
    const SubscriptionDialect& dialect() const noexcept { return *dialect_; }

private:
    struct Channel {
        ChannelState state = ChannelState::unsent;
        std::int64_t request = 0;  // the subscribe request it is pending on
    };
    struct Request {
        bool subscribe = true;
        bool restore = false;
        std::vector<std::string> channels;
    };

    // Splits `names` into auth/non-auth groups and batches; registers each request.
    std::vector<SubscriptionMessage> build(std::vector<std::string> names, bool subscribe, bool restore,
                                           std::size_t batch, std::size_t max_messages);
    std::vector<std::string> with_state(ChannelState s) const;

    std::shared_ptr<const SubscriptionDialect> dialect_;
    std::size_t batch_size_;
    IdSource ids_;
    bool online_ = false;
    std::map<std::string, Channel, std::less<>> channels_;  // the desired set
    std::unordered_map<std::int64_t, Request> requests_;     // (un)subscribe requests in flight
};

}  // namespace zenws
