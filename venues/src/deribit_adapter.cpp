// deribit_adapter.cpp — owns deribit::Adapter: the Deribit session logic on top of a Client (authentication in the
// on_reconnect hook, token refresh, set_heartbeat, cancel-on-disconnect, the desired subscriptions re-applied to
// every new Client, error mapping with re-authentication on 13009 and a backoff restart after 10028, fatal stop on
// 13004), with typed blocking and callback helpers. State lives here, outside the Client, so the same adapter keeps
// working when a ClientSupervisor replaces the Client.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "zenws/venues/deribit.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/runtime.hpp"
#include "zenws/subscriptions.hpp"

namespace zenws::deribit {

namespace asio = boost::asio;
using adapters::ErrorAction;
using Clock = std::chrono::steady_clock;

std::string_view to_string(AdapterEvent::Kind k) noexcept {
    switch (k) {
        case AdapterEvent::Kind::authenticated: return "authenticated";
        case AdapterEvent::Kind::refreshed: return "refreshed";
        case AdapterEvent::Kind::reauthenticated: return "reauthenticated";
        case AdapterEvent::Kind::heartbeat_enabled: return "heartbeat_enabled";
        case AdapterEvent::Kind::cancel_on_disconnect: return "cancel_on_disconnect";
        case AdapterEvent::Kind::auth_failed: return "auth_failed";
        case AdapterEvent::Kind::rate_limited: return "rate_limited";
        case AdapterEvent::Kind::restarted: return "restarted";
        case AdapterEvent::Kind::error: return "error";
    }
    return "unknown";
}

struct Adapter::Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(AdapterOptions o) : opt(std::move(o)), runtime(opt.runtime ? opt.runtime : &Runtime::shared()) {}

    AdapterOptions opt;
    Runtime* runtime;

    mutable std::mutex mu;
    Client current;  // the latest connection's client (the hook's handle: does not keep the client alive)
    Client owner;    // owned mode: the user-facing handle that keeps the adapter's client alive
    std::set<std::string> desired;
    std::optional<AuthResult> token;
    bool authed = false;
    bool fatal = false;
    bool closed = false;
    bool owned = false;                 // the adapter created the clients (connect()): it restarts them after 10028
    bool rate_limited_now = false;      // 10028 / close 1008 on the current connection
    int consecutive_rate_limits = 0;
    Clock::time_point last_rate_limit{};
    std::uint64_t generation = 0;       // bumped on every connection
    AdapterStats stats;
    Error last_error;
    std::shared_ptr<asio::steady_timer> refresh_timer, restart_timer;
    Config client_config;
    Handlers client_handlers;

    std::chrono::milliseconds call_timeout() const { return opt.call_timeout; }

    void emit(AdapterEvent::Kind kind, Error e = {}, std::chrono::milliseconds backoff = {}) {
        if (!opt.on_event) return;
        try {
            opt.on_event(AdapterEvent{kind, std::move(e), backoff});
        } catch (...) {
        }
    }

    bool is_current(std::uint64_t gen) const {
        std::lock_guard lock(mu);
        return gen == generation && !closed;
    }

    // ---- the on_reconnect hook: authenticate -> set_heartbeat -> cancel-on-disconnect -> re-apply subscriptions ----
    void on_reconnect(Client c, std::function<void(Status)> done, std::function<void(Client&, std::function<void(Status)>)> user_hook) {
        std::uint64_t gen;
        std::vector<std::string> channels;
        {
            std::lock_guard lock(mu);
            current = c;
            gen = ++generation;
            authed = false;
            rate_limited_now = false;
            ++stats.connections;
            channels.assign(desired.begin(), desired.end());
        }
        cancel_timer(refresh_timer);
        auto self = shared_from_this();
        auto finish = [self, c, channels = std::move(channels), done, user_hook]() mutable {
            // Re-apply the desired set: on a new Client (supervisor restart) it adds them; on the same Client it is a
            // no-op. The client is offline during the hook, so they are sent by its restore, right after `done`.
            if (!channels.empty()) (void)c.subscribe(channels);
            if (user_hook) {
                try {
                    user_hook(c, done);
                } catch (const std::exception& ex) {
                    done(Error(Errc::handler_exception, std::string("on_reconnect threw: ") + ex.what()));
                }
                return;
            }
            done({});
        };
        auto after_auth = [self, c, gen, done, finish](Status st) mutable {
            if (!st) return done(std::move(st));
            self->set_heartbeat(c, [self, c, gen, finish]() mutable {
                self->enable_cancel_on_disconnect(c, gen, std::move(finish));
            });
        };
        if (!opt.credentials) return after_auth({});
        c.call(
            "public/auth", auth_params(*opt.credentials),
            [self, gen, after_auth](Result<std::string> r) mutable {
                auto st = self->apply_auth(r, gen, AdapterEvent::Kind::authenticated);
                after_auth(std::move(st));
            },
            call_timeout());
    }

