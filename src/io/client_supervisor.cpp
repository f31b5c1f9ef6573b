// client_supervisor.cpp — owns ClientSupervisor: launching client instances behind stable slots, crash detection
// (gave up / handler threw / failed restart), per-client restart intensity + backoff + parking, the lifecycle
// callbacks (on_connect after every connection, on_disconnect once after each), stop/list, and send_balanced
// (PoolRouter ranking over metrics snapshots, failover, pool telemetry).
#include "io/exception_error.hpp"
#include "zenws/client_supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <unordered_set>

#include "zenws/json_scan.hpp"
#include "zenws/runtime.hpp"

namespace zenws {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

using detail::exception_error;

// One logical client.
struct Entry {
    Entry(std::shared_ptr<detail::ClientSlot> s, Config c, ClientOptions o, const ClientSupervisorOptions& so,
          asio::strand<asio::io_context::executor_type>& strand)
        : slot(std::move(s)),
          config(std::move(c)),
          options(std::move(o)),
          intensity(so.max_restarts, so.max_time),
          delay(so.backoff),
          timer(strand) {}
    std::shared_ptr<detail::ClientSlot> slot;
    Config config;
    ClientOptions options;
    // guarded by Impl::mutex
    std::uint64_t generation = 0;  // of the current instance; bumped on stop so late events are ignored
    bool removed = false;
    bool first_outcome_done = false;
    std::function<void(Result<ClientHandle>)> start_done;
    RestartIntensity intensity;
    RestartDelay delay;
    asio::steady_timer timer;
};

// One Client instance of an Entry: pairs on_connect with on_disconnect.
// Holds what on_disconnect needs on its own, so it still runs after the child was removed (stop_client).
struct Instance {
    std::weak_ptr<Entry> entry;
    std::uint64_t generation = 0;
    std::atomic<bool> up{false};
    std::shared_ptr<detail::ClientSlot> slot;
    std::function<void(ClientHandle)> on_disconnect;
    std::shared_ptr<Observer> client_observer;
};

}  // namespace

struct ClientSupervisor::Impl : std::enable_shared_from_this<ClientSupervisor::Impl> {
    Impl(Runtime& rt, ClientSupervisorOptions o)
        : runtime(rt), strand(asio::make_strand(rt.context())), options(std::move(o)), router(options.scoring) {}

    Runtime& runtime;
    asio::strand<asio::io_context::executor_type> strand;
    ClientSupervisorOptions options;
    PoolRouter router;

    mutable std::mutex mutex;
    std::map<std::uint64_t, std::shared_ptr<Entry>> entries;  // by slot id = start order
    bool stopped = false;
    // Teardown (guarded by `mutex`). A client whose close is still in flight when the Runtime stops is never
    // released (its session and the client own each other until the close completes), so the destructor waits for
    // the clients this supervisor closed and for the instances whose start has not reported yet (it closes them).
    std::vector<Client> closing;
    int launching = 0;
    std::condition_variable launched_cv;
    std::chrono::milliseconds longest_close{0};  // the largest close_timeout among the children started

    // Closes `c` and remembers it until its close has completed.
    void close_client(Client c) {
        if (!c.valid()) return;
        c.close();
        std::vector<Client> settled;  // released outside the lock: it may be the last handle
        std::lock_guard lock(mutex);
        std::vector<Client> still;
        for (auto& k : closing) {
            State s = k.state();
            (s == State::closed || s == State::disconnected ? settled : still).push_back(std::move(k));
        }
        still.push_back(std::move(c));
        closing.swap(still);
    }

