// zenws/venues/deribit.hpp — the Deribit API v2 adapter: request builders, typed results, error mapping (pure, in
// zenws_core) and deribit::Adapter (in zenws), which keeps a Client authenticated and subscribed across reconnects
// and restarts.
//
// Order on EVERY connection (first connect, reconnect, supervisor restart, restart after 10028):
//   connect -> public/auth (client_credentials or client_signature) -> public/set_heartbeat ->
//   private/enable_cancel_on_disconnect (optional) -> restore subscriptions (public and private) -> buffered sends.
// The adapter does the first three in the client's on_reconnect hook; the client's own subscription restore and send
// queue do the rest. While connected the token is refreshed (grant refresh_token) before it expires; a request that
// fails with 13009/10000 triggers a re-authentication and is retried once; 10028 (too_many_requests — Deribit then
// terminates the session) is reported as Errc::rate_limited and the adapter reconnects after a backoff; 13004
// (invalid_credentials) / 13021 (forbidden) are fatal: the client ends `disconnected` with Errc::auth_failed and is
// not retried. See docs/adapters.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zenws/venues/venue.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/subscriptions.hpp"

namespace zenws {
class Runtime;

// ---- what Deribit plugs into the generic client (venues/src/deribit_presets.cpp) ----

// Deribit JSON-RPC 2.0: public/subscribe, public/unsubscribe; channels starting with "user." use
// private/subscribe, private/unsubscribe (need auth). Replies: "result" = array of the confirmed channels
// (a non-array result confirms all), "error" = rejected.
std::shared_ptr<const SubscriptionDialect> deribit_dialect();


namespace rate_limits {

inline constexpr double deribit_non_matching_cost = 500;      // credits per non-matching-engine request
inline constexpr double deribit_non_matching_pool = 50'000;   // => burst 100 requests, sustained 20/s
inline constexpr double deribit_subscribe_cost = 3'000;       // public|private/subscribe
inline constexpr double deribit_subscribe_pool = 30'000;      // => burst 10, ~3.3/s
inline constexpr double deribit_refill_per_second = 10'000;
// True when the message's JSON-RPC "method" value ends with "/subscribe" (public/subscribe, private/subscribe;
// not .../unsubscribe). A simple scan of the "method" member, no JSON parsing.
bool is_deribit_subscribe(std::string_view message) noexcept;
// 3,000 credits for a subscribe call, 500 for any other request (the cost table of the original deribit_cost).
double deribit_cost(std::string_view message) noexcept;

// 500 credits per request (subscribe calls cost 0 here: they have their own pool), 50,000 pool, 10,000/s.
// Deribit answers exhaustion with error 10028 AND closes the session, so reject/delay locally.
RateLimitPreset deribit_non_matching();
// 3,000 credits per subscribe call (other requests cost 0 here), 30,000 pool, 10,000/s.
RateLimitPreset deribit_subscribe();
// Both Deribit pools as one policy: subscribe calls charge the subscribe pool, everything else the other.
RateLimitPolicy deribit(RateLimitPolicy::Mode mode = RateLimitPolicy::Mode::delay,
                        std::chrono::milliseconds max_delay = std::chrono::milliseconds{5000});

}  // namespace rate_limits

}  // namespace zenws

