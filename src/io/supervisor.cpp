// supervisor.cpp — owns the generic Supervisor (child lifecycle, strategies, restart intensity and escalation,
// restart backoff timers) on an Asio strand, nested supervisors (SupervisorChild), the stable ClientHandle and
// ClientChild (a zenws::Client as a supervised child, client_child()).
#include "io/exception_error.hpp"
#include "zenws/supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <future>

#include "zenws/runtime.hpp"

namespace zenws {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using StrandT = asio::strand<asio::io_context::executor_type>;

std::string_view to_string(ExitReason::Kind k) noexcept {
    switch (k) {
        case ExitReason::Kind::normal: return "normal";
        case ExitReason::Kind::shutdown: return "shutdown";
        case ExitReason::Kind::abnormal: return "abnormal";
    }
    return "unknown";
}

std::string_view to_string(RestartType t) noexcept {
    switch (t) {
        case RestartType::permanent: return "permanent";
        case RestartType::transient: return "transient";
        case RestartType::temporary: return "temporary";
    }
    return "unknown";
}

std::string_view to_string(Strategy s) noexcept {
    switch (s) {
        case Strategy::one_for_one: return "one_for_one";
        case Strategy::one_for_all: return "one_for_all";
        case Strategy::rest_for_one: return "rest_for_one";
    }
    return "unknown";
}

std::string_view to_string(SupervisorEvent::Kind k) noexcept {
    using K = SupervisorEvent::Kind;
    switch (k) {
        case K::child_started: return "child_started";
        case K::child_exited: return "child_exited";
        case K::child_start_failed: return "child_start_failed";
        case K::restart_scheduled: return "restart_scheduled";
        case K::child_stopped: return "child_stopped";
        case K::intensity_exceeded: return "intensity_exceeded";
        case K::callback_error: return "callback_error";
        case K::permanent_failure: return "permanent_failure";
    }
    return "unknown";
}

bool is_permanent_failure(const Error& e) noexcept {
    return e.code == Errc::auth_failed || e.code == Errc::invalid_config;
}

std::string_view to_string(SupervisorState s) noexcept {
    switch (s) {
        case SupervisorState::idle: return "idle";
        case SupervisorState::running: return "running";
        case SupervisorState::failed: return "failed";
        case SupervisorState::stopped: return "stopped";
    }
    return "unknown";
}

std::string_view to_string(ChildStatus s) noexcept {
    switch (s) {
        case ChildStatus::starting: return "starting";
        case ChildStatus::running: return "running";
        case ChildStatus::restarting: return "restarting";
        case ChildStatus::failed: return "failed";
        case ChildStatus::stopped: return "stopped";
    }
    return "unknown";
}

namespace {

using detail::exception_error;

}  // namespace

// A client child closed by Child::stop on a runtime thread, where it cannot wait for the close handshake. The public
// blocking methods that stop children (stop, terminate_child, the destructor) wait for these once they are back on
// the caller's thread: a Runtime destroyed while a close is still in flight would abandon the client (its session
// and the client keep each other alive until the close completes), so every client is released before they return.
namespace {
struct PendingClose {
    Client client;
    Runtime* runtime = nullptr;
    std::chrono::milliseconds timeout{0};
    bool settled() const {
        State s = client.state();
        return s == State::closed || s == State::disconnected;
    }
};

// Set by Supervisor::Impl::stop_rec around Child::stop (the outermost supervisor's list, so a nested supervisor's
// clients are waited for by the root's stop).
thread_local std::vector<PendingClose>* current_pending_closes = nullptr;

void wait_for_closes(std::vector<PendingClose>& pending) {
    for (auto& p : pending) {
        if (p.settled()) continue;
        if (p.runtime->context().get_executor().running_in_this_thread()) continue;  // would wait for itself
        p.client.close_and_wait(p.timeout);
    }
    pending.clear();
}
}  // namespace

// ---- Supervisor::Impl ----------------------------------------------------------------------------------------------

struct Supervisor::Impl : std::enable_shared_from_this<Supervisor::Impl> {
    struct ChildRec {
        ChildRec(ChildSpec s, const RestartBackoffOptions& b) : spec(std::move(s)), delay(b) {}
        ChildSpec spec;
        std::shared_ptr<Child> instance;
        bool running = false;
        bool wanted = true;          // should run (false after terminate_child or a final exit)
        bool restart_pending = false;
        std::uint64_t generation = 0;
        int restarts = 0;
        RestartDelay delay;
    };

