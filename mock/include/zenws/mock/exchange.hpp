// zenws/mock/exchange.hpp — a local mock exchange for testing trading systems: a WebSocket server on 127.0.0.1
// (ws or wss) speaking the Deribit v2 JSON-RPC or the Binance stream dialect (zenws/mock/dialects.hpp), with fault
// controls out of band (this C++ API and a line-based TCP control port) and observable state for assertions.
//
// Runs on a zenws::Runtime's io_context or on its own thread. All methods are thread-safe. See docs/mock-exchange.md.
// Library target zenws::mock (zenws_mock), not part of zenws::zenws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/mock/certificate.hpp"  // make_self_signed_cert(), for callers of this header
#include "zenws/mock/dialects.hpp"

namespace zenws {
class Runtime;
}

namespace zenws::mock {

enum class DialectKind : std::uint8_t { deribit, binance };

struct MockExchangeOptions {
    DialectKind dialect = DialectKind::deribit;
    std::uint16_t port = 0;                 // 0 = ephemeral (see port())
    bool tls = false;                       // wss
    std::string cert_file, key_file;        // PEM; empty = a self-signed cert for localhost / 127.0.0.1 made in-process
    int control_port = -1;                  // -1 = none, 0 = ephemeral
    DeribitOptions deribit;
    BinanceOptions binance;
    Runtime* runtime = nullptr;             // null = the server runs its own thread
    std::size_t max_message_size = 16u << 20;
    std::size_t ended_history = 1000;       // ended sessions kept for status()
};

struct ConnectionStatus {
    std::uint64_t id = 0;
    std::string path;                       // request target of the upgrade
    bool tls = false;
    SessionInfo session;                    // authenticated, subscriptions, cancel_on_disconnect, ...
    std::uint64_t messages_in = 0, messages_out = 0;
};

struct EndedSession {
    std::uint64_t id = 0;
    std::string path;
    EndReason reason = EndReason::none;
    std::uint16_t close_code = 0;           // the client's close code (client_close) or the one the server sent
    std::string close_reason;
    SessionInfo session;                    // state at the end
};

struct MockStatus {
    std::string dialect;
    std::uint16_t port = 0, control_port = 0;
    std::uint64_t connections_total = 0;    // WebSocket sessions opened
    std::uint64_t handshakes_rejected = 0;  // refused upgrades (faults, bad targets)
    std::vector<ConnectionStatus> connections;
    std::vector<EndedSession> ended;        // oldest first
    std::string to_json() const;            // one line
    const ConnectionStatus* find(std::uint64_t id) const;
    const EndedSession* find_ended(std::uint64_t id) const;
};

// status_503/429: that HTTP answer; bad_accept: a 101 with a wrong Sec-WebSocket-Accept; no_101: the upgrade request
// is read and never answered (the socket stays open until the client gives up or the server stops).
enum class HandshakeFault : std::uint8_t { none, status_503, status_429, bad_accept, no_101 };

class MockExchange {
public:
    explicit MockExchange(MockExchangeOptions options = {});
    ~MockExchange();  // stop()
    MockExchange(const MockExchange&) = delete;
    MockExchange& operator=(const MockExchange&) = delete;

    Status start();
    void stop();
    bool running() const;

    std::uint16_t port() const;
    std::uint16_t control_port() const;     // 0 when there is none
    // ws[s]://127.0.0.1:<port><path>; default path: /ws/api/v2 (deribit), /ws (binance)
    std::string url(std::string_view path = {}) const;
    // The server certificate (PEM file path) for clients' TlsOptions::ca_file; empty without TLS.
    std::string cert_file() const;
    Dialect& dialect();

    MockStatus status() const;
    // Polls status() every 10 ms until `predicate` holds or `timeout` passes.
    bool wait_until(const std::function<bool(const MockStatus&)>& predicate, std::chrono::milliseconds timeout) const;

    // ---- fault controls (connection 0 = every open connection); return the number of connections affected ----
    std::size_t drop(std::uint64_t connection = 0);     // close TCP without a close frame
    std::size_t reset(std::uint64_t connection = 0);    // TCP RST (SO_LINGER 0)
    std::size_t close(std::uint16_t code, std::string reason = {}, std::uint64_t connection = 0);
    std::size_t flood(std::size_t count, std::size_t size, std::uint64_t connection = 0);
    std::size_t skip_heartbeat(std::uint64_t connection = 0);
    std::size_t gap(std::uint64_t connection = 0);
    void set_nopong(bool on);                            // stop answering client pings
    void set_silence(bool on);                           // stop reading and sending (half-open link)
    void set_delay(std::string method, std::chrono::milliseconds delay);  // 0 = no delay
    void set_drop_method(std::string method, bool on = true);             // never answer this method
    void set_reorder(bool on);                           // replies swapped in pairs
    void set_slice(bool on);                             // 1-byte writes
    void refuse_for(std::chrono::milliseconds duration); // close the listening socket, reopen after
    void set_handshake_fault(HandshakeFault fault);      // for every following upgrade until none

    // Executes one control-port command line (see docs/mock-exchange.md) and returns the answer line
    // ("OK ..." or "ERR ..."), without the newline.
    std::string control(std::string_view line);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace zenws::mock
