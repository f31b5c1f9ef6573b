// zenws/mock/dialects.hpp — the protocol logic of the mock exchange, without sockets: the Deribit v2 JSON-RPC and
// Binance stream session state machines (message in -> replies / notifications / pings / close out, with the time
// passed in), their options, and the small JSON helpers they share. The socket layer lives in
// zenws/mock/exchange.hpp; these classes are unit-tested on their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zenws::mock {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

// How a session ended (recorded by the server for assertions).
enum class EndReason : std::uint8_t {
    none,               // still open
    client_close,       // the client sent a close frame
    client_eof,         // the client dropped the TCP connection without a close frame
    server_close,       // closed by a fault control (close CODE) or the server's own close
    dropped_by_server,  // fault control: TCP closed without a close frame
    reset_by_server,    // fault control: TCP reset (SO_LINGER 0)
    heartbeat_timeout,  // Deribit: test_request not answered with public/test in time
    pong_timeout,       // Binance: server ping not answered in time
    rate_limit,         // Deribit: credits exhausted (10028) / Binance: too many incoming messages
    lifetime,           // Binance: connection lifetime reached
    logout,             // Deribit: private/logout
    protocol_error,     // the client violated RFC 6455
    server_stopped,     // the server was stopped
};
std::string_view to_string(EndReason) noexcept;

// One text message to send. `method` names the request a reply answers (empty for notifications): the socket
// layer uses it for the delay / drop_method / reorder faults.
struct OutMessage {
    std::string text;
    std::string method;
    bool reply = false;
};

// What a session wants the socket layer to do after an event, in this order: send `messages`, send `pings`, then
// close (a close frame with code/reason) when `close` is set.
struct Output {
    std::vector<OutMessage> messages;
    std::vector<std::string> pings;
    bool close = false;
    std::uint16_t close_code = 1000;
    std::string close_reason;
    EndReason end = EndReason::none;

    void notify(std::string text) { messages.push_back({std::move(text), {}, false}); }
    void reply(std::string text, std::string_view method) { messages.push_back({std::move(text), std::string(method), true}); }
    void close_with(std::uint16_t code, std::string reason, EndReason why) {
        if (close) return;
        close = true;
        close_code = code;
        close_reason = std::move(reason);
        end = why;
    }
};

// Observable state of one session.
struct SessionInfo {
    bool authenticated = false;
    std::string client_id;
    std::vector<std::string> subscriptions;   // sorted
    bool cancel_on_disconnect = false;
    std::int64_t heartbeat_interval_ms = 0;   // Deribit: 0 = heartbeats off
    bool combined = false;                    // Binance: events wrapped {"stream":..,"data":..}
    std::uint64_t requests = 0;               // text messages received
    std::uint64_t notifications = 0;          // subscription notifications / stream events sent
};

// One connection's protocol state machine. Not thread-safe: the socket layer drives it from one thread.
class DialectSession {
public:
    virtual ~DialectSession() = default;
    virtual void on_open(SteadyTime now, Output& out) = 0;
    virtual void on_text(std::string_view text, SteadyTime now, Output& out) = 0;
    virtual void on_ping(std::string_view /*payload*/, SteadyTime /*now*/, Output& /*out*/) {}
    virtual void on_pong(std::string_view /*payload*/, SteadyTime /*now*/, Output& /*out*/) {}
    // Timers: call at (or after) next_deadline().
    virtual void on_tick(SteadyTime now, Output& out) = 0;
    // The next time on_tick has work to do; SteadyTime::max() when nothing is scheduled.
    virtual SteadyTime next_deadline() const = 0;
    // The connection is gone (any reason): cancel-on-disconnect etc.
    virtual void on_end(EndReason /*why*/) {}
    virtual SessionInfo info() const = 0;
    // Fault hooks: make the next sequence number jump by 2; skip the next heartbeat / test_request.
    virtual void inject_gap() {}
    virtual void skip_heartbeat() {}
};

// A dialect: shared exchange state plus a session factory.
class Dialect {
public:
    virtual ~Dialect() = default;
    virtual std::string_view name() const noexcept = 0;
    // 0 when the request target (path + query) may be upgraded, else the HTTP status to refuse it with.
    virtual int check_target(std::string_view target) const = 0;
    virtual std::unique_ptr<DialectSession> open_session(std::string_view target, std::uint64_t connection_id,
                                                         SteadyTime now) = 0;
};

// ---- Deribit v2 ------------------------------------------------------------------------------------------------

struct DeribitAccount {
    std::string client_id;
    std::string client_secret;
};