    Impl(Runtime& rt, SupervisorOptions opts, std::shared_ptr<StrandT> s)
        : runtime(rt),
          strand(s ? std::move(s) : std::make_shared<StrandT>(asio::make_strand(rt.context()))),
          options(std::move(opts)),
          intensity(options.max_restarts, options.max_time) {}

    // Runs `f` on the strand and waits for its result (inline when already on the strand).
    template <class F>
    auto run(F&& f) -> decltype(f()) {
        if (strand->running_in_this_thread()) return f();
        using R = decltype(f());
        std::packaged_task<R()> task(std::forward<F>(f));
        auto fut = task.get_future();
        asio::post(*strand, [&task] { task(); });
        return fut.get();
    }

    void emit(SupervisorEvent ev) {
        if (!options.on_event) return;
        try {
            options.on_event(ev);
        } catch (...) {
        }
    }
    void emit(SupervisorEvent::Kind k, const std::string& id, Error e = {}) {
        SupervisorEvent ev{k, id, {}, std::move(e), {}, 0};
        emit(std::move(ev));
    }

    ChildRec* find(const std::string& id) {
        for (auto& c : children) {
            if (c->spec.id == id) return c.get();
        }
        return nullptr;
    }
    std::size_t index_of(const ChildRec* rec) const {
        for (std::size_t i = 0; i < children.size(); ++i) {
            if (children[i].get() == rec) return i;
        }
        return children.size();
    }
    void remove(const ChildRec* rec) {
        children.erase(std::remove_if(children.begin(), children.end(), [&](auto& c) { return c.get() == rec; }),
                       children.end());
    }

    // ---- starting and stopping (strand) ---------------------------------------------------------------------
    Status start_rec(ChildRec& rec);  // defined below (uses the thread-local parent pointer)

    void stop_rec(ChildRec& rec) {
        rec.restart_pending = false;
        if (!rec.running) return;
        ++rec.generation;  // a late exit report of this instance is ignored
        rec.running = false;
        auto child = std::move(rec.instance);
        if (child) {
            struct PendingScope {
                std::vector<PendingClose>* saved = current_pending_closes;
                explicit PendingScope(std::vector<PendingClose>* mine) {
                    if (!saved) current_pending_closes = mine;
                }
                ~PendingScope() { current_pending_closes = saved; }
            } scope(&pending_closes);
            try {
                child->stop(rec.spec.shutdown);
            } catch (...) {
                emit(SupervisorEvent::Kind::callback_error, rec.spec.id, exception_error("Child::stop"));
            }
        }
        SupervisorEvent ev{SupervisorEvent::Kind::child_stopped, rec.spec.id, ExitReason::shutdown(), {}, {}, 0};
        emit(std::move(ev));
    }

    void stop_all_reverse() {
        for (auto it = children.rbegin(); it != children.rend(); ++it) stop_rec(**it);
    }

    Status add_and_start(ChildSpec spec) {
        if (spec.id.empty()) return config_error("id", "child id must not be empty");
        if (find(spec.id)) return config_error("id", "duplicate child id \"" + spec.id + "\"");
        if (!spec.start) return config_error("start", "child \"" + spec.id + "\" has no start function");
        children.push_back(std::make_unique<ChildRec>(std::move(spec), options.backoff));
        ChildRec* rec = children.back().get();
        Status st = start_rec(*rec);
        if (!st) remove(rec);
        return st;
    }

    Status start_all(std::vector<ChildSpec> specs) {
        if (state == SupervisorState::running) return Error(Errc::invalid_config, "supervisor already started");
        state = SupervisorState::running;
        std::size_t first = children.size();
        for (auto& spec : specs) {
            Status st = add_and_start(std::move(spec));
            if (!st) {
                for (std::size_t i = children.size(); i-- > first;) stop_rec(*children[i]);
                children.erase(children.begin() + static_cast<std::ptrdiff_t>(first), children.end());
                state = SupervisorState::idle;
                return st;
            }
        }
        return {};
    }

