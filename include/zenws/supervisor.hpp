// zenws/supervisor.hpp — owns the generic supervision tree (OTP's Supervisor re-created): the Child interface,
// child specs (id, start function, restart type, shutdown timeout), the strategies one_for_one / one_for_all /
// rest_for_one, restart intensity (max_restarts within a window) with escalation to the parent supervisor, the
// backoff between restarts of the same child, and the stable ClientHandle plus client_child(), which puts a named
// zenws::Client under a supervisor (the seeds' "pattern 3"). The dynamic client pool is in client_supervisor.hpp.
//
// Threading: a Supervisor keeps its state on an Asio strand of its Runtime. Every public method is thread-safe.
// The blocking ones (start, start_child, terminate_child, restart_child, delete_child, which_children, stop) post
// to the strand and wait; called from inside the supervisor's own callbacks (on_event, on_failure, a Child's
// start/stop) they run inline. Do not call them from another handler running on a single-threaded Runtime that
// the supervisor shares (it would wait for itself); use a Runtime with 2+ threads or a separate one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "zenws/client.hpp"
#include "zenws/error.hpp"
#include "zenws/restart_intensity.hpp"

namespace zenws {

class Runtime;

// Why a child ended.
struct ExitReason {
    enum class Kind : std::uint8_t {
        normal,    // finished on its own or closed by the user: transient children are not restarted
        shutdown,  // stopped by its supervisor
        abnormal,  // crashed: gave up reconnecting, a handler threw, its start failed, ...
    };
    Kind kind = Kind::normal;
    Error error;  // abnormal: what happened

    static ExitReason normal() { return {Kind::normal, {}}; }
    static ExitReason shutdown() { return {Kind::shutdown, {}}; }
    static ExitReason abnormal(Error e) { return {Kind::abnormal, std::move(e)}; }
    bool is_abnormal() const noexcept { return kind == Kind::abnormal; }
};
std::string_view to_string(ExitReason::Kind) noexcept;

using ExitCallback = std::function<void(ExitReason)>;

// Something a supervisor can run. One Child object per start: the spec's start function makes a fresh one for
// every (re)start.
class Child {
public:
    virtual ~Child() = default;
    // Starts the child. An error is a failed start (counted as a crash). Afterwards the child calls `exited` (from
    // any thread, at most once) when it ends on its own. Should not block for long (connecting is asynchronous).
    virtual Status start(ExitCallback exited) = 0;
    // Stops the child within `timeout` (best effort). Exit reports after stop() are ignored. Must not wait for
    // work on a single-threaded Runtime it shares with the supervisor.
    virtual void stop(std::chrono::milliseconds timeout) = 0;
};

enum class RestartType : std::uint8_t {
    permanent,  // always restarted
    transient,  // restarted only after an abnormal exit
    temporary,  // never restarted (removed when it ends)
};
std::string_view to_string(RestartType) noexcept;

struct ChildSpec {
    std::string id;                                       // unique within its supervisor
    std::function<std::shared_ptr<Child>()> start;        // makes the child to start (null / throw = failed start)
    RestartType restart = RestartType::permanent;
    std::chrono::milliseconds shutdown{5000};             // passed to Child::stop
};

enum class Strategy : std::uint8_t {
    one_for_one,   // restart only the crashed child
    one_for_all,   // stop all others (reverse start order), restart all (start order)
    rest_for_one,  // stop the children started after it (reverse order), restart it and them (start order)
};
std::string_view to_string(Strategy) noexcept;

struct SupervisorEvent {
    enum class Kind : std::uint8_t {
        child_started,        // restarts = how many times this child was restarted so far
        child_exited,         // reason in `exit`
        child_start_failed,   // error
        restart_scheduled,    // delay
        child_stopped,        // stopped by the supervisor (shutdown, sibling restart, terminate_child)
        intensity_exceeded,   // error; all children stopped, escalated (parent) or on_failure (root)
        callback_error,       // a user callback (on_event excluded) or Child::stop threw; error
        permanent_failure,    // error; the child ended with an error a restart cannot fix (is_permanent_failure):
                              // not restarted, whatever its restart type (after its child_exited event)
    };
    Kind kind;
    std::string child_id;
    ExitReason exit;
    Error error;
    std::chrono::milliseconds delay{0};
    int restarts = 0;
};
std::string_view to_string(SupervisorEvent::Kind) noexcept;

// Errors a restart cannot fix: Errc::auth_failed (e.g. Deribit 13004 "invalid_credentials": fatal, stop) and
// Errc::invalid_config. A child that exits abnormally with one of them (or whose restart fails with one) is not
// restarted and does not count toward the restart intensity: Supervisor keeps its spec as terminated
// (restart_child starts it again), ClientSupervisor parks it as `failed` without a retry (or removes it when
// failed_retry_after is 0). Reported as child_exited then permanent_failure.
bool is_permanent_failure(const Error& e) noexcept;

struct SupervisorOptions {
    std::string name = "supervisor";
    Strategy strategy = Strategy::one_for_one;
    int max_restarts = 10;                                   // OTP intensity ...
    std::chrono::milliseconds max_time{std::chrono::seconds(60)};  // ... within this window (OTP max_seconds)
    RestartBackoffOptions backoff;                           // between restarts of the same child
    // Root supervisor only: called once (on the supervisor's strand) when the intensity was exceeded; the
    // supervisor is then `failed` with every child stopped. A nested supervisor escalates to its parent instead.
    std::function<void(const Error&)> on_failure;
    // Every lifecycle event, on the supervisor's strand. Exceptions are swallowed.
    std::function<void(const SupervisorEvent&)> on_event;
};

struct ChildInfo {
    std::string id;
    RestartType restart = RestartType::permanent;
    bool running = false;            // started and not exited
    bool restart_pending = false;    // waiting for its restart backoff
    int restarts = 0;
};

enum class SupervisorState : std::uint8_t { idle, running, failed, stopped };
std::string_view to_string(SupervisorState) noexcept;

class Supervisor {
public:
    explicit Supervisor(Runtime& runtime, SupervisorOptions options = {});
    ~Supervisor();  // stop()
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Starts the children in order. If one fails to start, the ones already started are stopped in reverse order
    // and its error is returned (Errc::invalid_config for a duplicate or empty id).
    Status start(std::vector<ChildSpec> children);
    // Adds and starts one more child (last in start order).
    Status start_child(ChildSpec spec);
    // Stops a child and keeps its spec (not restarted until restart_child). Errc::not_found if unknown.
    Status terminate_child(const std::string& id);
    // Starts a terminated child again.
    Status restart_child(const std::string& id);
    // Removes a terminated child's spec.
    Status delete_child(const std::string& id);
    std::vector<ChildInfo> which_children() const;
    // Stops every child in reverse start order. Idempotent. Called off the runtime's threads, it returns once the
    // client_child() clients it closed have finished closing (each bounded by its spec's shutdown timeout);
    // terminate_child and the destructor do the same.
    void stop();