namespace zenws::deribit {

// ---- credentials and request builders (pure) ----------------------------------------------------------------------

enum class Grant : std::uint8_t { client_credentials, client_signature };

struct Credentials {
    std::string client_id;
    std::string client_secret;
    Grant grant = Grant::client_credentials;
};

// Lowercase hex HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + data): the client_signature grant.
std::string client_signature(std::string_view secret, std::int64_t timestamp_ms, std::string_view nonce,
                             std::string_view data = {});
// A random 16-character alphanumeric nonce.
std::string make_nonce();

// public/auth params. client_signature uses `timestamp_ms` (0 = now) and `nonce` (empty = make_nonce()).
std::string auth_params(const Credentials& credentials, std::int64_t timestamp_ms = 0, std::string_view nonce = {});
std::string refresh_params(std::string_view refresh_token);
// interval in seconds; fractions are written as such (a test server may allow them, Deribit needs >= 10).
std::string set_heartbeat_params(double interval_seconds);
std::string cancel_on_disconnect_params(std::string_view scope = "connection");
std::string get_instruments_params(std::string_view currency, std::string_view kind = {}, bool expired = false);
std::string get_order_book_params(std::string_view instrument_name, int depth = 10);
std::string ticker_params(std::string_view instrument_name);

struct OrderRequest {
    std::string instrument_name;
    double amount = 0;
    std::string type = "limit";          // limit | market | stop_limit | ...
    std::optional<double> price;         // required for limit orders
    std::string label;
    std::string time_in_force;           // good_til_cancelled | fill_or_kill | immediate_or_cancel; empty = default
    bool post_only = false;
    bool reduce_only = false;
};
std::string order_params(const OrderRequest& order);
std::string cancel_params(std::string_view order_id);

// Which open orders: by instrument (instrument_name set), by currency (currency set), or all.
struct OpenOrdersFilter {
    std::string currency;
    std::string instrument_name;
    std::string kind;  // future | option | ... (by currency)
    std::string type;  // all | limit | stop_all | ...
};
// {method, params}
std::pair<std::string, std::string> open_orders_request(const OpenOrdersFilter& filter);

// ---- typed results (pure) -----------------------------------------------------------------------------------------

struct AuthResult {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;  // seconds
    std::string scope;
    std::string token_type;
};

struct Instrument {
    std::string instrument_name, kind, base_currency, quote_currency, settlement_period, option_type;
    double tick_size = 0, min_trade_amount = 0, contract_size = 0, strike = 0;
    bool is_active = false;
    std::int64_t creation_timestamp = 0, expiration_timestamp = 0;
};

struct PriceLevel {
    double price = 0;
    double amount = 0;
};

struct OrderBook {
    std::string instrument_name, state;
    std::int64_t timestamp = 0, change_id = 0;
    std::vector<PriceLevel> bids, asks;  // best first
    double best_bid_price = 0, best_ask_price = 0, last_price = 0, mark_price = 0, index_price = 0;
};

struct Ticker {
    std::string instrument_name, state;
    std::int64_t timestamp = 0;
    double best_bid_price = 0, best_bid_amount = 0, best_ask_price = 0, best_ask_amount = 0;
    double last_price = 0, mark_price = 0, index_price = 0, open_interest = 0;
};

struct Order {
    std::string order_id, instrument_name, direction, order_type, order_state, label, time_in_force;
    double price = 0, amount = 0, filled_amount = 0, average_price = 0;
    bool post_only = false, reduce_only = false;
    std::int64_t creation_timestamp = 0, last_update_timestamp = 0;
};

struct Trade {
    std::string trade_id, order_id, instrument_name, direction;
    double price = 0, amount = 0;
    std::int64_t timestamp = 0;
};

struct OrderResult {  // private/buy, private/sell
    Order order;
    std::vector<Trade> trades;
};

// Each parser takes a whole reply text ({"jsonrpc":"2.0","id":..,"result":..}) or just the result JSON. An error reply
// gives map_error(Errc::rpc_error ...); a result of the wrong shape gives Errc::invalid_request.
Result<AuthResult> parse_auth(std::string_view reply);
Result<std::vector<Instrument>> parse_instruments(std::string_view reply);
Result<OrderBook> parse_order_book(std::string_view reply);
Result<Ticker> parse_ticker(std::string_view reply);
Result<OrderResult> parse_order_result(std::string_view reply);
Result<Order> parse_order(std::string_view reply);                  // private/cancel
Result<std::vector<Order>> parse_orders(std::string_view reply);    // private/get_open_orders*
// Parsing of single objects (the "result" or a notification's "data").
Result<Order> parse_order_object(std::string_view object_raw);
Result<Ticker> parse_ticker_object(std::string_view object_raw);

// ---- error mapping (pure) -----------------------------------------------------------------------------------------

namespace codes {
inline constexpr std::int64_t authorization_required = 10000;
inline constexpr std::int64_t too_many_requests = 10028;
inline constexpr std::int64_t retry = 10040;
inline constexpr std::int64_t settlement_in_progress = 10041;
inline constexpr std::int64_t matching_engine_queue_full = 10047;
inline constexpr std::int64_t too_many_concurrent_requests = 10066;
inline constexpr std::int64_t system_maintenance = 11051;
inline constexpr std::int64_t invalid_credentials = 13004;
inline constexpr std::int64_t unauthorized = 13009;
inline constexpr std::int64_t forbidden = 13021;
inline constexpr std::int64_t temporarily_unavailable = 13028;
inline constexpr std::int64_t unavailable = 13503;
inline constexpr std::int64_t raw_subscriptions_not_available_for_unauthorized = 13778;
}  // namespace codes

// 10028 -> reconnect; 13009, 10000 -> reauthenticate; 13004, 13021 -> fatal; 10040, 10041, 10047, 10066, 11051, 13028,
// 13503 -> retry; anything else -> none.
adapters::ErrorAction classify_error(std::int64_t code) noexcept;
// The Errc a Deribit error code is reported as: 10028 -> rate_limited; 13004, 13021, 13009, 10000 -> auth_failed;
// others -> rpc_error.
Errc errc_for(std::int64_t code) noexcept;
// Re-labels an Errc::rpc_error with errc_for(rpc_code), keeping rpc_code, message and raw. Other errors unchanged.
Error map_error(Error error);

// ---- the adapter (zenws) ------------------------------------------------------------------------------------------

template <class T>
using Callback = std::function<void(Result<T>)>;

struct AdapterEvent {
    enum class Kind : std::uint8_t {
        authenticated,          // public/auth succeeded on a new connection
        refreshed,              // token refreshed (grant refresh_token)
        reauthenticated,        // after 13009/10000 or a failed refresh
        heartbeat_enabled,      // public/set_heartbeat accepted
        cancel_on_disconnect,   // private/enable_cancel_on_disconnect accepted
        auth_failed,            // fatal: 13004 / 13021 (the client stops)
        rate_limited,           // 10028: the session is terminated; reconnecting after `backoff`
        restarted,              // the adapter started a new Client (after 10028)
        error,                  // something non-fatal failed (set_heartbeat rejected, refresh failed, ...)
    };
    Kind kind;
    Error error;
    std::chrono::milliseconds backoff{0};
};
std::string_view to_string(AdapterEvent::Kind) noexcept;

struct AdapterOptions {
    // url, timeouts, retry ladder, send policy... The adapter sets: heartbeat.type = deribit (test_request answered;
    // the adapter sends public/set_heartbeat itself), subscription_dialect = deribit_dialect() (unless set), and
    // rate_limit = rate_limits::deribit() (delay mode) when local_rate_limit and none is set.
    Config config;
    std::optional<Credentials> credentials;   // none = public only
    double heartbeat_seconds = 30;            // public/set_heartbeat after every connect; 0 = don't
    bool cancel_on_disconnect = false;        // private/enable_cancel_on_disconnect after auth
    std::string cancel_on_disconnect_scope = "connection";
    double refresh_at = 0.8;                  // refresh at this fraction of expires_in (0 = never refresh)
    bool local_rate_limit = true;
    // After 10028 (Deribit closes the session): wait, then reconnect. Doubles per consecutive 10028 up to the max.
    std::chrono::milliseconds rate_limit_backoff{1000};
    std::chrono::milliseconds rate_limit_backoff_max{30000};
    // Request timeout of the adapter's own calls (auth, set_heartbeat, ...); 0 = config.request_timeout.
    std::chrono::milliseconds call_timeout{0};
    Handlers handlers;                        // the user's handlers; on_reconnect runs after the adapter's steps
    std::function<void(const AdapterEvent&)> on_event;  // on the client's I/O thread
    Runtime* runtime = nullptr;               // null = Runtime::shared()
};

struct AdapterStats {
    std::uint64_t connections = 0;        // on_reconnect runs (every successful upgrade)
    std::uint64_t authentications = 0;    // successful public/auth with credentials
    std::uint64_t refreshes = 0;
    std::uint64_t reauthentications = 0;
    std::uint64_t rate_limited = 0;       // 10028 seen
    std::uint64_t restarts = 0;           // new Clients started by the adapter
};

class Adapter : public std::enable_shared_from_this<Adapter> {
public:
    static std::shared_ptr<Adapter> create(AdapterOptions options);
    ~Adapter();