    // Destructor only, after stop_all(): waits (bounded) until every client it started is closed, so none is left
    // to a Runtime that stops under it. Not on the runtime's own threads (it would wait for itself), and not for a
    // caller-run io_context (nothing says it keeps running).
    void wait_for_teardown() {
        if (!runtime.owns_threads() || runtime.context().get_executor().running_in_this_thread()) return;
        std::unique_lock lock(mutex);
        auto budget = longest_close + std::chrono::milliseconds(500);
        launched_cv.wait_for(lock, budget, [this] { return launching == 0; });
        std::vector<Client> pending = std::move(closing);
        closing.clear();
        lock.unlock();
        auto deadline = Clock::now() + budget;
        for (auto& c : pending) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) break;
            c.close_and_wait(left);
        }
    }

    // ---- reporting --------------------------------------------------------------------------------------------
    template <class F>
    void observe(F&& f) {
        if (!options.observer) return;
        try {
            f(*options.observer);
        } catch (...) {
        }
    }
    void event(SupervisorEvent::Kind k, std::uint64_t id, Error e = {}, std::chrono::milliseconds delay = {},
               int restarts = 0) {
        if (!options.on_event) return;
        SupervisorEvent ev{k, std::to_string(id), {}, std::move(e), delay, restarts};
        try {
            options.on_event(ev);
        } catch (...) {
        }
    }
    void callback_failed(const std::shared_ptr<detail::ClientSlot>& slot, const std::shared_ptr<Observer>& client_obs,
                         const Error& e) {
        if (client_obs) {
            try {
                client_obs->error(e);
            } catch (...) {
            }
        }
        observe([&](PoolObserver& o) { o.callback_error(slot->id, e); });
        event(SupervisorEvent::Kind::callback_error, slot->id, e);
    }
    void user_callback(const std::shared_ptr<detail::ClientSlot>& slot, const std::shared_ptr<Observer>& client_obs,
                       const std::function<void(ClientHandle)>& cb, const char* what) {
        if (!cb) return;
        try {
            cb(ClientHandle(slot));
        } catch (...) {
            callback_failed(slot, client_obs, exception_error(what));
        }
    }
    void user_callback(Entry& entry, const std::function<void(ClientHandle)>& cb, const char* what) {
        user_callback(entry.slot, entry.options.handlers.observer, cb, what);
    }

    // ---- launching ----------------------------------------------------------------------------------------------
    void launch(const std::shared_ptr<Entry>& entry) {
        auto inst = std::make_shared<Instance>();
        inst->entry = entry;
        inst->slot = entry->slot;
        inst->on_disconnect = entry->options.on_disconnect;
        inst->client_observer = entry->options.handlers.observer;
        {
            std::lock_guard lock(mutex);
            if (entry->removed || stopped) return;
            inst->generation = ++entry->generation;
            ++launching;
        }
        Handlers h = entry->options.handlers;
        auto user_on_state = std::move(h.on_state);
        std::weak_ptr<Impl> weak = weak_from_this();
        h.on_state = [weak, inst, user_on_state](State from, State to, const Error& cause) {
            if (auto self = weak.lock()) self->client_state(*inst, from, to, cause);
            if (user_on_state) user_on_state(from, to, cause);
        };
        Client::start(runtime, entry->config, std::move(h), [weak, inst](Result<Client> r) {
            auto self = weak.lock();
            if (!self) {
                if (r.ok()) r.value().close();
                return;
            }
            struct Launched {  // also when a callback run by started() throws
                Impl& impl;
                ~Launched() {
                    {
                        std::lock_guard lock(impl.mutex);
                        --impl.launching;
                    }
                    impl.launched_cv.notify_all();
                }
            } launched{*self};
            self->started(inst, std::move(r));
        });
    }

    // The first outcome of an instance (client's I/O thread).
    void started(const std::shared_ptr<Instance>& inst, Result<Client> r) {
        auto entry = inst->entry.lock();
        if (!entry) {
            if (r.ok()) close_client(r.value());
            return;
        }
        std::function<void(Result<ClientHandle>)> done;
        bool first;
        int restarts = 0;
        {
            std::unique_lock lock(mutex);
            bool current = !entry->removed && entry->generation == inst->generation;
            if (!current) {
                lock.unlock();
                if (r.ok()) close_client(r.value());  // stopped meanwhile
                return;
            }
            first = !entry->first_outcome_done;
            entry->first_outcome_done = true;
            if (r.ok()) {
                std::lock_guard slot_lock(entry->slot->mutex);
                entry->slot->current = r.value();
                entry->slot->status = ChildStatus::running;
                restarts = entry->slot->restarts;
                entry->delay.started(Clock::now());
                done = std::move(entry->start_done);
                entry->start_done = nullptr;
            } else if (first && entry->options.await_connection) {
                done = std::move(entry->start_done);
                entry->start_done = nullptr;
            }
        }
        if (r.ok()) {
            observe([&](PoolObserver& o) { o.child_started(entry->slot->id, restarts); });
            event(SupervisorEvent::Kind::child_started, entry->slot->id, {}, {}, restarts);
            inst->up = true;
            user_callback(*entry, entry->options.on_connect, "on_connect");
            if (done) done(ClientHandle(entry->slot));
            return;
        }
        const Error& e = r.error();
        if (first && entry->options.await_connection) {
            // The original's contract: a client that cannot connect at first is not kept.
            remove(entry, false);
            if (done) done(e);
            return;
        }
        if (e.code == Errc::closed_by_user) return exited_normally(entry, inst->generation);
        crashed(entry, inst->generation, e);
    }

    // Client state transitions (client's I/O thread).
    void client_state(Instance& inst, State from, State to, const Error& cause) {
        if (from == State::connected && to != State::connected && inst.up.exchange(false)) {
            user_callback(inst.slot, inst.client_observer, inst.on_disconnect, "on_disconnect");
        }
        auto entry = inst.entry.lock();
        if (!entry) return;
        bool current;
        {
            std::lock_guard lock(mutex);
            current = !entry->removed && entry->generation == inst.generation;
            // Every connection and every loss feeds the restart backoff: only a connection that stayed up for
            // reset_after lets the next crash restart at once (a flapping child keeps backing off).
            if (current && to == State::connected && from != State::connected) entry->delay.started(Clock::now());
            if (current && from == State::connected && to != State::connected) {
                entry->delay.disconnected(Clock::now());
            }
        }
        if (!current) return;
        if (to == State::connected && from == State::reconnecting) {  // internal reconnect
            inst.up = true;
            user_callback(*entry, entry->options.on_connect, "on_connect");
        }
        if (from == State::connecting) return;  // the first connection's outcome goes through started()
        if (to == State::disconnected) crashed(entry, inst.generation, cause);
        if (to == State::closed) exited_normally(entry, inst.generation);
    }

    void exited_normally(const std::shared_ptr<Entry>& entry, std::uint64_t generation) {
        if (entry->options.restart == RestartType::permanent) {
            return crashed(entry, generation, Error(Errc::closed_by_user, "closed by the user (permanent child)"));
        }
        {
            std::lock_guard lock(mutex);
            if (entry->removed || entry->generation != generation) return;
        }
        remove(entry, false);
    }

    // The flap guard's floors outlive the Client instance that gave up: the next instance's first attempt keeps
    // min_attempt_interval after the last one, and waits out a Retry-After the venue sent (capped).
    // A handler that threw says nothing about the venue: that restart stays immediate.
    static std::chrono::milliseconds restart_floor(const Config& config, const Error& cause) {
        if (cause.code == Errc::handler_exception) return std::chrono::milliseconds(0);
        std::chrono::milliseconds floor = config.min_attempt_interval;
        if (cause.retry_after && *cause.retry_after > 0) {
            auto asked = std::chrono::milliseconds(std::chrono::seconds(std::min(*cause.retry_after, 86'400)));
            floor = std::max(floor, std::min(asked, config.max_retry_after));
        }
        return floor;
    }

    void crashed(const std::shared_ptr<Entry>& entry, std::uint64_t generation, const Error& cause) {
        auto id = entry->slot->id;
        std::chrono::milliseconds wait{0};
        bool park = false, drop = false;
        // Bad credentials (Deribit 13004: fatal, stop) or an invalid config: no restart can fix it. Parked for good
        // (no retry timer) or removed (failed_retry_after 0); not counted toward the intensity.
        const bool permanent = is_permanent_failure(cause);
        int restarts = 0;
        {
            std::lock_guard lock(mutex);
            if (entry->removed || entry->generation != generation || stopped) return;
            auto now = Clock::now();
            {
                std::lock_guard slot_lock(entry->slot->mutex);
                entry->slot->current = Client();
                entry->slot->status = ChildStatus::restarting;
                restarts = entry->slot->restarts;
            }
            if (entry->options.restart == RestartType::temporary) {
                drop = true;
            } else if (permanent) {
                if (options.failed_retry_after.count() <= 0) {
                    drop = true;
                } else {
                    park = true;
                    entry->timer.cancel();
                    std::lock_guard slot_lock(entry->slot->mutex);
                    entry->slot->status = ChildStatus::failed;
                }
            } else if (!entry->intensity.add(now)) {
                if (options.failed_retry_after.count() <= 0) {
                    drop = true;
                } else {
                    park = true;
                    wait = options.failed_retry_after;
                    entry->intensity.reset();
                    entry->delay.reset();
                    std::lock_guard slot_lock(entry->slot->mutex);
                    entry->slot->status = ChildStatus::failed;
                }
            } else {
                wait = std::max(entry->delay.crashed(now), restart_floor(entry->config, cause));
            }
            if (!drop && !(park && permanent)) schedule(entry, wait);
        }
        observe([&](PoolObserver& o) { o.child_crashed(id, cause); });
        SupervisorEvent ev{SupervisorEvent::Kind::child_exited, std::to_string(id), ExitReason::abnormal(cause), cause,
                           {}, restarts};
        if (options.on_event) {
            try {
                options.on_event(ev);
            } catch (...) {
            }
        }
        if (permanent && entry->options.restart != RestartType::temporary) {
            // retry_after 0: no automatic retry (parked for good, or removed below).
            observe([&](PoolObserver& o) { o.child_failed(id, cause, std::chrono::milliseconds(0)); });
            event(SupervisorEvent::Kind::permanent_failure, id, cause, {}, restarts);
        } else if (drop || park) {
            Error e(Errc::retries_exhausted, "client " + std::to_string(id) + " exceeded its restart intensity (" +
                                                 std::to_string(options.max_restarts) + " in " +
                                                 std::to_string(options.max_time.count()) + " ms): " + cause.message);
            if (entry->options.restart == RestartType::temporary) e = cause;
            observe([&](PoolObserver& o) { o.child_failed(id, e, park ? wait : std::chrono::milliseconds(0)); });
            event(SupervisorEvent::Kind::intensity_exceeded, id, e, wait);
        }
        if (drop) {
            remove(entry, false);
            return;
        }
        if (!park) {
            observe([&](PoolObserver& o) { o.restart_scheduled(id, wait); });
            event(SupervisorEvent::Kind::restart_scheduled, id, cause, wait, restarts);
        }
    }

    // Under `mutex`.
    void schedule(const std::shared_ptr<Entry>& entry, std::chrono::milliseconds wait) {
        std::weak_ptr<Impl> weak = weak_from_this();
        std::weak_ptr<Entry> we = entry;
        std::uint64_t generation = entry->generation;
        auto restart = [weak, we, generation] {
            auto self = weak.lock();
            auto e = we.lock();
            if (!self || !e) return;
            {
                std::lock_guard lock(self->mutex);
                if (e->removed || e->generation != generation || self->stopped) return;
                std::lock_guard slot_lock(e->slot->mutex);
                ++e->slot->restarts;
                e->slot->status = ChildStatus::restarting;
            }
            self->launch(e);
        };
        if (wait.count() <= 0) {
            asio::post(strand, std::move(restart));
            return;
        }
        entry->timer.expires_after(wait);
        entry->timer.async_wait([restart = std::move(restart)](const boost::system::error_code& ec) {
            if (!ec) restart();
        });
    }

    // Removes the child for good: no restart, leaves its groups, the client is closed. `by_user` only affects events.
    void remove(const std::shared_ptr<Entry>& entry, bool by_user) {
        Client c;
        std::function<void(Result<ClientHandle>)> done;
        int restarts = 0;
        {
            std::lock_guard lock(mutex);
            if (entry->removed) return;
            entry->removed = true;
            ++entry->generation;
            entry->timer.cancel();
            entries.erase(entry->slot->id);
            done = std::move(entry->start_done);
            entry->start_done = nullptr;
            std::lock_guard slot_lock(entry->slot->mutex);
            c = entry->slot->current;
            restarts = entry->slot->restarts;
        }
        router.forget(entry->slot->id);
        close_client(std::move(c));
        entry->slot->terminate();
        observe([&](PoolObserver& o) { o.child_removed(entry->slot->id); });
        SupervisorEvent ev{SupervisorEvent::Kind::child_stopped, std::to_string(entry->slot->id),
                           by_user ? ExitReason::shutdown() : ExitReason::normal(), {}, {}, restarts};
        if (options.on_event) {
            try {
                options.on_event(ev);
            } catch (...) {
            }
        }
        if (done) done(Error(Errc::closed_by_user, "client stopped before its first connection"));
    }

    void start_async(Config config, ClientOptions opts, std::function<void(Result<ClientHandle>)> done) {
        if (auto st = config.validate(); !st) {
            if (done) done(st.error());
            return;
        }
        auto slot = std::make_shared<detail::ClientSlot>(detail::ClientSlot::next_id());
        bool await = opts.await_connection;
        auto entry = std::make_shared<Entry>(slot, std::move(config), std::move(opts), options, strand);
        {
            std::lock_guard lock(mutex);
            if (stopped) {
                if (done) done(Error(Errc::not_connected, "client supervisor stopped"));
                return;
            }
            if (await) entry->start_done = std::move(done);
            entries.emplace(slot->id, entry);
            longest_close = std::max(longest_close, entry->config.close_timeout);
        }
        launch(entry);
        if (!await && done) done(ClientHandle(slot));
    }

    // ---- send_balanced --------------------------------------------------------------------------------------------
    struct Balanced : std::enable_shared_from_this<Balanced> {
        std::shared_ptr<Impl> owner;
        std::string message;
        bool is_request = false;
        int max_attempts = 3;
        std::chrono::milliseconds timeout{0};
        std::vector<ClientHandle> handles;
        std::unordered_set<std::uint64_t> tried;
        int attempt = 0;
        Error last_error;
        std::function<void(Result<std::string>)> done;

        void finish(Result<std::string> r) {
            auto d = std::move(done);
            done = nullptr;
            if (d) d(std::move(r));
        }

        void next() {
            if (attempt >= max_attempts) return finish(last_error);
            std::vector<PoolCandidate> candidates;
            std::vector<const ClientHandle*> by_index;
            for (const auto& h : handles) {
                if (!h.valid() || tried.count(h.id())) continue;
                Client c = h.client();
                if (!c.valid()) continue;
                ClientMetrics m = c.metrics();  // snapshot; never waits for the connection
                PoolCandidate pc;
                pc.id = h.id();
                pc.health.connected = m.state == State::connected;
                pc.health.pending_requests = m.pending_requests;
                pc.health.p99_request_us = m.request_rtt.p99;
                pc.health.heartbeat_failures = m.heartbeat.consecutive_failures;
                candidates.push_back(pc);
                by_index.push_back(&h);
            }
            auto ranked = owner->router.rank(candidates, Clock::now());
            if (ranked.empty()) {
                if (attempt == 0) {
                    owner->observe([&](PoolObserver& o) { o.no_connections(handles.size()); });
                    return finish(Error(Errc::no_connections, "no connected client in the pool (" +
                                                                  std::to_string(handles.size()) + " discovered)"));
                }
                return finish(last_error);
            }
            const auto& pick = ranked.front();
            ClientHandle handle = *by_index[pick.index];
            ++attempt;
            tried.insert(handle.id());
            owner->observe([&](PoolObserver& o) { o.route(handle.id(), pick.score, ranked.size()); });
            Client c = handle.client();
            if (!c.valid()) return failed(handle.id(), Error(Errc::not_connected, "client is restarting"));
            auto self = shared_from_this();
            std::uint64_t id = handle.id();
            if (is_request) {
                c.request(message, [self, id](Result<std::string> r) {
                    if (r.ok()) {
                        self->owner->router.record_success(id);
                        return self->finish(std::move(r));
                    }
                    if (r.error().code == Errc::rpc_error) return self->finish(std::move(r));  // the venue answered
                    self->failed(id, r.error());
                }, timeout);
                return;
            }
            auto once = std::make_shared<std::atomic<bool>>(false);
            Status st = c.send_text(message, [self, id, once](const Error& e) {
                if (once->exchange(true)) return;
                if (!e) {
                    self->owner->router.record_success(id);
                    return self->finish(std::string());
                }
                self->failed(id, e);
            });
            if (!st && !once->exchange(true)) failed(id, st.error());
        }

        void failed(std::uint64_t id, const Error& e) {
            last_error = e;
            owner->router.record_error(id, Clock::now());
            owner->observe([&](PoolObserver& o) { o.failover(attempt, id, e); });
            next();
        }
    };

    void send_balanced(std::string message, BalancedOptions opts, std::function<void(Result<std::string>)> done) {
        auto op = std::make_shared<Balanced>();
        op->owner = shared_from_this();
        op->max_attempts = std::max(1, opts.max_attempts);
        op->timeout = opts.timeout;
        op->done = std::move(done);
        auto env = scan_json(message);
        op->is_request = env.valid && static_cast<bool>(env.id) && !env.has_result && !env.has_error;
        op->message = std::move(message);
        if (opts.client_discovery) {
            try {
                op->handles = opts.client_discovery();
            } catch (...) {
                Error e = exception_error("client_discovery");
                observe([&](PoolObserver& o) { o.callback_error(0, e); });
                return op->finish(e);
            }
        } else {
            op->handles = list();
        }
        op->next();
    }

    std::vector<ClientHandle> list() const {
        std::lock_guard lock(mutex);
        std::vector<ClientHandle> out;
        out.reserve(entries.size());
        for (auto& [id, e] : entries) out.emplace_back(e->slot);
        return out;
    }

    void stop_all() {
        std::vector<std::shared_ptr<Entry>> all;
        {
            std::lock_guard lock(mutex);
            for (auto& [id, e] : entries) all.push_back(e);
        }
        for (auto it = all.rbegin(); it != all.rend(); ++it) remove(*it, true);
    }
};

ClientSupervisor::ClientSupervisor(Runtime& runtime, ClientSupervisorOptions options)
    : impl_(std::make_shared<Impl>(runtime, std::move(options))) {}

ClientSupervisor::~ClientSupervisor() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopped = true;
    }
    impl_->stop_all();
    impl_->wait_for_teardown();
}