    // ---- exits and restarts (strand) -------------------------------------------------------------------------
    void on_exit(const std::string& id, std::uint64_t generation, ExitReason reason) {
        if (state != SupervisorState::running) return;
        ChildRec* rec = find(id);
        if (!rec || rec->generation != generation || !rec->running) return;  // stale: stopped or restarted since
        rec->running = false;
        rec->instance.reset();
        SupervisorEvent ev{SupervisorEvent::Kind::child_exited, id, reason, reason.error, {}, rec->restarts};
        emit(std::move(ev));
        bool restart = rec->spec.restart == RestartType::permanent ||
                       (rec->spec.restart == RestartType::transient && reason.is_abnormal());
        if (rec->spec.restart == RestartType::temporary) {
            remove(rec);
            return;
        }
        if (!restart) {
            rec->wanted = false;
            return;
        }
        if (reason.is_abnormal() && is_permanent_failure(reason.error)) return permanent_failure(*rec, reason.error);
        Error cause = reason.is_abnormal() ? reason.error : Error(Errc::closed_by_user, "exited normally");
        handle_crash(*rec, cause);
    }

    // The child ended with an error a restart cannot fix (bad credentials, invalid config): it is not restarted and
    // does not count toward the intensity; its spec stays, terminated (restart_child starts it again).
    void permanent_failure(ChildRec& rec, const Error& cause) {
        rec.wanted = false;
        rec.restart_pending = false;
        SupervisorEvent ev{SupervisorEvent::Kind::permanent_failure, rec.spec.id, ExitReason::abnormal(cause), cause,
                           {}, rec.restarts};
        emit(std::move(ev));
    }

    void handle_crash(ChildRec& rec, const Error& cause) {
        auto now = Clock::now();
        if (!intensity.add(now)) {
            fail(rec.spec.id, cause);
            return;
        }
        auto delay = rec.delay.crashed(now);
        std::vector<ChildRec*> group;
        std::size_t at = index_of(&rec);
        switch (options.strategy) {
            case Strategy::one_for_one: group.push_back(&rec); break;
            case Strategy::one_for_all:
                for (auto& c : children) group.push_back(c.get());
                break;
            case Strategy::rest_for_one:
                for (std::size_t i = at; i < children.size(); ++i) group.push_back(children[i].get());
                break;
        }
        // Stop the running siblings of the group in reverse start order; temporary ones are not restarted.
        for (auto it = group.rbegin(); it != group.rend(); ++it) {
            if (*it != &rec && (*it)->running) stop_rec(**it);
        }
        std::vector<std::string> ids;
        std::vector<const ChildRec*> temporaries;
        for (auto* c : group) {
            if (c != &rec && c->spec.restart == RestartType::temporary) {
                temporaries.push_back(c);
                continue;
            }
            if (c == &rec || c->wanted) {
                c->restart_pending = true;
                ids.push_back(c->spec.id);
            }
        }
        for (auto* t : temporaries) remove(t);
        SupervisorEvent ev{SupervisorEvent::Kind::restart_scheduled, rec.spec.id, {}, cause, delay, rec.restarts};
        emit(std::move(ev));
        schedule_restart(std::move(ids), delay);
    }

    void schedule_restart(std::vector<std::string> ids, std::chrono::milliseconds delay) {
        auto self = shared_from_this();
        std::uint64_t e = epoch;
        if (delay.count() <= 0) {
            asio::post(*strand, [self, ids = std::move(ids), e] {
                if (e == self->epoch) self->do_restart(ids);
            });
            return;
        }
        auto timer = std::make_shared<asio::steady_timer>(*strand, delay);
        timers.push_back(timer);
        timer->async_wait([self, timer, ids = std::move(ids), e](const boost::system::error_code& ec) {
            auto& ts = self->timers;
            ts.erase(std::remove(ts.begin(), ts.end(), timer), ts.end());
            if (ec || e != self->epoch) return;
            self->do_restart(ids);
        });
    }

    void do_restart(const std::vector<std::string>& ids) {
        if (state != SupervisorState::running) return;
        for (const auto& id : ids) {
            ChildRec* rec = find(id);
            if (!rec || !rec->restart_pending) continue;  // terminated or deleted meanwhile
            rec->restart_pending = false;
            if (rec->running || !rec->wanted) continue;
            ++rec->restarts;
            Status st = start_rec(*rec);
            if (!st) {
                // A failed restart is a crash of its own: the strategy runs again (and counts toward intensity),
                // unless no restart can fix it.
                if (is_permanent_failure(st.error())) {
                    permanent_failure(*rec, st.error());
                    continue;
                }
                handle_crash(*rec, st.error());
                return;
            }
        }
    }

