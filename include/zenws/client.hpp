// zenws/client.hpp — the WebSocket client: one logical connection to an endpoint, kept alive across failures.
//
// A Client is a cheap, copyable handle (all copies address the same connection). Releasing the last handle closes
// the client in the background; its handlers may still run until that close completes, so what they capture must
// outlive it: call close_and_wait() first when that matters. Every method is thread-safe and
// non-blocking except connect() and receive(), which say so. User handlers run on the connection's executor, never
// inside the caller's send(). The async form of connect lives in zenws/async.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/frame.hpp"
#include "zenws/latency_stats.hpp"
#include "zenws/telemetry.hpp"

namespace zenws {

class Runtime;
class Client;

enum class State : std::uint8_t {
    connecting,    // first connection attempt(s) in progress
    connected,
    reconnecting,  // lost the connection, retrying with backoff
    disconnected,  // gave up: retries exhausted or a non-retryable error (see last_error())
    closed,        // closed by the user
};
std::string_view to_string(State) noexcept;

// A received message. The view is valid only during the handler call.
struct MessageView {
    Opcode opcode;
    std::string_view data;
    std::string_view channel;  // subscription notifications: Deribit params.channel / Binance combined "stream"
    bool is_text() const noexcept { return opcode == Opcode::text; }
};

// An owned message, as returned by Client::receive().
struct Message {
    Opcode opcode = Opcode::text;
    std::string data;
    bool is_text() const noexcept { return opcode == Opcode::text; }
};

struct CloseInfo {
    std::uint16_t code = close_code::abnormal;  // 1006 when the link dropped without a close frame
    std::string reason;
    bool by_peer = false;                         // the server initiated the close
};

struct Counters {
    std::uint64_t frames_in = 0, frames_out = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0;    // WebSocket bytes (headers + payload) on the wire
    std::uint64_t messages_in = 0, messages_out = 0;
    std::uint64_t reconnects = 0;
};

// Completion of a send: Errc::ok once the frame was handed to the kernel, otherwise why it failed.
using SendCallback = std::function<void(const Error&)>;

struct Handlers {
    // If empty, messages go to the receive() inbox. If it throws, the client treats it as a crash: the connection
    // is closed (1011) and the client ends in `disconnected` with Errc::handler_exception (a supervisor restarts it).
    std::function<void(MessageView)> on_message;
    std::function<void(State from, State to, const Error& cause)> on_state;
    std::function<void(const CloseInfo&)> on_close;            // each time a connection ends
    std::function<void(const Error&)> on_error;                // errors not tied to a call (e.g. handler threw)
    std::function<void(std::string_view)> on_unmatched_response;  // a reply whose id is not pending (late, unknown)
    // Runs after every successful (re)connection, before buffered sends are flushed and before the state becomes
    // `connected`: authenticate and restore state here. Call `done` (from any thread) when finished; an error
    // closes the connection and counts as a failed attempt (Errc::auth_failed is not retried). The Client& is a
    // non-owning handle for the duration of the hook: keep the handle returned by connect() to own the client.
    std::function<void(Client&, std::function<void(Status)> done)> on_reconnect;
    std::shared_ptr<Observer> observer;                        // telemetry; null = none
};

struct HeartbeatHealth {
    HeartbeatType type = HeartbeatType::disabled;
    bool active = false;                                       // heartbeat timer running on a live connection
    std::optional<std::chrono::steady_clock::time_point> last_heartbeat_at;  // last acknowledged heartbeat
    int consecutive_failures = 0;
    std::uint64_t total_failures = 0;
    std::chrono::microseconds last_rtt{0};
};

struct ClientMetrics {
    State state = State::connecting;
    std::chrono::microseconds uptime{0};                       // of the current connection; 0 when not connected
    Counters counters;
    std::size_t send_queue_depth = 0;                          // sends buffered while not connected
    std::size_t pending_requests = 0;
    std::size_t subscriptions = 0;
    LatencySummary ping_rtt;                                   // µs, ping_pong / custom heartbeat round trips
    LatencySummary request_rtt;                                // µs, request/reply round trips
    HeartbeatHealth heartbeat;
};

class Client {
public:
    Client() = default;  // empty handle; valid() is false

    // Connects, honouring the whole retry ladder (retry_count, backoff). Blocks the caller until connected or
    // until retries are exhausted. `runtime` defaults to Runtime::shared().
    static Result<Client> connect(Config config, Handlers handlers = {}, Runtime* runtime = nullptr);
    static Result<Client> connect(std::string url, Handlers handlers = {}, Runtime* runtime = nullptr);