    // Applies a public/auth reply; schedules the refresh. Fatal errors become Errc::auth_failed.
    Status apply_auth(Result<std::string>& r, std::uint64_t gen, AdapterEvent::Kind kind) {
        Result<AuthResult> a = r ? parse_auth(r.value()) : Result<AuthResult>(map_error(r.error()));
        if (!a) {
            Error e = a.error();
            if (e.rpc_code != 0 && classify_error(e.rpc_code) == ErrorAction::fatal) {
                e.code = Errc::auth_failed;
                {
                    std::lock_guard lock(mu);
                    fatal = true;
                    last_error = e;
                }
                emit(AdapterEvent::Kind::auth_failed, e);
            } else if (e.rpc_code == codes::too_many_requests) {
                note_rate_limited(e);
            }
            return e;
        }
        std::int64_t expires;
        {
            std::lock_guard lock(mu);
            token = a.value();
            authed = true;
            expires = a.value().expires_in;
            if (kind == AdapterEvent::Kind::authenticated) ++stats.authentications;
            if (kind == AdapterEvent::Kind::refreshed) ++stats.refreshes;
            if (kind == AdapterEvent::Kind::reauthenticated) ++stats.reauthentications;
        }
        emit(kind);
        schedule_refresh(gen, expires);
        return {};
    }

    void set_heartbeat(Client c, std::function<void()> next) {
        if (opt.heartbeat_seconds <= 0) return next();
        auto self = shared_from_this();
        c.call(
            "public/set_heartbeat", set_heartbeat_params(opt.heartbeat_seconds),
            [self, next](Result<std::string> r) {
                if (r) {
                    self->emit(AdapterEvent::Kind::heartbeat_enabled);
                } else {
                    self->emit(AdapterEvent::Kind::error, map_error(r.error()));
                }
                next();
            },
            call_timeout());
    }

    void enable_cancel_on_disconnect(Client c, std::uint64_t, std::function<void()> next) {
        bool do_it;
        {
            std::lock_guard lock(mu);
            do_it = opt.cancel_on_disconnect && authed;
        }
        if (!do_it) return next();
        auto self = shared_from_this();
        c.call(
            "private/enable_cancel_on_disconnect", cancel_on_disconnect_params(opt.cancel_on_disconnect_scope),
            [self, next](Result<std::string> r) {
                if (r) {
                    self->emit(AdapterEvent::Kind::cancel_on_disconnect);
                } else {
                    self->emit(AdapterEvent::Kind::error, map_error(r.error()));
                }
                next();
            },
            call_timeout());
    }

    // ---- token refresh ------------------------------------------------------------------------------------------
    static void cancel_timer(std::shared_ptr<asio::steady_timer>& t) {
        if (!t) return;
        auto timer = std::move(t);
        asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }

    void schedule_refresh(std::uint64_t gen, std::int64_t expires_in) {
        if (opt.refresh_at <= 0 || expires_in <= 0) return;
        auto delay = std::chrono::milliseconds(
            std::max<std::int64_t>(50, static_cast<std::int64_t>(static_cast<double>(expires_in) * 1000.0 * opt.refresh_at)));
        auto timer = std::make_shared<asio::steady_timer>(runtime->context());
        {
            std::lock_guard lock(mu);
            if (gen != generation || closed) return;
            cancel_timer(refresh_timer);
            refresh_timer = timer;
        }
        timer->expires_after(delay);
        std::weak_ptr<Impl> weak = weak_from_this();
        timer->async_wait([weak, gen, timer](const boost::system::error_code& ec) {
            auto self = weak.lock();
            if (ec || !self || !self->is_current(gen)) return;
            self->refresh_now(gen, [](Status) {});
        });
    }