    void cancel_timers() {
        ++epoch;
        for (auto& t : timers) t->cancel();
        timers.clear();
        for (auto& c : children) c->restart_pending = false;
    }

    void fail(const std::string& id, const Error& cause) {
        Error e(Errc::retries_exhausted, "supervisor \"" + options.name + "\": restart intensity exceeded (more than " +
                                             std::to_string(options.max_restarts) + " restarts in " +
                                             std::to_string(options.max_time.count()) + " ms); last crash of \"" +
                                             id + "\": " + cause.message);
        cancel_timers();
        stop_all_reverse();
        state = SupervisorState::failed;
        emit(SupervisorEvent::Kind::intensity_exceeded, id, e);
        if (escalate) {
            auto up = std::move(escalate);
            escalate = nullptr;
            up(ExitReason::abnormal(e));
        } else if (options.on_failure) {
            try {
                options.on_failure(e);
            } catch (...) {
                emit(SupervisorEvent::Kind::callback_error, id, exception_error("on_failure"));
            }
        }
    }

    void stop() {
        if (state == SupervisorState::stopped) return;
        cancel_timers();
        stop_all_reverse();
        if (state != SupervisorState::failed) state = SupervisorState::stopped;
        escalate = nullptr;
    }

    Runtime& runtime;
    std::shared_ptr<StrandT> strand;
    SupervisorOptions options;
    RestartIntensity intensity;
    std::atomic<SupervisorState> state{SupervisorState::idle};
    // strand-only
    std::vector<std::unique_ptr<ChildRec>> children;
    std::vector<std::shared_ptr<asio::steady_timer>> timers;
    std::uint64_t epoch = 0;
    ExitCallback escalate;  // nested: the parent's exit callback
    std::vector<PendingClose> pending_closes;  // strand-only; see PendingClose