    // Mode 1 — the adapter owns its Client: connects (blocking, the whole retry ladder) and authenticates. Returns
    // the client's error (e.g. Errc::auth_failed for bad credentials) if the first connection fails.
    Status connect();
    // Mode 2 — someone else (a ClientSupervisor) creates the Clients: wraps `config`/`handlers` with the adapter's
    // settings and hooks. Every Client created from them is authenticated and resubscribed on each connection.
    void install(Config& config, Handlers& handlers);
    // The config/handlers install() would produce from the options.
    std::pair<Config, Handlers> client_setup();

    // The current Client (the one of the latest connection); empty before the first connection.
    Client client() const;
    // Closes the client; no restart follows.
    void close();
    // Waits until the current client is connected (true) or `timeout` passes.
    bool wait_connected(std::chrono::milliseconds timeout) const;

    // ---- subscriptions (kept by the adapter: re-applied to every new Client, restored after every reconnect) ----
    // "user.*" channels are private (private/subscribe after auth); the rest public. Offline: applied on connect.
    Status subscribe(std::vector<std::string> channels);
    Status unsubscribe(std::vector<std::string> channels);
    std::vector<std::string> subscriptions() const;  // the desired set, sorted

    // ---- state ----
    bool authenticated() const;              // the current connection is authenticated
    std::optional<AuthResult> token() const; // latest token
    AdapterStats stats() const;
    Error last_error() const;                // e.g. Errc::rate_limited after a 10028, Errc::auth_failed

