// zenws/venues/binance.hpp — the Binance market-data stream adapter: a small pool of Clients (at most
// max_streams_per_connection streams each, 1024 on Binance), live SUBSCRIBE/UNSUBSCRIBE with ids (binance_dialect),
// the 5 messages/s limiter on each connection, server-ping liveness, and proactive make-before-break rotation before
// the 24 h cut or on a serverShutdown notice: a new connection is opened and subscribed, the old one is closed only
// after the new one delivered its first event, and the overlap is deduplicated so every event is delivered once.
//
// Deduplication key per stream (combined) or per (event type, symbol) (raw): the event's own id when it has one
// (aggTrade "a", trade "t", depthUpdate / bookTicker "u"), else its event time "E". An event is delivered when its id
// is greater than the last delivered one of that key; with "E" only, equal times are accepted from the same
// connection (several events in one millisecond) and dropped from the other one. Once the old connection is retired,
// its late events are dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/subscriptions.hpp"

namespace zenws {
class Runtime;

// ---- what Binance plugs into the generic client (venues/src/binance_presets.cpp) ----

// Binance: {"method":"SUBSCRIBE","params":[...],"id":N}, UNSUBSCRIBE likewise. Any "result" (normally null) =
// all requested streams confirmed; an error ({"code","msg"} at top level or under "error") = rejected.
std::shared_ptr<const SubscriptionDialect> binance_dialect(std::size_t max_streams = 1024,
                                                           std::size_t batch_size = 200);


namespace rate_limits {

inline constexpr double binance_incoming_per_second = 5;      // spot; futures/options allow 10/s
inline constexpr double binance_incoming_burst = 5;

// Binance spot: 5 messages/s per connection, burst 5, and ping frames, pong frames and JSON control messages ALL
// count. cost = 1 per data message and control_frame_cost = 1: the client must call admit_control() for every
// ping/pong it sends (including automatic pongs), or the budget is wrong and Binance disconnects.
RateLimitPreset binance_incoming();

}  // namespace rate_limits

}  // namespace zenws

namespace zenws::binance {

// One stream event. Views point into the received text: valid during the callback only.
struct Event {
    std::string_view stream;                // combined streams: "btcusdt@aggTrade"; raw: empty
    std::string_view data;                  // the event object
    std::string_view type;                  // "e" (empty when absent, e.g. bookTicker)
    std::string_view symbol;                // "s"
    std::int64_t event_time = 0;            // "E" (0 when absent)
    std::optional<std::int64_t> id;         // a / t / u
    std::uint64_t connection = 0;           // which pooled connection delivered it
};

// Parses a stream message: combined {"stream":..,"data":{..}} or a raw event object. nullopt for replies
// ({"result":..,"id":..}), errors, serverShutdown notices and anything that is not a JSON object.
std::optional<Event> parse_event(std::string_view text);
// True for {"e":"serverShutdown"} at top level or under "event".
bool is_server_shutdown(std::string_view text);
// base + "/ws/<s1>/<s2>" (raw) or base + "/stream?streams=<s1>/<s2>" (combined); no streams: "/ws" or "/stream".
std::string stream_url(std::string_view base_url, std::span<const std::string> streams, bool combined);

struct StreamOptions {
    std::string base_url = "wss://stream.binance.com:9443";  // scheme://host[:port], no path
    bool combined = true;                    // /stream (events wrapped with their stream name) or /ws (raw)
    std::size_t max_streams_per_connection = 1024;
    // Rotate each connection this long after it connected (Binance cuts at 24 h); 0 = only on serverShutdown.
    std::chrono::milliseconds lifetime{std::chrono::hours(23)};
    // Make-before-break: how long to wait for the new connection's first event before closing the old one anyway.
    std::chrono::milliseconds rotation_timeout{std::chrono::seconds(10)};
    // Server-ping liveness: no ping from the server for this long = a dead link (reconnect). 0 = off.
    std::chrono::milliseconds server_ping_timeout{std::chrono::seconds(60)};
    bool rate_limit = true;                  // rate_limits::binance_incoming() per connection (delay mode)
    Config config;                           // template for every connection (timeouts, retries, TLS); url is set
    std::function<void(const Event&)> on_event;  // each event once; serialized across connections
    Runtime* runtime = nullptr;              // null = Runtime::shared()
};

struct StreamStats {
    std::uint64_t delivered = 0;
    std::uint64_t duplicates = 0;            // events dropped by the deduplication (rotation overlap)
    std::uint64_t rotations = 0;             // completed make-before-break rotations
    std::uint64_t shutdown_notices = 0;      // serverShutdown events seen
    std::uint64_t connections_opened = 0;    // Clients started (pool growth + rotations)
    // After a rotation, the live connection's ids were below the mark set by the retired one (a venue whose ids are
    // per connection): the mark follows the live connection. 0 on Binance, whose ids are exchange-wide.
    std::uint64_t sequence_resets = 0;
};

class StreamAdapter : public std::enable_shared_from_this<StreamAdapter> {
public:
    static std::shared_ptr<StreamAdapter> create(StreamOptions options);
    ~StreamAdapter();

    // Adds streams, spreading them over the pool (a new connection when every one is full). Non-blocking.
    // Errc::invalid_config for an empty name.
    Status subscribe(std::vector<std::string> streams);
    Status unsubscribe(std::vector<std::string> streams);
    std::vector<std::string> streams() const;                       // sorted
    std::vector<std::vector<std::string>> connection_streams() const;  // per pooled connection
    std::size_t connection_count() const;
    // Waits until every pooled connection is connected (and no rotation is in progress).
    bool wait_ready(std::chrono::milliseconds timeout) const;
    // Starts a make-before-break rotation of pooled connection `index` now (what the lifetime timer does).
    void rotate(std::size_t index);
    // The current client of pooled connection `index` (empty when out of range).
    Client client(std::size_t index) const;
    StreamStats stats() const;
    void close();

    struct Impl;

private:
    explicit StreamAdapter(StreamOptions options);
    std::shared_ptr<Impl> impl_;
};

}  // namespace zenws::binance