    // Strand: hands the closes still in flight to a caller that will wait for them (outside the strand).
    std::vector<PendingClose> take_pending_closes() {
        std::vector<PendingClose> out;
        out.swap(pending_closes);
        out.erase(std::remove_if(out.begin(), out.end(), [](const PendingClose& p) { return p.settled(); }),
                  out.end());
        return out;
    }
};

namespace {
// The supervisor currently starting a child on this thread: lets a nested SupervisorChild share its runtime/strand.
thread_local Supervisor::Impl* current_parent = nullptr;

struct ParentScope {
    explicit ParentScope(Supervisor::Impl* p) : saved(current_parent) { current_parent = p; }
    ~ParentScope() { current_parent = saved; }
    Supervisor::Impl* saved;
};
}  // namespace

Status Supervisor::Impl::start_rec(ChildRec& rec) {
    ParentScope scope(this);
    std::shared_ptr<Child> child;
    Status st;
    try {
        child = rec.spec.start();
        if (!child) st = Error(Errc::handler_exception, "start function of \"" + rec.spec.id + "\" made no child");
    } catch (...) {
        st = exception_error("child start function");
    }
    std::uint64_t generation = ++rec.generation;
    if (st) {
        std::weak_ptr<Impl> weak = weak_from_this();
        auto s = strand;
        std::string id = rec.spec.id;
        ExitCallback exited = [weak, s, id, generation](ExitReason reason) {
            auto self = weak.lock();
            if (!self) return;
            asio::post(*s, [self, id, generation, reason = std::move(reason)]() mutable {
                self->on_exit(id, generation, std::move(reason));
            });
        };
        try {
            st = child->start(std::move(exited));
        } catch (...) {
            st = exception_error("Child::start");
        }
    }
    if (!st) {
        SupervisorEvent ev{SupervisorEvent::Kind::child_start_failed, rec.spec.id, ExitReason::abnormal(st.error()),
                           st.error(), {}, rec.restarts};
        emit(std::move(ev));
        return st;
    }
    rec.instance = std::move(child);
    rec.running = true;
    rec.wanted = true;
    rec.delay.started(Clock::now());
    SupervisorEvent ev{SupervisorEvent::Kind::child_started, rec.spec.id, {}, {}, {}, rec.restarts};
    emit(std::move(ev));
    return {};
}

// ---- Supervisor ----------------------------------------------------------------------------------------------------

Supervisor::Supervisor(Runtime& runtime, SupervisorOptions options)
    : impl_(std::make_shared<Impl>(runtime, std::move(options), nullptr)) {}

Supervisor::Supervisor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Supervisor::~Supervisor() {
    if (impl_) stop();
}

Status Supervisor::start(std::vector<ChildSpec> children) {
    return impl_->run([&]() -> Status { return impl_->start_all(std::move(children)); });
}

Status Supervisor::start_child(ChildSpec spec) {
    return impl_->run([&]() -> Status {
        if (impl_->state != SupervisorState::running) {
            return Error(Errc::not_connected, "supervisor is " + std::string(to_string(impl_->state.load())));
        }
        return impl_->add_and_start(std::move(spec));
    });
}

Status Supervisor::terminate_child(const std::string& id) {
    std::vector<PendingClose> pending;
    Status st = impl_->run([&]() -> Status {
        auto* rec = impl_->find(id);
        if (!rec) return Error(Errc::not_found, "no child \"" + id + "\"");
        impl_->stop_rec(*rec);
        rec->wanted = false;
        if (rec->spec.restart == RestartType::temporary) impl_->remove(rec);
        pending = impl_->take_pending_closes();
        return {};
    });
    wait_for_closes(pending);
    return st;
}

Status Supervisor::restart_child(const std::string& id) {
    return impl_->run([&]() -> Status {
        auto* rec = impl_->find(id);
        if (!rec) return Error(Errc::not_found, "no child \"" + id + "\"");
        if (impl_->state != SupervisorState::running) return Error(Errc::not_connected, "supervisor not running");
        if (rec->running) return Error(Errc::invalid_config, "child \"" + id + "\" is running");
        rec->restart_pending = false;
        return impl_->start_rec(*rec);
    });
}

Status Supervisor::delete_child(const std::string& id) {
    return impl_->run([&]() -> Status {
        auto* rec = impl_->find(id);
        if (!rec) return Error(Errc::not_found, "no child \"" + id + "\"");
        if (rec->running) return Error(Errc::invalid_config, "child \"" + id + "\" is running");
        impl_->remove(rec);
        return {};
    });
}

std::vector<ChildInfo> Supervisor::which_children() const {
    return impl_->run([&] {
        std::vector<ChildInfo> out;
        for (auto& c : impl_->children) {
            out.push_back(ChildInfo{c->spec.id, c->spec.restart, c->running, c->restart_pending, c->restarts});
        }
        return out;
    });
}

void Supervisor::stop() {
    std::vector<PendingClose> pending;
    impl_->run([&] {
        impl_->stop();
        pending = impl_->take_pending_closes();
    });
    wait_for_closes(pending);
}

SupervisorState Supervisor::state() const noexcept { return impl_->state.load(); }
const std::string& Supervisor::name() const noexcept { return impl_->options.name; }

// A nested supervisor as a Child of its parent (shares the parent's strand, so its blocking calls run inline).
class SupervisorChild final : public Child {
public:
    SupervisorChild(SupervisorOptions options, std::vector<ChildSpec> children)
        : options_(std::move(options)), children_(std::move(children)) {}