    // Authenticates the current connection again (credentials grant). Blocking and callback forms.
    Status authenticate();
    void authenticate(std::function<void(Status)> done);
    // Refreshes the token now (grant refresh_token; falls back to credentials).
    Status refresh();

    // ---- requests: errors mapped (map_error); 13009/10000 -> re-authenticate and retry once ----
    void call(std::string method, std::string params, Client::ReplyCallback done);
    Result<std::string> call(std::string method, std::string params = "{}");

    Result<std::vector<Instrument>> get_instruments(std::string_view currency, std::string_view kind = {});
    void get_instruments(std::string_view currency, std::string_view kind, Callback<std::vector<Instrument>> done);
    Result<OrderBook> get_order_book(std::string_view instrument_name, int depth = 10);
    void get_order_book(std::string_view instrument_name, int depth, Callback<OrderBook> done);
    Result<Ticker> ticker(std::string_view instrument_name);
    void ticker(std::string_view instrument_name, Callback<Ticker> done);
    Result<OrderResult> buy(const OrderRequest& order);
    void buy(const OrderRequest& order, Callback<OrderResult> done);
    Result<OrderResult> sell(const OrderRequest& order);
    void sell(const OrderRequest& order, Callback<OrderResult> done);
    Result<Order> cancel(std::string_view order_id);
    void cancel(std::string_view order_id, Callback<Order> done);
    Result<std::vector<Order>> get_open_orders(const OpenOrdersFilter& filter = {});
    void get_open_orders(const OpenOrdersFilter& filter, Callback<std::vector<Order>> done);

    struct Impl;

private:
    explicit Adapter(AdapterOptions options);
    std::shared_ptr<Impl> state_;
};

}  // namespace zenws::deribit