    void refresh_now(std::uint64_t gen, std::function<void(Status)> done) {
        Client c;
        std::string refresh;
        {
            std::lock_guard lock(mu);
            c = current;
            if (token) refresh = token->refresh_token;
        }
        if (!c.valid()) return done(Error(Errc::not_connected, "no client"));
        auto self = shared_from_this();
        if (refresh.empty()) return reauthenticate(c, gen, std::move(done));
        c.call(
            "public/auth", refresh_params(refresh),
            [self, c, gen, done](Result<std::string> r) {
                if (!self->is_current(gen)) return done(Error(Errc::disconnected, "connection replaced"));
                auto st = self->apply_auth(r, gen, AdapterEvent::Kind::refreshed);
                if (st) return done({});
                Error e = st.error();
                if (e.code == Errc::disconnected || e.code == Errc::not_connected || e.code == Errc::closed_by_user) {
                    return done(e);
                }
                // Refresh token rejected/expired: fall back to the credentials.
                self->emit(AdapterEvent::Kind::error, e);
                self->reauthenticate(c, gen, done);
            },
            call_timeout());
    }

    void reauthenticate(Client c, std::uint64_t gen, std::function<void(Status)> done) {
        if (!opt.credentials) return done(Error(Errc::auth_failed, "no credentials to authenticate with"));
        auto self = shared_from_this();
        c.call(
            "public/auth", auth_params(*opt.credentials),
            [self, gen, done](Result<std::string> r) {
                done(self->apply_auth(r, gen, AdapterEvent::Kind::reauthenticated));
            },
            call_timeout());
    }

    // ---- rate limit (10028) and restarts ----------------------------------------------------------------------------
    void note_rate_limited(const Error& cause) {
        bool first;
        {
            std::lock_guard lock(mu);
            first = !rate_limited_now;
            rate_limited_now = true;
            if (first) ++stats.rate_limited;
            last_error = Error(Errc::rate_limited, "Deribit answered 10028 too_many_requests: " + cause.message);
            last_error.rpc_code = codes::too_many_requests;
            last_error.raw = cause.raw;
        }
        if (first) emit(AdapterEvent::Kind::rate_limited, Error(Errc::rate_limited, cause.message), next_backoff(false));
    }

    std::chrono::milliseconds next_backoff(bool consume) {
        std::lock_guard lock(mu);
        auto now = Clock::now();
        int n = consecutive_rate_limits;
        if (now - last_rate_limit > opt.rate_limit_backoff_max * 2) n = 0;
        if (consume) {
            consecutive_rate_limits = n + 1;
            last_rate_limit = now;
        }
        auto d = opt.rate_limit_backoff;
        for (int i = 0; i < n && d < opt.rate_limit_backoff_max; ++i) d *= 2;
        return std::min(d, opt.rate_limit_backoff_max);
    }

    void on_state(zenws::State from, zenws::State to, const Error& cause) {
        if (to != zenws::State::disconnected) return;
        bool restart;
        {
            std::lock_guard lock(mu);
            bool rl = rate_limited_now || cause.code == Errc::rate_limited ||
                      (cause.code == Errc::closed_by_peer && cause.close_code == 1008);
            restart = owned && !closed && !fatal && rl;
            if (fatal) last_error = last_error.code == Errc::auth_failed ? last_error : cause;
            else if (!rl) last_error = cause;
        }
        (void)from;
        if (restart) schedule_restart();
    }

    void on_close(const CloseInfo& info) {
        if (info.code == 1008 && info.by_peer) {
            Error e(Errc::rate_limited, "session terminated by the server (1008 " + info.reason + ")");
            e.close_code = info.code;
            e.close_reason = info.reason;
            note_rate_limited(e);
        }
    }

