// session.hpp — one WebSocket connection attempt and its lifetime (internal).
//
// A Session owns the byte stream (TCP, or TLS over TCP) and everything RFC 6455 needs on top of it: resolving and
// connecting with one deadline, the TLS and HTTP upgrade handshakes, the read loop with the frame decoder, the
// coalescing write path, automatic pongs and the close handshake. It knows nothing of reconnection: the Client
// above it creates a new Session per attempt. All events are delivered on the client's strand.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/frame.hpp"
#include "zenws/handshake.hpp"
#include "zenws/url.hpp"

namespace boost::asio::ssl {
class context;
}

namespace zenws::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class Session;

// Implemented by the client. Called on the strand; `session` identifies the attempt (stale sessions are ignored).
class SessionEvents {
public:
    virtual ~SessionEvents() = default;
    virtual void session_open(Session& session, const HandshakeOutcome& outcome) = 0;
    virtual void session_connect_failed(Session& session, const Error& error) = 0;
    virtual void session_message(Session& session, Opcode op, std::string_view payload) = 0;
    virtual void session_ping(Session& session, std::string_view payload) = 0;
    virtual void session_pong(Session& session, std::string_view payload) = 0;
    // Exactly once per opened session. `cause` is closed_by_peer, closed_by_user, a protocol error, a transport
    // error (eof_without_close, connection_reset, ...) or the error passed to abort().
    virtual void session_closed(Session& session, const CloseInfo& info, const Error& cause) = 0;
};

struct SessionCounters {
    std::atomic<std::uint64_t> frames_in{0}, frames_out{0}, bytes_in{0}, bytes_out{0};
    std::atomic<std::uint64_t> messages_in{0}, messages_out{0};
};

class Session {
public:
    virtual ~Session() = default;

    // Starts resolve → connect → TLS → upgrade under one deadline (config.timeout).
    virtual void start() = 0;

    // Thread-safe. Queues one complete frame; the callback reports written or failed (exactly once, on the strand).
    // Returns not_connected once the session is closing or closed (the callback is then not called).
    virtual Status send(Opcode op, std::string_view payload, SendCallback& done) = 0;
    virtual Status send_owned(Opcode op, std::string&& payload, SendCallback& done) = 0;

    // Thread-safe. Starts the close handshake (bounded by config.close_timeout).
    virtual void close(std::uint16_t code, std::string reason) = 0;
    // Thread-safe. Drops the link now (best-effort close frame first); session_closed reports `cause`.
    virtual void abort(Error cause, std::uint16_t close_code, std::string reason) = 0;

    virtual bool is_open() const noexcept = 0;
    virtual std::size_t queued_bytes() const noexcept = 0;

    // The event loop is being destroyed (no handler runs any more): drop the reference to the client so that the
    // pending handlers the loop destroys free the session and the client with it.
    virtual void detach_events() noexcept = 0;
};

struct SessionParams {
    Url url;
    const Config* config = nullptr;                       // outlives the session (owned by the client)
    std::shared_ptr<boost::asio::ssl::context> tls;       // for wss
    SessionCounters* counters = nullptr;                  // outlives the session
};

std::shared_ptr<Session> make_session(Strand strand, SessionParams params, std::shared_ptr<SessionEvents> events);

// A TLS client context for these options, shared between all clients with equal options.
Result<std::shared_ptr<boost::asio::ssl::context>> tls_context_for(const TlsOptions& options);

}  // namespace zenws::detail