    Status start(ExitCallback exited) override {
        Supervisor::Impl* parent = current_parent;
        if (!parent) return Error(Errc::invalid_config, "a nested supervisor must be started by a supervisor");
        auto impl = std::make_shared<Supervisor::Impl>(parent->runtime, options_, parent->strand);
        impl->escalate = std::move(exited);
        Status st = impl->start_all(children_);
        if (!st) return st;
        inner_.reset(new Supervisor(std::move(impl)));
        return {};
    }
    void stop(std::chrono::milliseconds) override {
        if (inner_) inner_->stop();
    }

private:
    SupervisorOptions options_;
    std::vector<ChildSpec> children_;
    std::unique_ptr<Supervisor> inner_;
};

ChildSpec Supervisor::child_spec(std::string id, SupervisorOptions options, std::vector<ChildSpec> children,
                                 RestartType restart) {
    if (options.name == "supervisor") options.name = id;
    ChildSpec spec;
    spec.id = std::move(id);
    spec.restart = restart;
    spec.start = [options = std::move(options), children = std::move(children)]() -> std::shared_ptr<Child> {
        return std::make_shared<SupervisorChild>(options, children);
    };
    return spec;
}

// ---- ClientSlot and ClientHandle --------------------------------------------------------------------------------

std::uint64_t detail::ClientSlot::next_id() {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
}

void detail::ClientSlot::terminate() {
    std::vector<std::function<void(std::uint64_t)>> hooks;
    Client dropped;
    {
        std::lock_guard lock(mutex);
        if (status == ChildStatus::stopped && on_terminate.empty()) {
            dropped = std::move(current);
            current = Client();
            return;
        }
        status = ChildStatus::stopped;
        dropped = std::move(current);
        current = Client();
        hooks.swap(on_terminate);
    }
    for (auto& h : hooks) {
        try {
            h(id);
        } catch (...) {
        }
    }
}

ChildStatus ClientHandle::status() const {
    if (!slot_) return ChildStatus::stopped;
    std::lock_guard lock(slot_->mutex);
    return slot_->status;
}

State ClientHandle::state() const {
    if (!slot_) return State::closed;
    Client c;
    ChildStatus s;
    {
        std::lock_guard lock(slot_->mutex);
        c = slot_->current;
        s = slot_->status;
    }
    if (c.valid()) return c.state();
    switch (s) {
        case ChildStatus::starting: return State::connecting;
        case ChildStatus::running:
        case ChildStatus::restarting: return State::reconnecting;
        case ChildStatus::failed: return State::disconnected;
        case ChildStatus::stopped: return State::closed;
    }
    return State::closed;
}

int ClientHandle::restarts() const {
    if (!slot_) return 0;
    std::lock_guard lock(slot_->mutex);
    return slot_->restarts;
}

ClientMetrics ClientHandle::metrics() const {
    Client c = client();
    if (c.valid()) return c.metrics();
    ClientMetrics m;
    m.state = state();
    return m;
}

namespace {
Error no_client(const ClientHandle& h) {
    return Error(Errc::not_connected, "supervised client " + std::to_string(h.id()) + " has no live connection (" +
                                          std::string(to_string(h.status())) + ")");
}
}  // namespace

// No current client (restarting, parked, stopped): the send fails, and its completion says so at once, on the
// caller's thread (there is no client executor to run it on): every send completes exactly once.
static Status fail_without_client(const ClientHandle& h, SendCallback& done) {
    Error e = no_client(h);
    if (done) {
        SendCallback cb = std::move(done);
        try {
            cb(e);
        } catch (...) {
        }
    }
    return e;
}

Status ClientHandle::send_text(std::string_view text, SendCallback done) const {
    Client c = client();
    if (!c.valid()) return fail_without_client(*this, done);
    return c.send_text(text, std::move(done));
}

Status ClientHandle::send_binary(std::string_view data, SendCallback done) const {
    Client c = client();
    if (!c.valid()) return fail_without_client(*this, done);
    return c.send_binary(data, std::move(done));
}

void ClientHandle::request(std::string text, Client::ReplyCallback done, std::chrono::milliseconds timeout) const {
    Client c = client();
    if (!c.valid()) {
        if (done) done(no_client(*this));
        return;
    }
    c.request(std::move(text), std::move(done), timeout);
}

Result<std::string> ClientHandle::request_blocking(std::string text, std::chrono::milliseconds timeout) const {
    Client c = client();
    if (!c.valid()) return no_client(*this);
    return c.request_blocking(std::move(text), timeout);
}

void ClientHandle::send_message(std::string text, Client::ReplyCallback done) const {
    Client c = client();
    if (!c.valid()) {
        if (done) done(no_client(*this));
        return;
    }
    c.send_message(std::move(text), std::move(done));
}

// ---- ClientChild ---------------------------------------------------------------------------------------------------

namespace {

class ClientChild final : public Child {
public:
    ClientChild(Config config, Handlers handlers, std::shared_ptr<detail::ClientSlot> slot, Runtime* runtime)
        : config_(std::move(config)), handlers_(std::move(handlers)), slot_(std::move(slot)), runtime_(runtime) {}