struct DeribitOptions {
    std::vector<DeribitAccount> accounts{{"test_client", "test_secret"}};
    milliseconds token_ttl{900'000};               // access tokens: expires_in (s) = ttl / 1000 (at least 1)
    milliseconds refresh_token_ttl{86'400'000};
    std::int64_t min_heartbeat_interval_ms = 10'000;   // public/set_heartbeat minimum (Deribit: 10 s)
    milliseconds notification_interval{100};      // per subscribed channel; 0 = no notifications
    // Credits (per connection): ordinary requests and subscribe calls.
    double request_cost = 500, request_pool = 50'000, request_refill_per_s = 10'000;
    double subscribe_cost = 3'000, subscribe_pool = 30'000, subscribe_refill_per_s = 10'000;
    bool rate_limits = true;
    bool testnet = true;
};

// HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + data) in lowercase hex: the client_signature grant.
std::string deribit_signature(std::string_view secret, std::int64_t timestamp, std::string_view nonce,
                              std::string_view data);

struct MockOrder {
    std::string order_id;
    std::string instrument_name;
    std::string direction;   // buy | sell
    std::string order_type;  // limit | market
    std::string label;
    double price = 0;
    double amount = 0;
    std::int64_t creation_timestamp = 0;
};

class DeribitExchange final : public Dialect {
public:
    explicit DeribitExchange(DeribitOptions options = {});
    std::string_view name() const noexcept override { return "deribit"; }
    int check_target(std::string_view target) const override;
    std::unique_ptr<DialectSession> open_session(std::string_view target, std::uint64_t connection_id,
                                                 SteadyTime now) override;
    const DeribitOptions& options() const noexcept { return options_; }

    // Shared account state (thread-safe): open orders per client id, orders cancelled by cancel-on-disconnect.
    std::vector<MockOrder> open_orders(std::string_view client_id) const;
    std::uint64_t cancelled_on_disconnect() const;

    struct Shared;  // tokens and orders, shared with the sessions

private:
    DeribitOptions options_;
    std::shared_ptr<Shared> shared_;
};

// ---- Binance streams -------------------------------------------------------------------------------------------

struct BinanceOptions {
    milliseconds ping_interval{20'000};            // server ping frames; 0 = none
    milliseconds pong_timeout{60'000};             // no matching pong within this after a ping -> close
    int max_incoming_per_second = 5;               // text + ping + pong frames per rolling second; 0 = no limit
    std::size_t max_streams = 1024;                // per connection
    milliseconds lifetime{86'400'000};             // then serverShutdown notice and the cut; 0 = unlimited
    milliseconds shutdown_notice{5'000};           // how long before the cut the serverShutdown event is sent
    // Per stream; 0 = no events. The schedule is exchange-wide (see BinanceExchange): every session subscribed to
    // a stream receives the same events (same id, "E" and payload), as on Binance.
    milliseconds event_interval{100};
};

class BinanceExchange final : public Dialect {
public:
    explicit BinanceExchange(BinanceOptions options = {});
    std::string_view name() const noexcept override { return "binance"; }
    // /ws, /ws/<stream>[/<stream>...], /stream?streams=a/b (at most max_streams); 404 otherwise, 400 over the limit
    int check_target(std::string_view target) const override;
    std::unique_ptr<DialectSession> open_session(std::string_view target, std::uint64_t connection_id,
                                                 SteadyTime now) override;
    const BinanceOptions& options() const noexcept { return options_; }

    // The exchange-wide event schedule, shared by every session of this exchange: event k (k = 1, 2, ...) of a
    // stream is due at epoch + k * event_interval, has id event_id_base(stream) + k and "E" = the wall-clock time
    // (ms) of that moment; its payload depends only on the stream, the id and "E". A session subscribed to the
    // stream at time t receives the events due after t, in order, each once (so overlapping connections see
    // identical events with identical ids). The epoch is the `now` of the first session opened. `gap` makes one
    // session skip the next due event (its ids jump by 2); the other sessions are unaffected.
    static std::uint64_t event_id_base(std::string_view stream);
    // The epoch of the schedule (nullopt before the first session).
    std::optional<SteadyTime> epoch() const;

    struct Shared;  // the schedule's epoch, shared with the sessions

private:
    BinanceOptions options_;
    std::shared_ptr<Shared> shared_;
};

// ---- JSON helpers (over text already known to be valid JSON) ---------------------------------------------------

namespace json {
// The raw text of member `key` of the JSON object `object_raw` (nullopt when absent or not an object).
std::optional<std::string_view> member(std::string_view object_raw, std::string_view key);
std::optional<std::string> string_member(std::string_view object_raw, std::string_view key);  // decoded
std::optional<double> number_member(std::string_view object_raw, std::string_view key);
std::optional<bool> bool_member(std::string_view object_raw, std::string_view key);
// The raw elements of a JSON array (nullopt when not an array).
std::optional<std::vector<std::string_view>> array_elements(std::string_view array_raw);
// A JSON number literal for a double (shortest round-trip text, no exponent for ordinary prices).
std::string number(double v);
}  // namespace json

}  // namespace zenws::mock