Result<ClientHandle> ClientSupervisor::start_client(std::string url, ClientOptions options) {
    Config config;
    config.url = std::move(url);
    return start_client(std::move(config), std::move(options));
}

Result<ClientHandle> ClientSupervisor::start_client(Config config, ClientOptions options) {
    auto promise = std::make_shared<std::promise<Result<ClientHandle>>>();
    auto future = promise->get_future();
    start_client_async(std::move(config), std::move(options),
                       [promise](Result<ClientHandle> r) { promise->set_value(std::move(r)); });
    return future.get();
}

void ClientSupervisor::start_client_async(Config config, ClientOptions options,
                                          std::function<void(Result<ClientHandle>)> done) {
    impl_->start_async(std::move(config), std::move(options), std::move(done));
}

Status ClientSupervisor::stop_client(const ClientHandle& handle) {
    std::shared_ptr<Entry> entry;
    {
        std::lock_guard lock(impl_->mutex);
        auto it = impl_->entries.find(handle.id());
        if (!handle.valid() || it == impl_->entries.end() || it->second->slot != handle.slot()) {
            return Error(Errc::not_found, "client " + std::to_string(handle.id()) + " is not supervised here");
        }
        entry = it->second;
    }
    impl_->remove(entry, true);
    return {};
}

std::vector<ClientHandle> ClientSupervisor::list_clients() const { return impl_->list(); }

std::size_t ClientSupervisor::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->entries.size();
}

void ClientSupervisor::stop_all() { impl_->stop_all(); }

Result<std::string> ClientSupervisor::send_balanced(std::string message, BalancedOptions options) {
    auto promise = std::make_shared<std::promise<Result<std::string>>>();
    auto future = promise->get_future();
    send_balanced_async(std::move(message), std::move(options),
                        [promise](Result<std::string> r) { promise->set_value(std::move(r)); });
    return future.get();
}

void ClientSupervisor::send_balanced_async(std::string message, BalancedOptions options,
                                           std::function<void(Result<std::string>)> done) {
    impl_->send_balanced(std::move(message), std::move(options), std::move(done));
}

PoolRouter& ClientSupervisor::router() noexcept { return impl_->router; }

}  // namespace zenws