    // Starts connecting and calls `done` (on the connection's executor) when connected or when it gave up.
    static void start(Runtime& runtime, Config config, Handlers handlers, std::function<void(Result<Client>)> done);

    bool valid() const noexcept { return impl_ != nullptr; }

    // Sends never block. Copying forms copy (and mask) into the connection's write buffer; moved forms mask the
    // caller's buffer in place and write it without a copy. The callback reports written or failed.
    Status send_text(std::string_view text, SendCallback done = {});
    Status send_text(std::string&& text, SendCallback done = {});
    Status send_text(const char* text, SendCallback done = {}) { return send_text(std::string_view(text), done); }
    Status send_binary(std::string_view data, SendCallback done = {});
    Status send_binary(std::string&& data, SendCallback done = {});
    Status send_binary(const char* data, SendCallback done = {}) { return send_binary(std::string_view(data), done); }
    Status send(Opcode opcode, std::string_view data, SendCallback done = {});
    Status ping(std::string_view payload = {});

    // ---- requests (JSON-RPC style correlation) ----
    // `text` must be a JSON object with an "id" (integer or string). Completes exactly once, on the connection's
    // executor: with the reply carrying the same id, with Errc::rpc_error (code, message, raw body) for an error
    // reply, Errc::request_timeout after `timeout` (0 = config.request_timeout), Errc::disconnected if the
    // connection drops first, Errc::duplicate_request_id if that id is pending (nothing is sent), or the send error.
    // A reply arriving after the deadline goes to Handlers::on_unmatched_response.
    using ReplyCallback = std::function<void(Result<std::string>)>;
    void request(std::string text, ReplyCallback done, std::chrono::milliseconds timeout = {});
    Result<std::string> request_blocking(std::string text, std::chrono::milliseconds timeout = {});
    // Builds {"jsonrpc":"2.0","id":<unique>,"method":...,"params":...} and sends it as a request.
    void call(std::string_view method, std::string_view params_json, ReplyCallback done,
              std::chrono::milliseconds timeout = {});
    Result<std::string> call_blocking(std::string_view method, std::string_view params_json = "{}",
                                      std::chrono::milliseconds timeout = {});
    // ZenWebsocket's send_message: a text message with a JSON "id" is a request (completes with the reply);
    // any other message completes (with an empty string) once written.
    void send_message(std::string text, ReplyCallback done);

    // ---- subscriptions (restored after every reconnect, dialect from Config::subscription_dialect) ----
    // Adds channels to the desired set; sent now when connected (confirmed by the server's reply), otherwise on
    // the next connection. Unsubscribing removes them for good (a reconnect never brings them back).
    Status subscribe(std::vector<std::string> channels);
    Status unsubscribe(std::vector<std::string> channels);
    struct SubscriptionStatus {
        std::vector<std::string> desired, confirmed, pending;
        std::vector<std::string> failed;  // rejected by the server (dropped from the desired set)
        std::uint64_t restores = 0;       // reconnects after which the desired set was re-sent
    };
    SubscriptionStatus subscriptions() const;

    // Drops the current connection and reconnects through the backoff ladder, whatever the close that follows says
    // (use it when a venue asks you to go away, e.g. Deribit's 10028 "too many requests" before its 1008 close).
    // With Errc::rate_limited as the cause the first attempt waits retry_delay; otherwise it is immediate. On a
    // client that gave up (`disconnected`) it starts a fresh retry ladder.
    void reconnect(Error cause = {});

    // Starts the close handshake and returns at once; no reconnect follows. close_and_wait() blocks until the
    // connection is closed or `timeout` passed.
    void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
    bool close_and_wait(std::chrono::milliseconds timeout, std::uint16_t code = close_code::normal,
                        std::string_view reason = {});

    // Pull inbox (used when Handlers::on_message is empty). Blocks up to `timeout`.
    std::optional<Message> receive(std::chrono::milliseconds timeout);

    // Reads never wait for the connection.
    State state() const noexcept;
    Counters counters() const noexcept;
    HeartbeatHealth heartbeat_health() const;
    ClientMetrics metrics() const;
    std::string subprotocol() const;
    Error last_error() const;
    const Config& config() const noexcept;

    struct Impl;

private:
    explicit Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace zenws