    Status start(ExitCallback exited) override {
        if (auto st = config_.validate(); !st) return st;
        auto shared = std::make_shared<Shared>();
        shared->exited = std::move(exited);
        shared->slot = slot_;
        shared_ = shared;
        {
            std::lock_guard lock(slot_->mutex);
            slot_->status = ChildStatus::starting;
        }
        Handlers h = handlers_;
        auto user_on_state = std::move(h.on_state);
        h.on_state = [shared, user_on_state](State from, State to, const Error& cause) {
            if (from != State::connecting) {  // the first connection's outcome is handled by the start callback
                if (to == State::disconnected) shared->finish(ExitReason::abnormal(cause));
                if (to == State::closed) shared->finish(ExitReason::normal());
            }
            if (user_on_state) user_on_state(from, to, cause);
        };
        Runtime& rt = runtime_ ? *runtime_ : Runtime::shared();
        Client::start(rt, config_, std::move(h), [shared](Result<Client> r) {
            if (r.ok()) {
                Client c = r.value();
                bool stop_now;
                {
                    std::lock_guard lock(shared->mutex);
                    stop_now = shared->stopped;
                    if (!stop_now) shared->client = c;
                }
                if (stop_now) {
                    c.close();  // not kept: nothing here may own the client once it is closed (see Shared)
                    return;
                }
                std::lock_guard lock(shared->slot->mutex);
                shared->slot->current = c;
                shared->slot->status = ChildStatus::running;
                return;
            }
            const Error& e = r.error();
            shared->finish(e.code == Errc::closed_by_user ? ExitReason::normal() : ExitReason::abnormal(e));
        });
        return {};
    }

    void stop(std::chrono::milliseconds timeout) override {
        auto shared = shared_;
        if (!shared) return;
        Client c;
        {
            std::lock_guard lock(shared->mutex);
            shared->stopped = true;
            c = std::move(shared->client);  // Shared is owned by the client's own handlers: it must not own it
            shared->client = Client();
        }
        Client dropped;
        {
            std::lock_guard lock(slot_->mutex);
            dropped = std::move(slot_->current);
            slot_->current = Client();
            slot_->status = ChildStatus::stopped;
        }
        if (!c.valid()) return;  // still connecting: the start callback closes it
        Runtime& rt = runtime_ ? *runtime_ : Runtime::shared();
        if (rt.context().get_executor().running_in_this_thread()) {
            c.close();  // waiting here could wait for this very thread
            // The supervisor's blocking stop waits for it once it is off the runtime's threads.
            if (current_pending_closes) current_pending_closes->push_back(PendingClose{c, &rt, timeout});
        } else {
            c.close_and_wait(timeout);
        }
    }

private:
    // Captured by the client's own on_state handler, so `client` (an owning handle) is a cycle while it is set:
    // it is cleared whenever the instance ends (finish) or is stopped.
    struct Shared {
        std::mutex mutex;
        bool stopped = false;
        bool finished = false;
        Client client;
        ExitCallback exited;
        std::shared_ptr<detail::ClientSlot> slot;

        void finish(ExitReason reason) {
            ExitCallback cb;
            Client ended;
            {
                std::lock_guard lock(mutex);
                if (finished) return;
                finished = true;
                ended = std::move(client);
                client = Client();
                if (stopped) return;
                cb = std::move(exited);
            }
            {
                std::lock_guard lock(slot->mutex);
                slot->current = Client();
                slot->status = !reason.is_abnormal()                 ? ChildStatus::stopped
                               : is_permanent_failure(reason.error) ? ChildStatus::failed  // not restarted
                                                                    : ChildStatus::restarting;
            }
            if (cb) cb(std::move(reason));
        }
    };

    Config config_;
    Handlers handlers_;
    std::shared_ptr<detail::ClientSlot> slot_;
    Runtime* runtime_;
    std::shared_ptr<Shared> shared_;
};

}  // namespace

ChildSpec client_child(std::string id, Config config, Handlers handlers, ClientHandle* handle, RestartType restart,
                       Runtime* runtime) {
    auto slot = std::make_shared<detail::ClientSlot>(detail::ClientSlot::next_id());
    if (handle) *handle = ClientHandle(slot);
    ChildSpec spec;
    spec.id = std::move(id);
    spec.restart = restart;
    spec.shutdown = config.close_timeout + std::chrono::milliseconds(500);
    spec.start = [config = std::move(config), handlers = std::move(handlers), slot,
                  runtime]() -> std::shared_ptr<Child> {
        {
            std::lock_guard lock(slot->mutex);
            if (slot->status != ChildStatus::starting) ++slot->restarts;
        }
        return std::make_shared<ClientChild>(config, handlers, slot, runtime);
    };
    return spec;
}

}  // namespace zenws