    void schedule_restart() {
        auto delay = next_backoff(true);
        auto timer = std::make_shared<asio::steady_timer>(runtime->context());
        {
            std::lock_guard lock(mu);
            if (closed) return;
            restart_timer = timer;
        }
        timer->expires_after(delay);
        std::weak_ptr<Impl> weak = weak_from_this();
        timer->async_wait([weak, timer](const boost::system::error_code& ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            Config cfg;
            Handlers h;
            {
                std::lock_guard lock(self->mu);
                if (self->closed) return;
                ++self->stats.restarts;
                cfg = self->client_config;
                h = self->client_handlers;
            }
            self->emit(AdapterEvent::Kind::restarted);
            Client::start(*self->runtime, cfg, h, [weak](Result<Client> r) {
                auto s = weak.lock();
                if (!s) return;
                if (r) {
                    std::lock_guard lock(s->mu);
                    s->owner = r.value();
                }
            });
        });
    }

    // ---- requests -------------------------------------------------------------------------------------------------
    void call(std::string method, std::string params, Client::ReplyCallback done, bool retried = false) {
        Client c;
        std::uint64_t gen;
        {
            std::lock_guard lock(mu);
            c = current;
            gen = generation;
        }
        if (!c.valid()) {
            if (done) done(Error(Errc::not_connected, "the Deribit adapter has no client yet"));
            return;
        }
        auto self = shared_from_this();
        c.call(
            method, params,
            [self, c, gen, method, params, done, retried](Result<std::string> r) mutable {
                if (r) {
                    if (done) done(std::move(r));
                    return;
                }
                Error e = r.error();
                if (e.code == Errc::rpc_error) {
                    ErrorAction action = classify_error(e.rpc_code);
                    if (action == ErrorAction::reauthenticate && !retried && self->opt.credentials) {
                        self->reauthenticate(c, gen, [self, method = std::move(method), params = std::move(params),
                                                      done, e](Status st) mutable {
                            if (!st) {
                                if (done) done(map_error(e));
                                return;
                            }
                            self->call(std::move(method), std::move(params), std::move(done), true);
                        });
                        return;
                    }
                    if (action == ErrorAction::reconnect) self->note_rate_limited(e);
                }
                if (done) done(map_error(std::move(e)));
            },
            call_timeout());
    }
};

// ---- Adapter --------------------------------------------------------------------------------------------------------

Adapter::Adapter(AdapterOptions options) : state_(std::make_shared<Impl>(std::move(options))) {}

std::shared_ptr<Adapter> Adapter::create(AdapterOptions options) {
    return std::shared_ptr<Adapter>(new Adapter(std::move(options)));
}

Adapter::~Adapter() { close(); }

void Adapter::install(Config& config, Handlers& handlers) {
    auto& o = state_->opt;
    config.heartbeat.type = HeartbeatType::deribit;
    config.heartbeat.deribit_set_heartbeat_seconds = 0;  // the adapter sends public/set_heartbeat itself (fractions ok)
    if (o.heartbeat_seconds > 0 && config.idle_timeout.count() == 0) {
        // The server sends a heartbeat or test_request every interval: silence for 3 intervals = a dead link.
        config.idle_timeout = std::chrono::milliseconds(
            std::max<std::int64_t>(1000, static_cast<std::int64_t>(o.heartbeat_seconds * 3000.0)));
    }
    if (!config.subscription_dialect) config.subscription_dialect = deribit_dialect();
    if (o.local_rate_limit && !config.rate_limit) {
        config.rate_limit = std::make_shared<RateLimitPolicy>(rate_limits::deribit());
    }
    std::weak_ptr<Impl> weak = state_;
    auto user_hook = handlers.on_reconnect;
    handlers.on_reconnect = [weak, user_hook](Client& c, std::function<void(Status)> done) {
        auto s = weak.lock();
        if (!s) return done({});
        s->on_reconnect(c, std::move(done), user_hook);
    };
    auto user_state = handlers.on_state;
    handlers.on_state = [weak, user_state](zenws::State from, zenws::State to, const Error& cause) {
        if (auto s = weak.lock()) s->on_state(from, to, cause);
        if (user_state) user_state(from, to, cause);
    };
    auto user_close = handlers.on_close;
    handlers.on_close = [weak, user_close](const CloseInfo& info) {
        if (auto s = weak.lock()) s->on_close(info);
        if (user_close) user_close(info);
    };
}

