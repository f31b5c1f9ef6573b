// zenws/pool_router.hpp — owns the pure side of balanced sending: the health score of a pooled client (from a
// metrics snapshot plus its recent send errors with time decay), the ranking of a pool with round-robin tie
// breaking (PoolRouter), and PoolObserver, the telemetry interface of the pool and its supervisor. No sockets and
// no clocks: every call that needs time takes `now`. ClientSupervisor::send_balanced (client_supervisor.hpp) is
// the I/O side that uses it.
//
// Score (0..100, higher is healthier; only `connected` clients are eligible):
//     100 - min(pending_requests * 10, 40)              in-flight requests (ZenWebsocket's pending penalty)
//         - min(p99_request_ms / 25, 30)                 request latency (ZenWebsocket's latency penalty)
//         - min(heartbeat_failures * 15, 30)             consecutive missed heartbeats (new: a dying link)
//         - min(round(recent_errors * 15), 45)           send/request failures, decayed (see below)
//     clamped at 0.
// recent_errors: each failure adds 1; the sum halves every `error_half_life` (default 30 s), so a failover target
// recovers gradually instead of ZenWebsocket's all-or-nothing 60 s expiry. A success clears it (as the original).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/restart_intensity.hpp"

namespace zenws {

// What the score looks at: a lock-light snapshot of one client (Client::metrics()).
struct HealthInputs {
    bool connected = false;
    std::size_t pending_requests = 0;
    std::uint64_t p99_request_us = 0;
    int heartbeat_failures = 0;  // consecutive
};

struct PoolScoring {
    int pending_weight = 10, pending_cap = 40;
    int latency_step_ms = 25, latency_cap = 30;
    int heartbeat_weight = 15, heartbeat_cap = 30;
    int error_weight = 15, error_cap = 45;
    std::chrono::milliseconds error_half_life{std::chrono::seconds(30)};
};

// The score of one client: -1 when not eligible (not connected), else 0..100.
int health_score(const HealthInputs& in, double recent_errors, const PoolScoring& scoring = {}) noexcept;

struct PoolCandidate {
    std::uint64_t id = 0;  // stable identity (ClientHandle::id())
    HealthInputs health;
};

struct RankedCandidate {
    std::size_t index = 0;  // into the candidates given to rank()
    std::uint64_t id = 0;
    int score = 0;
};

// Error records per client id and the round-robin cursor. Thread-safe (one short mutex; never calls out).
class PoolRouter {
public:
    explicit PoolRouter(PoolScoring scoring = {});

    void record_error(std::uint64_t id, SteadyTime now);
    void record_success(std::uint64_t id);
    void forget(std::uint64_t id);
    // The decayed error level of `id` at `now` (0 when none).
    double recent_errors(std::uint64_t id, SteadyTime now) const;
    int score(const PoolCandidate& c, SteadyTime now) const;

    // Eligible candidates (connected), best score first. Equal scores are rotated by a counter that advances on
    // every call, so a pool of equally healthy clients is used round-robin. Duplicated ids are ranked once.
    std::vector<RankedCandidate> rank(std::span<const PoolCandidate> candidates, SteadyTime now);

    const PoolScoring& scoring() const noexcept { return scoring_; }
    std::size_t tracked() const;  // clients with an error record (for tests)

private:
    struct ErrorRecord {
        double level = 0;
        SteadyTime at{};
    };
    double decayed(const ErrorRecord& r, SteadyTime now) const;

    PoolScoring scoring_;
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, ErrorRecord> errors_;
    std::uint64_t round_robin_ = 0;
};

// Telemetry of a pool and its supervisor; every method has a no-op default. Called from the thread that did the
// work (a send_balanced caller or a client's I/O thread); implementations must be thread-safe and must not throw
// (a throw is caught and dropped).
class PoolObserver {
public:
    virtual ~PoolObserver() = default;
    // send_balanced chose `client_id` (score 0..100) out of `pool_size` eligible clients.
    virtual void route(std::uint64_t /*client_id*/, int /*score*/, std::size_t /*pool_size*/) {}
    // Attempt `attempt` (1-based) on `failed_client_id` failed; the next healthiest is tried if any remain.
    virtual void failover(int /*attempt*/, std::uint64_t /*failed_client_id*/, const Error& /*reason*/) {}
    // Discovery gave no connected client.
    virtual void no_connections(std::size_t /*discovered*/) {}
    // Supervisor lifecycle of a pooled client.
    virtual void child_started(std::uint64_t /*client_id*/, int /*restarts*/) {}
    virtual void child_crashed(std::uint64_t /*client_id*/, const Error& /*reason*/) {}
    virtual void restart_scheduled(std::uint64_t /*client_id*/, std::chrono::milliseconds /*delay*/) {}
    // The client exceeded its own restart intensity: parked (retried after `retry_after`) or removed (0).
    virtual void child_failed(std::uint64_t /*client_id*/, const Error& /*reason*/,
                              std::chrono::milliseconds /*retry_after*/) {}
    virtual void child_removed(std::uint64_t /*client_id*/) {}
    // A user callback (on_connect, on_disconnect, discovery) threw.
    virtual void callback_error(std::uint64_t /*client_id*/, const Error& /*error*/) {}
};

}  // namespace zenws
