// zenws/client_supervisor.hpp — owns ClientSupervisor: the dynamic pool of supervised clients (ZenWebsocket's
// ClientSupervisor / DynamicSupervisor re-created): start_client / stop_client / list_clients with stable
// ClientHandles, lifecycle callbacks on every (re)connection, per-client restart intensity with backoff (a dead
// endpoint is parked, never takes its siblings down), and send_balanced: health-scored routing with failover.
//
// Why per-client intensity: ZenWebsocket counted the restarts of all clients against one pool-wide 10-in-60 s
// budget, so a single endpoint that stayed down (11 restarts in ~33 s) killed the supervisor and every healthy
// connection with it. Here each client has its own budget (max_restarts within max_time) and its own restart
// backoff; a client that exceeds it is parked (`failed`) and retried after failed_retry_after (or removed when that
// is 0). Nothing a client does can stop its siblings or the pool. Bad credentials (Errc::auth_failed) and an
// invalid config are never retried. See docs/supervision.md.
//
// Threading: every method is thread-safe; state is guarded by one short mutex that is never held while user code
// or a client call runs. User callbacks (on_connect, on_disconnect, Handlers) run on the client's I/O thread.
// Only start_client (blocking form), send_balanced (blocking form) and the destructor wait; do not call those from a
// handler on a single-threaded Runtime (use the _async forms there).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/pool_router.hpp"
#include "zenws/supervisor.hpp"

namespace zenws {

class Runtime;

struct ClientOptions {
    Handlers handlers;                                // passed to every Client instance of this child
    // After every successful connection: first start, supervisor restart, internal reconnect.
    std::function<void(ClientHandle)> on_connect;
    // Once after every on_connect: when that connection is lost (reconnect, crash, give-up) or the client is
    // stopped. Exceptions from either callback are caught and reported (observer / on_event), never crash.
    std::function<void(ClientHandle)> on_disconnect;
    RestartType restart = RestartType::transient;     // a user close (normal exit) ends a transient child
    // true (the original's behaviour): start_client waits for the first connection; if the first connect gives up,
    // the child is removed and the error returned. false: start_client returns the handle at once and the
    // supervisor keeps (re)starting it with backoff.
    bool await_connection = true;
};

struct ClientSupervisorOptions {
    int max_restarts = 10;                                   // per client ...
    std::chrono::milliseconds max_time{std::chrono::seconds(60)};  // ... within this window
    RestartBackoffOptions backoff;                           // between restarts of one client
    // A client over its intensity is parked (`failed`) and started again after this (with fresh accounting).
    // 0 = remove it instead (it leaves its process groups, on_disconnect has run). A client that ended with a
    // permanent failure (is_permanent_failure: Errc::auth_failed, Errc::invalid_config) is never restarted: parked
    // as `failed` without a retry (until stop_client), or removed when this is 0; reported as child_exited then
    // permanent_failure (PoolObserver::child_failed with retry_after 0).
    std::chrono::milliseconds failed_retry_after{std::chrono::seconds(60)};
    PoolScoring scoring;
    std::shared_ptr<PoolObserver> observer;                  // pool + lifecycle telemetry (may be null)
    std::function<void(const SupervisorEvent&)> on_event;    // child_id = std::to_string(handle.id())
};

struct BalancedOptions {
    int max_attempts = 3;
    // Candidates (e.g. ProcessGroups::discovery("ws_pool")); default: list_clients(). Only connected ones count.
    std::function<std::vector<ClientHandle>()> client_discovery;
    std::chrono::milliseconds timeout{0};   // requests: per attempt; 0 = the client's request_timeout
};

class ClientSupervisor {
public:
    explicit ClientSupervisor(Runtime& runtime, ClientSupervisorOptions options = {});
    // Stops every client (no restarts), then waits until the clients it closed have finished closing (at most the
    // largest close_timeout + 500 ms; also for a first connection still in progress, which it then closes), so no
    // client is left half-closed to a Runtime that stops next. It does not wait on one of the Runtime's own threads
    // or when the Runtime runs a caller-supplied io_context.
    ~ClientSupervisor();
    ClientSupervisor(const ClientSupervisor&) = delete;
    ClientSupervisor& operator=(const ClientSupervisor&) = delete;

    Result<ClientHandle> start_client(std::string url, ClientOptions options = {});
    Result<ClientHandle> start_client(Config config, ClientOptions options = {});
    // `done` runs once: with the handle after the first connection (or at once when !await_connection), or with
    // the error. On the client's I/O thread (or the caller's, for an invalid config).
    void start_client_async(Config config, ClientOptions options, std::function<void(Result<ClientHandle>)> done);

    // Stops the client (close handshake, not waited for); it is not restarted. Errc::not_found if unknown/stopped.
    Status stop_client(const ClientHandle& handle);
    // Every supervised child (connected, reconnecting, restarting or parked), each once, in start order.
    std::vector<ClientHandle> list_clients() const;
    std::size_t size() const;
    void stop_all();

    // Sends `message` on the healthiest connected client, failing over to the next healthiest on error, up to
    // max_attempts. A JSON object with an "id" is a request: the result is the reply (a JSON-RPC error reply is
    // returned as Errc::rpc_error without failover: the venue answered). Anything else: "" once written.
    // Errc::no_connections when discovery yields no connected client; else the last error.
    Result<std::string> send_balanced(std::string message, BalancedOptions options = {});
    void send_balanced_async(std::string message, BalancedOptions options,
                             std::function<void(Result<std::string>)> done);

    PoolRouter& router() noexcept;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace zenws