std::pair<Config, Handlers> Adapter::client_setup() {
    Config c = state_->opt.config;
    Handlers h = state_->opt.handlers;
    install(c, h);
    return {std::move(c), std::move(h)};
}

Status Adapter::connect() {
    auto [config, handlers] = client_setup();
    {
        std::lock_guard lock(state_->mu);
        state_->owned = true;
        state_->closed = false;
        state_->client_config = config;
        state_->client_handlers = handlers;
    }
    auto r = Client::connect(std::move(config), std::move(handlers), state_->runtime);
    if (!r) {
        std::lock_guard lock(state_->mu);
        if (state_->fatal && state_->last_error.code == Errc::auth_failed) return state_->last_error;
        state_->last_error = r.error();
        return r.error();
    }
    std::lock_guard lock(state_->mu);
    state_->owner = r.value();
    return {};
}

Client Adapter::client() const {
    std::lock_guard lock(state_->mu);
    return state_->current;
}

void Adapter::close() {
    Client c;
    {
        std::lock_guard lock(state_->mu);
        if (state_->closed) return;
        state_->closed = true;
        c = state_->current;
        Impl::cancel_timer(state_->refresh_timer);
        Impl::cancel_timer(state_->restart_timer);
    }
    if (c.valid()) c.close();
    Client owner;
    {
        std::lock_guard lock(state_->mu);
        owner = std::move(state_->owner);
        state_->owner = Client();
    }
    if (owner.valid()) owner.close();
}