    SupervisorState state() const noexcept;
    const std::string& name() const noexcept;

    // This supervisor as a child of another one (a subtree): the nested supervisor shares the parent's strand;
    // exceeding its intensity is an abnormal exit that the parent handles.
    static ChildSpec child_spec(std::string id, SupervisorOptions options, std::vector<ChildSpec> children,
                                RestartType restart = RestartType::permanent);

    struct Impl;

private:
    friend class SupervisorChild;
    Supervisor(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

// ---- stable client handles ---------------------------------------------------------------------------------------

enum class ChildStatus : std::uint8_t {
    starting,    // first start in progress
    running,     // a Client exists (connected, or reconnecting on its own)
    restarting,  // crashed; waiting for (or doing) the supervisor's restart
    failed,      // exceeded its own restart intensity (parked until a later retry), or ended with a permanent
                 // failure (is_permanent_failure: not restarted)
    stopped,     // terminated: stopped by the user, closed by the user, removed, or not restarted
};
std::string_view to_string(ChildStatus) noexcept;

namespace detail {
// The logical client behind a ClientHandle: stable across restarts. Internal; use ClientHandle.
struct ClientSlot {
    explicit ClientSlot(std::uint64_t id_) : id(id_) {}
    const std::uint64_t id;
    mutable std::mutex mutex;
    Client current;                                   // empty while not running
    ChildStatus status = ChildStatus::starting;
    int restarts = 0;
    std::vector<std::function<void(std::uint64_t)>> on_terminate;  // run once, when it becomes `stopped`

    Client client() const {
        std::lock_guard lock(mutex);
        return current;
    }
    // Marks the slot stopped, drops the client and runs the termination hooks (outside the lock).
    void terminate();
    static std::uint64_t next_id();
};
}  // namespace detail

// A stable handle to one supervised logical client: it keeps addressing the same client across supervisor
// restarts. Copyable; all methods thread-safe and non-blocking (except request_blocking).
class ClientHandle {
public:
    ClientHandle() = default;
    explicit ClientHandle(std::shared_ptr<detail::ClientSlot> slot) : slot_(std::move(slot)) {}

    bool valid() const noexcept { return slot_ != nullptr; }
    std::uint64_t id() const noexcept { return slot_ ? slot_->id : 0; }
    // The current Client, or an empty one (valid() false) while restarting, parked or stopped.
    Client client() const { return slot_ ? slot_->client() : Client(); }
    ChildStatus status() const;
    // The current client's state; `closed` when there is none and the child is stopped, `reconnecting` while the
    // supervisor restarts it, `disconnected` while parked.
    State state() const;
    int restarts() const;
    ClientMetrics metrics() const;  // of the current client (default metrics when none)

    // Forwarded to the current client. With none (restarting, parked, stopped) they fail with Errc::not_connected
    // and call `done` once with that error at once, on the caller's thread.
    Status send_text(std::string_view text, SendCallback done = {}) const;
    Status send_binary(std::string_view data, SendCallback done = {}) const;
    void request(std::string text, Client::ReplyCallback done, std::chrono::milliseconds timeout = {}) const;
    Result<std::string> request_blocking(std::string text, std::chrono::milliseconds timeout = {}) const;
    void send_message(std::string text, Client::ReplyCallback done) const;

    friend bool operator==(const ClientHandle& a, const ClientHandle& b) noexcept { return a.slot_ == b.slot_; }
    friend bool operator!=(const ClientHandle& a, const ClientHandle& b) noexcept { return !(a == b); }
    const std::shared_ptr<detail::ClientSlot>& slot() const noexcept { return slot_; }

private:
    std::shared_ptr<detail::ClientSlot> slot_;
};

// A Client as a supervised child: starting connects (asynchronously; an invalid config fails the start), giving up
// (retries exhausted) or a throwing handler is a crash, a close by the user is a normal exit. A client that ends
// with Errc::auth_failed or Errc::invalid_config is a permanent failure: not restarted, its handle reports `failed`. `handle`, when given,
// receives a stable handle that follows the child across restarts. The default restart type is transient, as the
// original's supervised clients.
ChildSpec client_child(std::string id, Config config, Handlers handlers = {}, ClientHandle* handle = nullptr,
                       RestartType restart = RestartType::transient, Runtime* runtime = nullptr);

}  // namespace zenws