bool Adapter::wait_connected(std::chrono::milliseconds timeout) const {
    auto deadline = Clock::now() + timeout;
    while (true) {
        Client c = client();
        if (c.valid() && c.state() == zenws::State::connected) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

Status Adapter::subscribe(std::vector<std::string> channels) {
    for (auto& ch : channels) {
        if (ch.empty()) return config_error("channels", "empty channel name");
    }
    Client c;
    {
        std::lock_guard lock(state_->mu);
        for (auto& ch : channels) state_->desired.insert(ch);
        c = state_->current;
    }
    if (c.valid()) return c.subscribe(std::move(channels));
    return {};
}

Status Adapter::unsubscribe(std::vector<std::string> channels) {
    Client c;
    {
        std::lock_guard lock(state_->mu);
        for (auto& ch : channels) state_->desired.erase(ch);
        c = state_->current;
    }
    if (c.valid()) return c.unsubscribe(std::move(channels));
    return {};
}

std::vector<std::string> Adapter::subscriptions() const {
    std::lock_guard lock(state_->mu);
    return {state_->desired.begin(), state_->desired.end()};
}

bool Adapter::authenticated() const {
    std::lock_guard lock(state_->mu);
    return state_->authed && state_->current.valid() && state_->current.state() == zenws::State::connected;
}

std::optional<AuthResult> Adapter::token() const {
    std::lock_guard lock(state_->mu);
    return state_->token;
}

AdapterStats Adapter::stats() const {
    std::lock_guard lock(state_->mu);
    return state_->stats;
}

Error Adapter::last_error() const {
    std::lock_guard lock(state_->mu);
    return state_->last_error;
}

namespace {
template <class T>
Result<T> wait_for(std::function<void(Callback<T>)> start) {
    auto p = std::make_shared<std::promise<Result<T>>>();
    auto f = p->get_future();
    start([p](Result<T> r) { p->set_value(std::move(r)); });
    return f.get();
}
}  // namespace

void Adapter::authenticate(std::function<void(Status)> done) {
    Client c;
    std::uint64_t gen;
    {
        std::lock_guard lock(state_->mu);
        c = state_->current;
        gen = state_->generation;
    }
    if (!c.valid()) return done(Error(Errc::not_connected, "no client"));
    state_->reauthenticate(c, gen, std::move(done));
}

Status Adapter::authenticate() {
    auto r = wait_for<bool>([this](Callback<bool> cb) {
        authenticate([cb](Status st) { st ? cb(true) : cb(st.error()); });
    });
    if (!r) return r.error();
    return {};
}

Status Adapter::refresh() {
    std::uint64_t gen;
    {
        std::lock_guard lock(state_->mu);
        gen = state_->generation;
    }
    auto r = wait_for<bool>([this, gen](Callback<bool> cb) {
        state_->refresh_now(gen, [cb](Status st) { st ? cb(true) : cb(st.error()); });
    });
    if (!r) return r.error();
    return {};
}

void Adapter::call(std::string method, std::string params, Client::ReplyCallback done) {
    state_->call(std::move(method), std::move(params), std::move(done));
}

Result<std::string> Adapter::call(std::string method, std::string params) {
    return wait_for<std::string>([&](Callback<std::string> cb) { call(method, params, std::move(cb)); });
}

namespace {
template <class T, class Parser>
Client::ReplyCallback parsed(Callback<T> done, Parser parse) {
    return [done = std::move(done), parse](Result<std::string> r) {
        if (!r) return done(r.error());
        done(parse(r.value()));
    };
}
}  // namespace

void Adapter::get_instruments(std::string_view currency, std::string_view kind,
                              Callback<std::vector<Instrument>> done) {
    call("public/get_instruments", get_instruments_params(currency, kind),
         parsed<std::vector<Instrument>>(std::move(done), [](std::string_view s) { return parse_instruments(s); }));
}
Result<std::vector<Instrument>> Adapter::get_instruments(std::string_view currency, std::string_view kind) {
    return wait_for<std::vector<Instrument>>(
        [&](Callback<std::vector<Instrument>> cb) { get_instruments(currency, kind, std::move(cb)); });
}

void Adapter::get_order_book(std::string_view instrument_name, int depth, Callback<OrderBook> done) {
    call("public/get_order_book", get_order_book_params(instrument_name, depth),
         parsed<OrderBook>(std::move(done), [](std::string_view s) { return parse_order_book(s); }));
}
Result<OrderBook> Adapter::get_order_book(std::string_view instrument_name, int depth) {
    return wait_for<OrderBook>([&](Callback<OrderBook> cb) { get_order_book(instrument_name, depth, std::move(cb)); });
}

void Adapter::ticker(std::string_view instrument_name, Callback<Ticker> done) {
    call("public/ticker", ticker_params(instrument_name),
         parsed<Ticker>(std::move(done), [](std::string_view s) { return parse_ticker(s); }));
}
Result<Ticker> Adapter::ticker(std::string_view instrument_name) {
    return wait_for<Ticker>([&](Callback<Ticker> cb) { ticker(instrument_name, std::move(cb)); });
}

void Adapter::buy(const OrderRequest& order, Callback<OrderResult> done) {
    call("private/buy", order_params(order),
         parsed<OrderResult>(std::move(done), [](std::string_view s) { return parse_order_result(s); }));
}
Result<OrderResult> Adapter::buy(const OrderRequest& order) {
    return wait_for<OrderResult>([&](Callback<OrderResult> cb) { buy(order, std::move(cb)); });
}

void Adapter::sell(const OrderRequest& order, Callback<OrderResult> done) {
    call("private/sell", order_params(order),
         parsed<OrderResult>(std::move(done), [](std::string_view s) { return parse_order_result(s); }));
}
Result<OrderResult> Adapter::sell(const OrderRequest& order) {
    return wait_for<OrderResult>([&](Callback<OrderResult> cb) { sell(order, std::move(cb)); });
}

void Adapter::cancel(std::string_view order_id, Callback<Order> done) {
    call("private/cancel", cancel_params(order_id),
         parsed<Order>(std::move(done), [](std::string_view s) { return parse_order(s); }));
}
Result<Order> Adapter::cancel(std::string_view order_id) {
    return wait_for<Order>([&](Callback<Order> cb) { cancel(order_id, std::move(cb)); });
}

void Adapter::get_open_orders(const OpenOrdersFilter& filter, Callback<std::vector<Order>> done) {
    auto [method, params] = open_orders_request(filter);
    call(std::move(method), std::move(params),
         parsed<std::vector<Order>>(std::move(done), [](std::string_view s) { return parse_orders(s); }));
}
Result<std::vector<Order>> Adapter::get_open_orders(const OpenOrdersFilter& filter) {
    return wait_for<std::vector<Order>>(
        [&](Callback<std::vector<Order>> cb) { get_open_orders(filter, std::move(cb)); });
}

}  // namespace zenws::deribit
