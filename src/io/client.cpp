// client.cpp — the resilient client: the connection state machine (connecting, connected, reconnecting,
// disconnected, closed), reconnection with backoff across the primary and fallback URLs, heartbeats and their
// failure threshold, the send policy while not connected, the pull inbox, health and metrics snapshots.
// One Session (session.cpp) per connection attempt; everything here runs on the client's strand except the
// thread-safe public entry points, which only take short locks.
#include "zenws/client.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

#include "core/reconnect_ladder.hpp"
#include "io/fifo.hpp"
#include "io/loop_anchor.hpp"
#include "io/session.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/recorder.hpp"
#include "zenws/redact.hpp"
#include "zenws/request_tracker.hpp"
#include "zenws/runtime.hpp"
#include "zenws/subscriptions.hpp"

namespace zenws {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using detail::Session;
using detail::Fifo;

std::string_view to_string(State s) noexcept {
    switch (s) {
        case State::connecting: return "connecting";
        case State::connected: return "connected";
        case State::reconnecting: return "reconnecting";
        case State::disconnected: return "disconnected";
        case State::closed: return "closed";
    }
    return "unknown";
}

namespace {

constexpr std::string_view heartbeat_id_prefix = "zenws-hb-";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

struct Client::Impl final : detail::SessionEvents, std::enable_shared_from_this<Client::Impl> {
    // A send (or a request, when `reply` is set) buffered while not connected.
    struct QueuedSend {
        Opcode op;
        std::string data;
        SendCallback done;
        Client::ReplyCallback reply;  // requests only
        std::string key;              // requests only: the id key
        std::chrono::milliseconds timeout{0};
        bool is_request() const noexcept { return static_cast<bool>(reply); }
    };
    // A send delayed by the rate limiter (delay policy), run in order when its tokens are due.
    struct DelayedAction {
        Clock::time_point due;
        std::function<void()> run;
    };

    Impl(Runtime& runtime, Config cfg, Handlers h)
        : anchor(detail::RuntimeAccess::anchor(runtime)),
          strand(asio::make_strand(runtime.context())),
          config(std::move(cfg)),
          handlers(std::move(h)),
          retry_timer(strand),
          ladder(detail::ReconnectLadder::options_from(config, 1 + config.fallback_urls.size())),
          ping_rtt(config.latency_buffer_size),
          request_rtt(config.latency_buffer_size) {}

    // ---- configuration ---------------------------------------------------------------------------------------
    Status prepare() {
        if (auto st = config.validate(); !st) return st;
        auto primary = parse_url(config.url);
        if (!primary) return primary.error();
        urls.push_back(primary.value());
        for (const auto& f : config.fallback_urls) {
            auto u = parse_url(f);
            if (!u) return u.error();
            urls.push_back(u.value());
        }
        for (const auto& u : urls) {
            if (u.secure && !tls) {
                auto ctx = detail::tls_context_for(config.tls);
                if (!ctx) return ctx.error();
                tls = ctx.value();
            }
        }
        if (!config.record_to.empty()) {
            RecordWriterOptions options;
            options.redact_fields = config.record_redact_fields;
            options.install_crash_handlers = config.record_crash_handlers;
            recorder = std::make_unique<RecordWriter>(std::move(options));
            if (auto st = recorder->open(config.record_to); !st) return st.error();  // names the field itself
        }
        if (config.heartbeat.type != HeartbeatType::disabled) {
            heartbeat_interval =
                config.heartbeat.interval.count() > 0 ? config.heartbeat.interval : config.heartbeat_interval;
        }
        return {};
    }

    // ---- state ------------------------------------------------------------------------------------------------
    void set_state(State to, const Error& cause) {
        State from = state.exchange(to, std::memory_order_acq_rel);
        notify_state(from, to, cause);
    }

    // The user's on_state runs first; waiters (close_and_wait) are released after it, so a caller that waited for
    // the close may destroy what its handlers use.
    void notify_state(State from, State to, const Error& cause) {
        if (from == to) return;
        if (handlers.on_state) guarded([&] { handlers.on_state(from, to, cause); });
        {
            std::lock_guard lock(wait_mutex);
            settled_state = to;
        }
        wait_cv.notify_all();
    }

    template <class F>
    void guarded(F&& f) {
        try {
            f();
        } catch (const std::exception& ex) {
            report(Error(Errc::handler_exception, std::string("user callback threw: ") + ex.what()));
        } catch (...) {
            report(Error(Errc::handler_exception, "user callback threw a non-std exception"));
        }
    }

    void report(const Error& e) {
        if (handlers.observer) handlers.observer->error(e);
        if (handlers.on_error) {
            try {
                handlers.on_error(e);
            } catch (...) {
            }
        }
    }

    // ---- connecting and reconnecting (strand) -----------------------------------------------------------------
    void start() {
        asio::post(strand, [self = shared_from_this()] { self->attempt(); });
    }

    void attempt() {
        if (user_closed) return;
        const Url& url = current_url();
        ++attempt_number;
        attempt_started = Clock::now();
        ladder.attempt_started(attempt_started);
        if (handlers.observer) handlers.observer->connect_attempt(url.to_string(), attempt_number);
        detail::SessionParams params{url, &config, url.secure ? tls : nullptr, &counters};
        auto s = detail::make_session(strand, std::move(params), shared_from_this());
        {
            std::lock_guard lock(mutex);
            session = s;
        }
        s->start();
    }

    bool is_current(Session& s) {
        std::lock_guard lock(mutex);
        return session.get() == &s;
    }

    void session_open(Session& s, const HandshakeOutcome& outcome) override {
        if (!is_current(s)) return;
        auto connect_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - attempt_started);
        if (handlers.observer) handlers.observer->connected(current_url().to_string(), connect_time);
        // The retry ladder is not reset here: only a connection that proves stable ends the outage (flap guard).
        ladder.connected(Clock::now());
        last_server_ping_at = Clock::now();
        {
            std::lock_guard lock(mutex);
            subprotocol = outcome.subprotocol;
            connected_at = Clock::now();
        }
        bool was_reconnect = ever_connected;
        ever_connected = true;
        if (was_reconnect) reconnects.fetch_add(1, std::memory_order_relaxed);
        start_heartbeat();
        start_idle_watch();
        opening = true;
        run_reconnect_hook();
    }

    // After every successful upgrade: the user's on_reconnect hook (authentication) first, then the subscription
    // restore, then the buffered sends; only then does the state become `connected`.
    void run_reconnect_hook() {
        auto s = current_session();
        if (!s) return;
        if (!handlers.on_reconnect) return finish_opening(s);
        std::uint64_t generation = ++hook_generation;
        auto done = [weak = weak_from_this(), s, generation](Status st) {
            auto self = weak.lock();
            if (!self) return;
            asio::post(self->strand, [self, s, generation, st = std::move(st)]() mutable {
                if (generation != self->hook_generation || !self->is_current(*s)) return;  // stale or timed out
                ++self->hook_generation;
                self->retry_timer.cancel();
                if (!st) {
                    Error e = std::move(st).error();
                    if (e.code != Errc::auth_failed && e.code != Errc::rpc_error) {
                        e.message = "on_reconnect hook failed: " + e.message;
                    }
                    s->abort(e, close_code::normal, "reconnect hook failed");
                    return;
                }
                self->finish_opening(s);
            });
        };
        retry_timer.expires_after(config.request_timeout);
        retry_timer.async_wait([self = shared_from_this(), s, generation](const boost::system::error_code& ec) {
            if (ec || generation != self->hook_generation) return;
            ++self->hook_generation;
            s->abort(Error(Errc::request_timeout, "on_reconnect hook did not finish within request_timeout"),
                     close_code::normal, "reconnect hook timeout");
        });
        Client handle(shared_from_this());
        try {
            handlers.on_reconnect(handle, std::move(done));
        } catch (const std::exception& ex) {
            ++hook_generation;
            retry_timer.cancel();
            s->abort(Error(Errc::handler_exception, std::string("on_reconnect threw: ") + ex.what()),
                     close_code::internal_error, "reconnect hook failed");
        }
    }

    void finish_opening(const std::shared_ptr<Session>& s) {
        if (!is_current(*s)) return;
        restore_subscriptions();
        State from = flush_queue_and_go_live();
        opening = false;
        notify_state(from, State::connected, {});
        complete_connect({});
    }

    // The restore goes through the same path as subscribe(): charged to the rate limiter, recorded, and abandoned
    // (re-sent by the next restore) if it cannot be written.
    void restore_subscriptions() {
        std::lock_guard lock(subs_mutex);
        if (!subs) {  // nothing was ever subscribed
            ever_restored = true;
            return;
        }
        if (!config.restore_subscriptions && ever_restored) {
            // Not restoring: the channels of the previous connection are gone; forget them (the user
            // re-subscribes), so nothing is sent and nothing stays pending.
            subs->unsubscribe(subs->desired());
        }
        std::vector<SubscriptionMessage> messages = subs->restore_messages();
        if (!messages.empty() && ever_restored) ++subscription_restores;
        ever_restored = true;
        send_subscription_messages(std::move(messages));
    }

    void session_connect_failed(Session& s, const Error& error) override {
        if (!is_current(s)) return;
        {
            std::lock_guard lock(mutex);
            session.reset();
            set_last_error(error);
        }
        if (handlers.observer) handlers.observer->connect_failed(current_url().to_string(), error);
        if (user_closed) return finish_closed();
        retry_or_give_up(ladder.attempt_failed(Clock::now(), error), error);
    }

    void session_closed(Session& s, const CloseInfo& info, const Error& cause) override {
        if (!is_current(s)) return;
        stop_heartbeat();
        opening = false;
        ++hook_generation;
        retry_timer.cancel();
        if (user_closed || cause.code == Errc::closed_by_user) {
            fail_pending_requests(closing_error("no reply"));
        } else {
            fail_pending_requests(Error(Errc::disconnected, "connection lost before the reply: " + cause.message));
        }
        {
            std::lock_guard lock(subs_mutex);
            if (subs) subs->on_disconnect();
        }
        if (recorder) {
            recorder->record_close(info.by_peer ? RecordDirection::in : RecordDirection::out, info.code, info.reason,
                                   std::chrono::system_clock::now());
        }
        {
            std::lock_guard lock(mutex);
            session.reset();
            connected_at.reset();
            if (cause) set_last_error(cause);
        }
        if (handlers.observer) handlers.observer->disconnected(info, cause);
        if (handlers.on_close) guarded([&] { handlers.on_close(info); });
        if (user_closed || cause.code == Errc::closed_by_user) return finish_closed();
        if (crashed) return give_up(*crash_error);
        // A stable connection: one immediate attempt, then the backoff ladder (a requested reconnect after rate
        // limiting backs off first). A connection that dropped before it was stable continues its outage's ladder.
        if (forced_reconnect) {
            Error reason = *forced_reconnect;
            forced_reconnect.reset();
            return retry_or_give_up(ladder.connection_lost(Clock::now(), reason, true), reason);
        }
        retry_or_give_up(ladder.connection_lost(Clock::now(), cause), cause);
    }

    // Client::reconnect(): drop the connection and go through the backoff ladder even if the close that follows
    // would not count as retryable (e.g. Deribit closes with 1008 after "too many requests").
    void request_reconnect(Error cause) {
        if (user_closed) return;
        if (!cause) cause = Error(Errc::transport_error, "reconnect requested");
        forced_reconnect = std::make_unique<Error>(cause);
        if (auto s = current_session()) {
            s->abort(cause, close_code::normal, "reconnecting");
            return;
        }
        if (state.load() == State::disconnected) {  // gave up earlier: start a fresh ladder
            forced_reconnect.reset();
            set_state(State::reconnecting, cause);
            retry_or_give_up(ladder.restart(Clock::now(), cause), cause);
        }
        // Otherwise an attempt or a backoff wait is already under way.
    }

    void retry_or_give_up(const detail::ReconnectLadder::Decision& decision, const Error& error) {
        if (decision.give_up) return give_up(error);
        auto delay = decision.delay;
        if (state.load() == State::connected || state.load() == State::reconnecting) {
            set_state(State::reconnecting, error);
        }
        if (handlers.observer) handlers.observer->reconnect_scheduled(decision.retry, delay);
        std::uint64_t generation = ++retry_generation;
        if (delay.count() == 0) {
            asio::post(strand, [self = shared_from_this(), generation] {
                if (generation == self->retry_generation) self->attempt();
            });
            return;
        }
        retry_timer.expires_after(delay);
        retry_timer.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
            if (ec || generation != self->retry_generation) return;  // stale timer: a later attempt owns the state
            self->attempt();
        });
    }

    void give_up(const Error& error) {
        Error final_error = error;
        const int attempts = ladder.attempts_this_outage();
        if (attempts > 1 && error.code != Errc::handler_exception) {
            final_error.message = "gave up after " + std::to_string(attempts) + " attempts: " + error.message;
        }
        {
            std::lock_guard lock(mutex);
            set_last_error(final_error);
        }
        if (handlers.observer) handlers.observer->retries_exhausted(final_error);
        settle(State::disconnected,
               final_error.code == Errc::handler_exception
                   ? final_error
                   : Error(Errc::not_connected, "client gave up reconnecting: " + final_error.message),
               final_error);
        run_delayed_now();
        complete_connect(final_error);
    }

    // The error that a close completes everything with: the user's close, or the Runtime's destruction.
    Error closing_error(std::string_view what) const {
        if (anchor->stopped.load(std::memory_order_acquire)) {
            return Error(Errc::runtime_stopped, std::string(what) + ": the Runtime was destroyed");
        }
        return Error(Errc::closed_by_user, std::string(what) + ": client closed by the user");
    }

    void finish_closed() {
        user_closed = true;
        fail_pending_requests(closing_error("no reply"));
        ++retry_generation;
        retry_timer.cancel();
        stop_heartbeat();
        settle(State::closed, closing_error("not sent"), closing_error("closed"));
        run_delayed_now();
        complete_connect(closing_error("closed before the connection was established"));
    }

    // Enters a terminal state (disconnected or closed) and completes every queued send and request with
    // `queue_error`. The state changes under the same lock that enqueue_locked() checks it under, before the queue
    // is taken: a send racing from another thread either made it into the queue taken here, or sees the terminal
    // state and fails at once. Nothing is left behind (the stranded-send bug this replaces drained first).
    void settle(State to, const Error& queue_error, const Error& cause) {
        Fifo<QueuedSend> pending;
        State from;
        {
            std::lock_guard lock(mutex);
            from = state.exchange(to, std::memory_order_acq_rel);
            pending.swap(queue);
        }
        // On the strand, before the state change releases close_and_wait(): complete them now, not later.
        for (auto& q : pending) {
            if (q.is_request()) {
                complete_reply(q.reply, queue_error);
            } else if (q.done) {
                guarded([&] { q.done(queue_error); });
            }
        }
        notify_state(from, to, cause);
    }

    // Terminal state: sends waiting for rate-limit tokens go now (and fail: nothing is connected any more).
    void run_delayed_now() {
        if (delayed_timer) delayed_timer->cancel();
        while (!delayed.empty()) {
            DelayedAction action = std::move(delayed.front());
            delayed.pop_front();
            action.run();
            delayed_count.fetch_sub(1, std::memory_order_acq_rel);
        }
    }

    void complete_connect(const Error& error) {
        std::function<void(const Error&)> done;
        {
            std::lock_guard lock(mutex);
            done = std::move(connect_done);
            connect_done = nullptr;
        }
        if (done) done(error);
    }

    // ---- inbound (strand) -------------------------------------------------------------------------------------
    bool needs_scan() const noexcept {
        return requests_issued || config.heartbeat.type == HeartbeatType::deribit || handlers.on_unmatched_response;
    }

    void session_message(Session& s, Opcode op, std::string_view payload) override {
        if (crashed) return;
        if (config.stable_on_first_message) ladder.message_received();
        if (watch_idle) last_frame_at = Clock::now();  // only the idle timeout reads it
        std::string_view channel;
        if (op == Opcode::text) {
            if (config.heartbeat.type == HeartbeatType::custom && consume_custom_heartbeat(payload)) return;
            if (needs_scan()) {
                JsonEnvelope env = scan_json(payload);
                if (env.valid) {
                    if (env.heartbeat != HeartbeatKind::none && config.heartbeat.type == HeartbeatType::deribit) {
                        return on_deribit_heartbeat(s, env.heartbeat);
                    }
                    if (env.is_response() && route_response(env, payload)) return;
                    channel = env.channel;
                }
            }
        }
        record(RecordDirection::in, op, payload);
        if (handlers.observer) handlers.observer->message_in(op, payload.size());
        deliver(s, MessageView{op, payload, channel});
    }

    // Returns true when the reply was consumed (a pending request, a heartbeat reply or an unmatched reply).
    bool route_response(const JsonEnvelope& env, std::string_view payload) {
        if (env.id.kind == IdKind::string && starts_with(env.id.content, heartbeat_id_prefix)) {
            return true;  // the reply to one of our own heartbeat requests
        }
        std::optional<SubscriptionOutcome> outcome;
        {
            std::lock_guard lock(subs_mutex);
            if (subs) outcome = subs->on_reply(env);
            if (outcome) {
                for (auto& f : outcome->failed) failed_channels.push_back(f);
            }
        }
        std::optional<RequestTracker<Client::ReplyCallback>::Entry> entry;
        if (RequestState* r = requests_state_if_any()) {
            env.id.key_into(r->key_buffer);
            std::lock_guard lock(r->mutex);
            entry = r->tracker.resolve(r->key_buffer);
            if (entry) pending_requests_gauge.store(r->tracker.pending_count(), std::memory_order_relaxed);
        }
        if (!entry) {
            if (!outcome && !handlers.on_unmatched_response) return false;  // delivered as an ordinary message
            record(RecordDirection::in, Opcode::text, payload);
            if (!outcome) guarded([&] { handlers.on_unmatched_response(payload); });
            return true;  // a subscription confirmation, or a reply nobody waits for any more
        }
        record(RecordDirection::in, Opcode::text, payload);
        auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - entry->started_at);
        {
            std::lock_guard lock(stats_mutex);
            request_rtt.add(static_cast<std::uint64_t>(rtt.count()));
        }
        if (env.has_error) {
            Error e(Errc::rpc_error, "server answered with an error");
            e.rpc_code = env.has_error_code ? env.error_code : 0;
            if (auto m = json_unescape(env.error_message)) {
                e.message = "server answered with error " + std::to_string(e.rpc_code) + ": " + *m;
            }
            static const JsonRedactor redactor;  // the raw reply may echo credentials or tokens
            e.raw = redactor.redacted(payload);
            complete_reply(entry->token, std::move(e));
        } else {
            complete_reply(entry->token, std::string(payload));
        }
        return true;
    }

    void deliver(Session& s, MessageView view) {
        if (handlers.on_message) {
            try {
                handlers.on_message(view);
            } catch (const std::exception& ex) {
                crash(s, std::string("message handler threw: ") + ex.what());
            } catch (...) {
                crash(s, "message handler threw a non-std exception");
            }
            return;
        }
        {
            std::lock_guard lock(inbox_mutex);
            inbox.push_back(Message{view.opcode, std::string(view.data)});
        }
        inbox_cv.notify_one();
    }

    void record(RecordDirection dir, Opcode op, std::string_view data) {
        if (!recorder) return;
        recorder->record(dir, op == Opcode::binary ? RecordType::binary : RecordType::text, data);
    }

    void crash(Session& s, std::string why) {
        crashed = true;
        crash_error = std::make_unique<Error>(Errc::handler_exception, std::move(why));
        report(*crash_error);
        s.abort(*crash_error, close_code::internal_error, "client handler failed");
    }

    void session_ping(Session&, std::string_view) override {
        if (watch_idle) last_frame_at = Clock::now();  // only the idle timeout reads it
        if (config.heartbeat.type == HeartbeatType::server_ping) {
            last_server_ping_at = Clock::now();
            acknowledge_heartbeat(std::chrono::microseconds(0));
        }
    }

    void session_pong(Session&, std::string_view payload) override {
        if (watch_idle) last_frame_at = Clock::now();  // only the idle timeout reads it
        if (config.heartbeat.type == HeartbeatType::ping_pong && heartbeat_outstanding &&
            payload == heartbeat_payload) {
            heartbeat_outstanding = false;
            acknowledge_heartbeat(
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - heartbeat_sent_at));
        }
        // Unsolicited or stale pongs are ignored.
    }

    // ---- heartbeats (strand) ----------------------------------------------------------------------------------
    void on_deribit_heartbeat(Session& s, HeartbeatKind kind) {
        heartbeat_seen = true;
        if (kind == HeartbeatKind::test_request) {
            std::string reply = "{\"jsonrpc\":\"2.0\",\"id\":\"" + std::string(heartbeat_id_prefix) +
                                std::to_string(++heartbeat_sequence) + "\",\"method\":\"public/test\",\"params\":{}}";
            (void)s.send(Opcode::text, reply, no_callback);
            if (handlers.observer) handlers.observer->heartbeat_sent(HeartbeatType::deribit);
        }
        acknowledge_heartbeat(std::chrono::microseconds(0));
    }

    bool consume_custom_heartbeat(std::string_view text) {
        if (!heartbeat_outstanding || !config.heartbeat.custom_matcher) return false;
        bool matched = false;
        guarded([&] { matched = config.heartbeat.custom_matcher(text); });
        if (!matched) return false;
        heartbeat_outstanding = false;
        acknowledge_heartbeat(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - heartbeat_sent_at));
        return true;
    }

    void acknowledge_heartbeat(std::chrono::microseconds rtt) {
        std::lock_guard lock(stats_mutex);
        health.consecutive_failures = 0;
        health.last_heartbeat_at = Clock::now();
        if (rtt.count() > 0) {
            health.last_rtt = rtt;
            ping_rtt.add(static_cast<std::uint64_t>(rtt.count()));
        }
        if (handlers.observer) handlers.observer->heartbeat_acknowledged(config.heartbeat.type, rtt);
    }

    void start_heartbeat() {
        heartbeat_outstanding = false;
        heartbeat_seen = false;
        {
            std::lock_guard lock(stats_mutex);
            health.type = config.heartbeat.type;
            health.consecutive_failures = 0;
            health.active = config.heartbeat.type != HeartbeatType::disabled;
        }
        if (config.heartbeat.type == HeartbeatType::disabled) return;
        if (config.heartbeat.type == HeartbeatType::deribit && config.heartbeat.deribit_set_heartbeat_seconds > 0) {
            std::string request = "{\"jsonrpc\":\"2.0\",\"id\":\"" + std::string(heartbeat_id_prefix) +
                                  std::to_string(++heartbeat_sequence) +
                                  "\",\"method\":\"public/set_heartbeat\",\"params\":{\"interval\":" +
                                  std::to_string(config.heartbeat.deribit_set_heartbeat_seconds) + "}}";
            send_on_current(Opcode::text, request);
        }
        schedule_heartbeat(++heartbeat_generation);
    }

    void stop_heartbeat() {
        ++heartbeat_generation;
        if (heartbeat_timer) heartbeat_timer->cancel();
        if (idle_timer) idle_timer->cancel();
        std::lock_guard lock(stats_mutex);
        health.active = false;
    }

    void schedule_heartbeat(std::uint64_t generation) {
        if (!heartbeat_timer) heartbeat_timer = std::make_unique<asio::steady_timer>(strand);
        heartbeat_timer->expires_after(heartbeat_interval);
        heartbeat_timer->async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
            if (ec || generation != self->heartbeat_generation) return;
            self->heartbeat_tick(generation);
        });
    }

    void heartbeat_tick(std::uint64_t generation) {
        bool missed = false;
        switch (config.heartbeat.type) {
            case HeartbeatType::ping_pong:
            case HeartbeatType::custom:
                missed = heartbeat_outstanding;
                break;
            case HeartbeatType::deribit:
                missed = config.heartbeat.deribit_set_heartbeat_seconds > 0 && !heartbeat_seen;
                heartbeat_seen = false;
                break;
            case HeartbeatType::server_ping:
                missed = Clock::now() - last_server_ping_at >= heartbeat_interval;
                break;
            case HeartbeatType::disabled: return;
        }
        if (missed && record_heartbeat_failure()) return;  // threshold reached: the connection is being closed
        if (config.heartbeat.type == HeartbeatType::ping_pong) {
            heartbeat_payload = std::string(heartbeat_id_prefix) + std::to_string(++heartbeat_sequence);
            heartbeat_sent_at = Clock::now();
            heartbeat_outstanding = true;
            std::shared_ptr<Session> s = current_session();
            if (s) (void)s->send(Opcode::ping, heartbeat_payload, no_callback);
            if (handlers.observer) handlers.observer->heartbeat_sent(HeartbeatType::ping_pong);
        } else if (config.heartbeat.type == HeartbeatType::custom) {
            heartbeat_sent_at = Clock::now();
            heartbeat_outstanding = true;
            send_on_current(Opcode::text, config.heartbeat.custom_message);
            if (handlers.observer) handlers.observer->heartbeat_sent(HeartbeatType::custom);
        }
        schedule_heartbeat(generation);
    }

    // Returns true when the failure threshold was reached and the connection is being closed.
    bool record_heartbeat_failure() {
        int failures;
        {
            std::lock_guard lock(stats_mutex);
            failures = ++health.consecutive_failures;
            ++health.total_failures;
        }
        if (handlers.observer) handlers.observer->heartbeat_missed(config.heartbeat.type, failures);
        if (failures < config.heartbeat.failure_threshold) return false;
        Error e(Errc::heartbeat_timeout, std::to_string(failures) + " heartbeats in a row went unanswered");
        if (auto s = current_session()) s->abort(e, close_code::going_away, "heartbeat timeout");
        return true;
    }

    void start_idle_watch() {
        watch_idle = config.idle_timeout.count() > 0;
        if (!watch_idle) return;
        last_frame_at = Clock::now();
        schedule_idle_check(heartbeat_generation);
    }

    void schedule_idle_check(std::uint64_t generation) {
        auto now = Clock::now();
        auto due = last_frame_at + config.idle_timeout;
        if (!idle_timer) idle_timer = std::make_unique<asio::steady_timer>(strand);
        idle_timer->expires_after(due > now ? due - now : Clock::duration::zero());
        idle_timer->async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
            if (ec || generation != self->heartbeat_generation) return;
            if (Clock::now() - self->last_frame_at >= self->config.idle_timeout) {
                Error e(Errc::heartbeat_timeout, "no frame received for " +
                                                     std::to_string(self->config.idle_timeout.count()) + " ms");
                if (auto s = self->current_session()) s->abort(e, close_code::going_away, "idle timeout");
                return;
            }
            self->schedule_idle_check(generation);
        });
    }

    // ---- outbound -----------------------------------------------------------------------------------------------
    std::shared_ptr<Session> current_session() {
        std::lock_guard lock(mutex);
        return session;
    }

    void send_on_current(Opcode op, std::string_view data) {
        if (auto s = current_session()) (void)s->send(op, data, no_callback);
    }

    bool can_send_now() const noexcept {
        return state.load(std::memory_order_acquire) == State::connected ||
               (opening.load(std::memory_order_acquire) && strand.running_in_this_thread());
    }

    // The Runtime is gone: complete at once, on the caller's thread (there is no loop to run it on).
    Status fail_stopped(SendCallback& done) {
        Error e = stopped_error();
        if (done) {
            SendCallback cb = std::move(done);
            guarded([&] { cb(e); });
        }
        return e;
    }

    template <class Payload>
    Status send(Opcode op, Payload&& data, SendCallback& done) {
        if (stopped()) return fail_stopped(done);
        if (config.rate_limit && config.rate_limit->enabled()) {
            auto admitted = config.rate_limit->admit(std::string_view(data));
            if (!admitted) {
                complete_later(done, admitted.error());
                return admitted.error();
            }
            if (admitted.value() > Clock::duration::zero() || delayed_count.load(std::memory_order_acquire) > 0) {
                // Delay policy: wait for the reserved tokens, in order behind earlier delayed sends.
                auto shared_done = std::make_shared<SendCallback>(std::move(done));
                enqueue_delayed(Clock::now() + admitted.value(),
                                [self = shared_from_this(), op, text = std::string(std::forward<Payload>(data)),
                                 shared_done]() mutable { (void)self->send_admitted(op, std::move(text), *shared_done); });
                return {};
            }
        }
        return send_admitted(op, std::forward<Payload>(data), done);
    }

    void arm_delayed() {
        if (delayed.empty()) return;
        if (!delayed_timer) delayed_timer = std::make_unique<asio::steady_timer>(strand);
        delayed_timer->expires_at(delayed.front().due);
        delayed_timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            auto now = Clock::now();
            while (!self->delayed.empty() && self->delayed.front().due <= now) {
                DelayedAction action = std::move(self->delayed.front());
                self->delayed.pop_front();
                action.run();
                self->delayed_count.fetch_sub(1, std::memory_order_acq_rel);
            }
            self->arm_delayed();
        });
    }

    template <class Payload>
    Status send_admitted(Opcode op, Payload&& data, SendCallback& done) {
        std::unique_lock lock(mutex);
        if (can_send_now() && session) {
            auto s = session;
            lock.unlock();
            if (recorder) record(RecordDirection::out, op, std::string_view(data));
            Status st;
            if constexpr (std::is_same_v<std::decay_t<Payload>, std::string> && std::is_rvalue_reference_v<Payload&&>) {
                st = s->send_owned(op, std::move(data), done);
            } else {
                st = s->send(op, std::string_view(data), done);
            }
            if (st.ok()) {
                if (handlers.observer) handlers.observer->message_out(op, std::string_view(data).size());
                return st;
            }
            lock.lock();
            // The session is closing: fall through to the not-connected policy.
        }
        QueuedSend queued{op, std::string(std::forward<Payload>(data)), std::move(done), {}, {}, {}};
        return enqueue_locked(lock, queued);
    }

    // Not connected: apply the send policy to one send or request. Caller holds `lock` on mutex (released here).
    Status enqueue_locked(std::unique_lock<std::mutex>& lock, QueuedSend& item) {
        State now = state.load(std::memory_order_acquire);
        if (now == State::closed || now == State::disconnected || config.send_policy == SendPolicy::fail_fast) {
            Error e(now == State::closed ? Errc::closed_by_user : Errc::not_connected,
                    std::string("cannot send while ") + std::string(to_string(now)));
            if (anchor->stopped.load(std::memory_order_acquire)) e = stopped_error();
            lock.unlock();
            fail_queued(item, e);
            return e;
        }
        if (queue.size() >= config.send_queue_limit) {
            if (handlers.observer) handlers.observer->queue_overflow(queue.size());
            if (config.overflow_policy == OverflowPolicy::reject_new) {
                Error e(Errc::queue_full, "send queue full (" + std::to_string(queue.size()) + " messages)");
                lock.unlock();
                fail_queued(item, e);
                return e;
            }
            QueuedSend dropped = std::move(queue.front());
            queue.pop_front();
            fail_queued(dropped, Error(Errc::queue_full, "dropped from a full send queue (drop_oldest)"));
        }
        queue.push_back(std::move(item));
        return {};
    }

    void fail_queued(QueuedSend& item, const Error& e) {
        if (item.is_request()) {
            complete_reply_later(std::move(item.reply), e);
        } else {
            complete_later(item.done, e);
        }
    }

    void complete_later(SendCallback& done, const Error& e) {
        if (!done) return;
        asio::post(strand, [self = shared_from_this(), done = std::move(done), e]() mutable {
            self->guarded([&] { done(e); });
        });
    }

    // Writes the sends buffered while not connected and switches to `connected` in one step: the queue is found
    // empty and the state changed under the same lock that send_admitted() holds, so no send can slip into the
    // queue behind the flush (senders on other threads keep queueing until then, in order). Returns the old state.
    State flush_queue_and_go_live() {
        for (int round = 0;; ++round) {
            Fifo<QueuedSend> pending;
            std::shared_ptr<Session> s;
            {
                std::lock_guard lock(mutex);
                if (queue.empty()) return state.exchange(State::connected, std::memory_order_acq_rel);
                pending.swap(queue);
                s = session;
            }
            for (auto& q : pending) {
                if (!s) {
                    fail_queued(q, Error(Errc::not_connected, "connection lost while flushing the send queue"));
                } else if (q.is_request()) {
                    write_request(*s, std::move(q.data), std::move(q.reply), q.key, q.timeout);
                } else if (Status st = s->send_owned(q.op, std::move(q.data), q.done); !st) {
                    complete_later(q.done, st.error());
                }
            }
        }
    }

    // ---- requests -------------------------------------------------------------------------------------------
    // A request is tracked and written on the caller's thread, like a send, so it keeps its place among that
    // thread's messages. The tracker is shared with the strand (replies, deadlines) under RequestState::mutex.
    void request(std::string text, Client::ReplyCallback done, std::chrono::milliseconds timeout) {
        if (stopped()) return complete_reply(done, stopped_error());
        JsonEnvelope env = scan_json(text);
        if (!env.valid || !env.id) {
            complete_reply_later(std::move(done),
                                 Error(Errc::invalid_request, "a request must be a JSON object with an \"id\""));
            return;
        }
        requests_issued.store(true, std::memory_order_relaxed);
        std::string key = env.id.key();
        if (config.rate_limit && config.rate_limit->enabled()) {
            auto admitted = config.rate_limit->admit(text);
            if (!admitted) return complete_reply_later(std::move(done), admitted.error());
            if (admitted.value() > Clock::duration::zero() || delayed_count.load(std::memory_order_acquire) > 0) {
                auto self = shared_from_this();
                auto shared_done = std::make_shared<Client::ReplyCallback>(std::move(done));
                return enqueue_delayed(Clock::now() + admitted.value(),
                                       [self, text = std::move(text), shared_done, key, timeout]() mutable {
                                           self->submit_request(std::move(text), std::move(*shared_done), key,
                                                                timeout);
                                       });
            }
        }
        submit_request(std::move(text), std::move(done), key, timeout);
    }

    void submit_request(std::string text, Client::ReplyCallback done, const std::string& key,
                        std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        if (can_send_now() && session) {
            auto s = session;
            lock.unlock();
            return write_request(*s, std::move(text), std::move(done), key, timeout);
        }
        QueuedSend queued{Opcode::text, std::move(text), {}, std::move(done), key, timeout};
        (void)enqueue_locked(lock, queued);  // a failure completes `done` itself
    }

    void write_request(Session& s, std::string text, Client::ReplyCallback done, const std::string& key,
                       std::chrono::milliseconds timeout) {
        auto now = Clock::now();
        auto deadline = now + (timeout.count() > 0 ? timeout : config.request_timeout);
        bool arm = false;
        RequestState& r = requests_state();
        {
            std::lock_guard lock(r.mutex);
            if (auto st = r.tracker.track(key, now, deadline, std::move(done)); !st) {
                // Duplicate id: nothing tracked, nothing sent, `done` is still ours.
                complete_reply_later(std::move(done), std::move(st).error());
                return;
            }
            pending_requests_gauge.store(r.tracker.pending_count(), std::memory_order_relaxed);
            if (!r.armed || deadline < *r.armed) {
                r.armed = deadline;
                arm = true;
            }
        }
        record(RecordDirection::out, Opcode::text, text);
        SendCallback none;
        Status st = s.send_owned(Opcode::text, std::move(text), none);
        if (!st) {
            std::optional<RequestTracker<Client::ReplyCallback>::Entry> entry;
            {
                std::lock_guard lock(r.mutex);
                entry = r.tracker.resolve(key);
                pending_requests_gauge.store(r.tracker.pending_count(), std::memory_order_relaxed);
            }
            if (entry) complete_reply_later(std::move(entry->token), st.error());
            return;
        }
        if (handlers.observer) handlers.observer->message_out(Opcode::text, 0);
        if (arm) asio::dispatch(strand, [self = shared_from_this()] { self->arm_request_timer(); });
    }

    // Strand. Points the timer at the earliest deadline (only ever moved earlier by writers; after it fires it
    // moves to the next one), so a reply does not re-arm the timer.
    void arm_request_timer() {
        RequestState* r = requests_state_if_any();
        if (!r) return;
        std::optional<Clock::time_point> due;
        {
            std::lock_guard lock(r->mutex);
            due = r->armed;
        }
        if (!due) return;
        r->timer.expires_at(*due);
        r->timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) self->on_request_deadline();
        });
    }

    void on_request_deadline() {
        RequestState& r = requests_state();
        std::vector<RequestTracker<Client::ReplyCallback>::Entry> expired;
        {
            std::lock_guard lock(r.mutex);
            expired = r.tracker.expire(Clock::now());
            r.armed = r.tracker.next_deadline();
            pending_requests_gauge.store(r.tracker.pending_count(), std::memory_order_relaxed);
        }
        for (auto& entry : expired) {
            Error e(Errc::request_timeout, "no reply to request " + entry.key + " within the deadline");
            e.raw = entry.key;
            complete_reply(entry.token, std::move(e));
        }
        arm_request_timer();
    }

    // Strand: completes every pending request (connection lost or client closed).
    void fail_pending_requests(const Error& e) {
        RequestState* r = requests_state_if_any();
        if (!r) return;
        std::vector<RequestTracker<Client::ReplyCallback>::Entry> all;
        {
            std::lock_guard lock(r->mutex);
            all = r->tracker.fail_all();
            r->armed.reset();
            pending_requests_gauge.store(0, std::memory_order_relaxed);
        }
        r->timer.cancel();
        for (auto& entry : all) complete_reply(entry.token, e);
    }

    void complete_reply(Client::ReplyCallback& done, Result<std::string> result) {
        if (!done) return;
        guarded([&] { done(std::move(result)); });
    }

    void complete_reply_later(Client::ReplyCallback done, Error e) {
        if (!done) return;
        asio::post(strand, [self = shared_from_this(), done = std::move(done), e = std::move(e)]() mutable {
            self->complete_reply(done, std::move(e));
        });
    }

    // ---- subscriptions --------------------------------------------------------------------------------------
    // Caller holds subs_mutex. The tracker is created by the first subscribe (idle clients never pay for it); if
    // a connection is up it goes online at once, as restore_subscriptions() does on every connect.
    SubscriptionManager& subscriptions_tracker() {
        if (!subs) {
            subs = std::make_unique<SubscriptionManager>(config.subscription_dialect);
            if (state.load() == State::connected || opening.load()) (void)subs->restore_messages();
        }
        return *subs;
    }

    // No dialect, no subscriptions: which venue's messages to send is the user's explicit choice.
    Status require_dialect() const {
        if (config.subscription_dialect) return {};
        return config_error("subscription_dialect",
                            "subscribe() needs a subscription dialect: set it to zenws::deribit_dialect(), "
                            "zenws::binance_dialect() (zenws/venues/*.hpp) or your own (custom_dialect)");
    }

    Status subscribe(std::vector<std::string> channels) {
        if (auto st = require_dialect(); !st) return st;
        std::lock_guard lock(subs_mutex);
        auto messages = subscriptions_tracker().subscribe(channels);
        if (!messages) return messages.error();
        send_subscription_messages(std::move(messages).value());
        return {};
    }

    Status unsubscribe(std::vector<std::string> channels) {
        if (auto st = require_dialect(); !st) return st;
        std::lock_guard lock(subs_mutex);
        send_subscription_messages(subscriptions_tracker().unsubscribe(channels));
        return {};
    }

    // Caller holds subs_mutex. Written on the caller's thread (in order with its other sends) and charged to the
    // rate limiter like any message; a message that cannot go out now is abandoned: its channels are sent again
    // by the next restore.
    void send_subscription_messages(std::vector<SubscriptionMessage> messages) {
        if (messages.empty()) return;
        requests_issued.store(true, std::memory_order_relaxed);
        auto s = current_session();
        for (auto& m : messages) {
            if (config.rate_limit && config.rate_limit->enabled()) {
                auto admitted = config.rate_limit->admit(m.text);
                if (!admitted) {
                    subs->abandon(m.id);
                    report(admitted.error());
                    continue;
                }
                if (admitted.value() > Clock::duration::zero() ||
                    delayed_count.load(std::memory_order_acquire) > 0) {
                    enqueue_delayed(Clock::now() + admitted.value(),
                                    [self = shared_from_this(), text = std::move(m.text), id = m.id]() mutable {
                                        self->send_subscription_text(std::move(text), id);
                                    });
                    continue;
                }
            }
            write_subscription_text(s.get(), std::move(m.text), m.id);
        }
    }

    void send_subscription_text(std::string text, std::int64_t id) {
        std::lock_guard lock(subs_mutex);
        auto s = current_session();
        write_subscription_text(s.get(), std::move(text), id);
    }

    // Caller holds subs_mutex.
    void write_subscription_text(Session* s, std::string text, std::int64_t id) {
        record(RecordDirection::out, Opcode::text, text);
        SendCallback none;
        if (!s || !s->send_owned(Opcode::text, std::move(text), none)) subs->abandon(id);
    }

    // ---- rate-limit delays (delay policy) -------------------------------------------------------------------
    void enqueue_delayed(Clock::time_point due, std::function<void()> run) {
        delayed_count.fetch_add(1, std::memory_order_acq_rel);
        asio::post(strand, [self = shared_from_this(), due, run = std::move(run)]() mutable {
            self->delayed.push_back(DelayedAction{due, std::move(run)});
            self->arm_delayed();
        });
    }

    void close(std::uint16_t code, std::string reason) {
        asio::post(strand, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
            if (self->user_closed) return;
            self->user_closed = true;
            ++self->retry_generation;
            self->retry_timer.cancel();
            auto s = self->current_session();
            if (s) {
                s->close(code, std::move(reason));  // session_closed (or connect_failed) finishes the close
            } else {
                self->finish_closed();
            }
        });
    }

    // ---- the Runtime was destroyed (see loop_anchor.hpp) --------------------------------------------------------
    bool stopped() const noexcept { return anchor->stopped.load(std::memory_order_acquire); }
    static Error stopped_error() {
        return Error(Errc::runtime_stopped, "the Runtime this client ran on was destroyed");
    }
    // After a call that may have posted work: if the Runtime died meanwhile, run that work here (exactly once).
    void after_call() {
        if (stopped()) anchor->drain();
    }

    // Closes the client for good with Errc::runtime_stopped. `loop_stopped`: nothing runs the loop any more (an
    // owned Runtime joined its threads), so this runs here and the Runtime drains what it posts; otherwise it runs
    // on the strand of the caller's still-running loop.
    void stop_for_runtime(bool loop_stopped) {
        auto run = [self = shared_from_this()] {
            self->inbox_cv.notify_all();
            if (self->user_closed && !self->current_session() && self->state.load() == State::closed) return;
            self->user_closed = true;
            ++self->retry_generation;
            self->retry_timer.cancel();
            if (auto s = self->current_session()) {
                s->abort(stopped_error(), close_code::going_away, "runtime stopped");  // then finish_closed()
            } else {
                self->finish_closed();
            }
        };
        if (loop_stopped) {
            run();
        } else {
            asio::post(strand, std::move(run));
        }
    }

    // The io_context is being destroyed (see ClientRegistry): nothing runs any more. Mark the client closed (so
    // releasing handles does not try to post a close) and drop the references that would keep it alive.
    void detach_for_shutdown() {
        state.store(State::closed, std::memory_order_release);
        std::shared_ptr<Session> s;
        std::function<void(const Error&)> done;
        {
            std::lock_guard lock(mutex);
            s = std::move(session);
            done = std::move(connect_done);
        }
        if (s) s->detach_events();
        if (done) done(Error(Errc::not_connected, "the event loop was shut down before the connection was made"));
    }

    // ---- members ------------------------------------------------------------------------------------------------
    // First member, destroyed last: keeps the io_context (and its services) alive until the strand, the timers and
    // the session below are gone, even when the Runtime was destroyed long before.
    std::shared_ptr<detail::LoopAnchor> anchor;
    detail::Strand strand;
    Config config;
    Handlers handlers;
    std::vector<Url> urls;
    std::shared_ptr<asio::ssl::context> tls;
    detail::SessionCounters counters;
    std::atomic<State> state{State::connecting};
    std::atomic<std::uint64_t> reconnects{0};

    mutable std::mutex mutex;  // session, queue, last_error, subprotocol, connected_at, connect_done
    std::shared_ptr<Session> session;
    Fifo<QueuedSend> queue;
    std::unique_ptr<Error> last_error;  // allocated on the first error (an Error is ~270 bytes)
    // Caller holds mutex.
    void set_last_error(const Error& e) {
        if (last_error) {
            *last_error = e;
        } else {
            last_error = std::make_unique<Error>(e);
        }
    }
    std::string subprotocol;
    std::optional<Clock::time_point> connected_at;
    std::function<void(const Error&)> connect_done;

    std::mutex wait_mutex;  // close_and_wait
    std::condition_variable wait_cv;
    State settled_state = State::connecting;  // the last state whose on_state handler has finished (wait_mutex)

    std::mutex inbox_mutex;
    std::condition_variable inbox_cv;
    Fifo<Message> inbox;


    std::unique_ptr<RecordWriter> recorder;
    std::mutex subs_mutex;  // subs, failed_channels, subscription_restores
    std::unique_ptr<SubscriptionManager> subs;
    std::vector<std::string> failed_channels;
    std::uint64_t subscription_restores = 0;
    bool ever_restored = false;

    std::atomic<bool> opening{false};
    std::atomic<std::size_t> pending_requests_gauge{0};  // mirror of requests.pending_count() for metrics()
    std::atomic<std::size_t> delayed_count{0};

    // Request correlation state, created by the first request (idle and pure-streaming clients never pay for it).
    struct RequestState {
        explicit RequestState(detail::Strand& strand) : timer(strand) {}
        std::mutex mutex;                            // tracker, armed
        RequestTracker<Client::ReplyCallback> tracker;
        std::optional<Clock::time_point> armed;      // the timer's target; only moves earlier until it fires
        asio::steady_timer timer;                    // strand
        std::string key_buffer;                      // strand: key of the reply being routed
    };
    std::unique_ptr<RequestState> request_state;     // created under `mutex`, never destroyed before the client
    std::atomic<RequestState*> request_state_ptr{nullptr};
    RequestState& requests_state() {
        if (RequestState* r = request_state_ptr.load(std::memory_order_acquire)) return *r;
        std::lock_guard lock(mutex);
        if (!request_state) {
            request_state = std::make_unique<RequestState>(strand);
            request_state_ptr.store(request_state.get(), std::memory_order_release);
        }
        return *request_state;
    }
    RequestState* requests_state_if_any() const noexcept { return request_state_ptr.load(std::memory_order_acquire); }
    // strand-only state
    std::atomic<bool> requests_issued{false};
    Fifo<DelayedAction> delayed;
    std::uint64_t hook_generation = 0;
    asio::steady_timer retry_timer;  // backoff between attempts; while a connection opens: the on_reconnect deadline
    std::unique_ptr<asio::steady_timer> heartbeat_timer;  // created when a heartbeat is configured
    std::unique_ptr<asio::steady_timer> idle_timer;       // created when idle_timeout is set
    std::unique_ptr<asio::steady_timer> delayed_timer;  // created on the first delayed (rate-limited) send
    detail::ReconnectLadder ladder;  // flap guard, retry budget, delay floors
    const Url& current_url() const { return urls[ladder.endpoint() % urls.size()]; }
    int attempt_number = 0;
    Clock::time_point last_server_ping_at;
    std::uint64_t retry_generation = 0;
    Clock::time_point attempt_started;
    bool ever_connected = false;
    bool user_closed = false;
    bool crashed = false;
    std::unique_ptr<Error> crash_error;
    std::unique_ptr<Error> forced_reconnect;  // set by Client::reconnect() until the connection has closed
    std::chrono::milliseconds heartbeat_interval{0};
    std::uint64_t heartbeat_generation = 0;
    std::uint64_t heartbeat_sequence = 0;
    bool heartbeat_outstanding = false;
    bool heartbeat_seen = false;
    std::string heartbeat_payload;
    Clock::time_point heartbeat_sent_at;
    Clock::time_point last_frame_at;
    bool watch_idle = false;  // idle_timeout set: every frame refreshes last_frame_at
    SendCallback no_callback;

    mutable std::mutex stats_mutex;  // health, ping_rtt, request_rtt
    HeartbeatHealth health;
    LatencyStats ping_rtt;
    LatencyStats request_rtt;
};

// ---- Client ----------------------------------------------------------------------------------------------------

namespace {

// Knows every client of one io_context. When the io_context is destroyed with clients still connecting or closing,
// their pending handlers are destroyed without running; the client ↔ session references (and a connecting client's
// own handle, held until its connect completes) would then keep both alive forever. shutdown() runs before those
// handlers are destroyed and breaks the references, so everything is freed.
class ClientRegistry final : public asio::execution_context::service {
public:
    static asio::execution_context::id id;
    explicit ClientRegistry(asio::execution_context& context) : asio::execution_context::service(context) {}

    void add(const std::shared_ptr<Client::Impl>& impl) {
        std::lock_guard lock(mutex_);
        if (clients_.size() >= 64 && clients_.size() >= 2 * live_after_prune_) prune();
        clients_.push_back(impl);
    }

    void stop_all(bool loop_stopped) {
        std::vector<std::shared_ptr<Client::Impl>> live;
        {
            std::lock_guard lock(mutex_);
            for (auto& weak : clients_) {
                if (auto impl = weak.lock()) live.push_back(std::move(impl));
            }
        }
        for (auto& impl : live) impl->stop_for_runtime(loop_stopped);
    }

private:
    void prune() {
        std::erase_if(clients_, [](const std::weak_ptr<Client::Impl>& w) { return w.expired(); });
        live_after_prune_ = clients_.size();
    }
    void shutdown() override {
        std::vector<std::weak_ptr<Client::Impl>> clients;
        {
            std::lock_guard lock(mutex_);
            clients.swap(clients_);
        }
        for (auto& weak : clients) {
            if (auto impl = weak.lock()) impl->detach_for_shutdown();
        }
    }

    std::mutex mutex_;
    std::vector<std::weak_ptr<Client::Impl>> clients_;
    std::size_t live_after_prune_ = 0;
};
asio::execution_context::id ClientRegistry::id;

// What user-facing Client handles share: when the last handle goes away, the client is closed. The running client
// keeps itself alive (its own shared_ptr) until the close completes.
struct ClientOwner {
    explicit ClientOwner(std::shared_ptr<Client::Impl> i) : impl(std::move(i)) {}
    ClientOwner(const ClientOwner&) = delete;
    ClientOwner& operator=(const ClientOwner&) = delete;
    std::shared_ptr<Client::Impl> impl;
    ~ClientOwner() {
        if (impl->stopped()) return;  // the Runtime's destruction closed it (runtime_stopped)
        State s = impl->state.load();
        if (s != State::closed && s != State::disconnected) impl->close(close_code::going_away, "client handle released");
    }
};
}  // namespace

namespace detail {
void stop_clients_of(boost::asio::io_context& context, bool loop_stopped) {
    asio::use_service<ClientRegistry>(context).stop_all(loop_stopped);
}
}  // namespace detail

void Client::start(Runtime& runtime, Config config, Handlers handlers, std::function<void(Result<Client>)> done) {
    auto impl = std::make_shared<Impl>(runtime, std::move(config), std::move(handlers));
    if (auto st = impl->prepare(); !st) {
        Error e = st.error();
        asio::post(runtime.context(), [done = std::move(done), e] { done(e); });
        return;
    }
    asio::use_service<ClientRegistry>(runtime.context()).add(impl);
    auto owner = std::make_shared<ClientOwner>(impl);
    Client handle(std::shared_ptr<Impl>(owner, impl.get()));
    impl->connect_done = [handle = std::move(handle), done = std::move(done)](const Error& e) mutable {
        if (e) {
            done(e);
        } else {
            done(std::move(handle));
        }
    };
    impl->start();
}

Result<Client> Client::connect(Config config, Handlers handlers, Runtime* runtime) {
    Runtime& rt = runtime ? *runtime : Runtime::shared();
    auto promise = std::make_shared<std::promise<Result<Client>>>();
    auto future = promise->get_future();
    start(rt, std::move(config), std::move(handlers), [promise](Result<Client> r) { promise->set_value(std::move(r)); });
    return future.get();
}

Result<Client> Client::connect(std::string url, Handlers handlers, Runtime* runtime) {
    Config config;
    config.url = std::move(url);
    return connect(std::move(config), std::move(handlers), runtime);
}

Status Client::send_text(std::string_view text, SendCallback done) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    Status st = impl_->send(Opcode::text, text, done);
    impl_->after_call();
    return st;
}
Status Client::send_text(std::string&& text, SendCallback done) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    Status st = impl_->send(Opcode::text, std::move(text), done);
    impl_->after_call();
    return st;
}
Status Client::send_binary(std::string_view data, SendCallback done) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    Status st = impl_->send(Opcode::binary, data, done);
    impl_->after_call();
    return st;
}
Status Client::send_binary(std::string&& data, SendCallback done) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    Status st = impl_->send(Opcode::binary, std::move(data), done);
    impl_->after_call();
    return st;
}
Status Client::send(Opcode opcode, std::string_view data, SendCallback done) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    if (opcode == Opcode::ping || opcode == Opcode::pong) {
        if (data.size() > max_control_payload) {
            return Error(Errc::protocol_violation, "control frame payload over 125 bytes");
        }
        if (impl_->stopped()) return impl_->fail_stopped(done);
        auto s = impl_->current_session();
        if (!s) return Error(Errc::not_connected, "not connected");
        Status st = s->send(opcode, data, done);
        impl_->after_call();
        return st;
    }
    if (opcode != Opcode::text && opcode != Opcode::binary) {
        return Error(Errc::protocol_violation, "only text, binary, ping and pong frames can be sent directly");
    }
    Status st = impl_->send(opcode, data, done);
    impl_->after_call();
    return st;
}
Status Client::ping(std::string_view payload) { return send(Opcode::ping, payload); }

void Client::request(std::string text, ReplyCallback done, std::chrono::milliseconds timeout) {
    if (!impl_) {
        if (done) done(Error(Errc::not_connected, "empty client handle"));
        return;
    }
    impl_->request(std::move(text), std::move(done), timeout);
    impl_->after_call();
}

Result<std::string> Client::request_blocking(std::string text, std::chrono::milliseconds timeout) {
    if (impl_ && impl_->strand.running_in_this_thread()) {
        return Error(Errc::invalid_request, "request_blocking called on the client's own thread (would deadlock)");
    }
    auto promise = std::make_shared<std::promise<Result<std::string>>>();
    auto future = promise->get_future();
    request(std::move(text), [promise](Result<std::string> r) { promise->set_value(std::move(r)); }, timeout);
    return future.get();
}

void Client::call(std::string_view method, std::string_view params_json, ReplyCallback done,
                  std::chrono::milliseconds timeout) {
    request(build_request(method, params_json).text, std::move(done), timeout);
}

Result<std::string> Client::call_blocking(std::string_view method, std::string_view params_json,
                                          std::chrono::milliseconds timeout) {
    return request_blocking(build_request(method, params_json).text, timeout);
}

void Client::send_message(std::string text, ReplyCallback done) {
    JsonEnvelope env = scan_json(text);
    if (env.valid && env.id) return request(std::move(text), std::move(done));
    SendCallback written;
    if (done) {
        written = [done = std::move(done)](const Error& e) mutable {
            if (e) {
                done(e);
            } else {
                done(std::string());
            }
        };
    }
    (void)send_text(std::move(text), std::move(written));
}

Status Client::subscribe(std::vector<std::string> channels) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    if (impl_->stopped()) return Impl::stopped_error();
    Status st = impl_->subscribe(std::move(channels));
    impl_->after_call();
    return st;
}

Status Client::unsubscribe(std::vector<std::string> channels) {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    if (impl_->stopped()) return Impl::stopped_error();
    Status st = impl_->unsubscribe(std::move(channels));
    impl_->after_call();
    return st;
}

Client::SubscriptionStatus Client::subscriptions() const {
    SubscriptionStatus st;
    if (!impl_) return st;
    std::lock_guard lock(impl_->subs_mutex);
    if (impl_->subs) {
        st.desired = impl_->subs->desired();
        st.confirmed = impl_->subs->confirmed();
        st.pending = impl_->subs->pending();
    }
    st.failed = impl_->failed_channels;
    st.restores = impl_->subscription_restores;
    return st;
}

void Client::reconnect(Error cause) {
    if (!impl_ || impl_->stopped()) return;
    asio::post(impl_->strand, [impl = impl_, cause = std::move(cause)]() mutable {
        impl->request_reconnect(std::move(cause));
    });
}

void Client::close(std::uint16_t code, std::string_view reason) {
    if (!impl_ || impl_->stopped()) return;  // a stopped Runtime closed it already
    impl_->close(code, std::string(reason));
}

bool Client::close_and_wait(std::chrono::milliseconds timeout, std::uint16_t code, std::string_view reason) {
    if (!impl_) return true;
    close(code, reason);
    std::unique_lock lock(impl_->wait_mutex);
    return impl_->wait_cv.wait_for(lock, timeout, [this] {
        State s = impl_->settled_state;
        return s == State::closed || s == State::disconnected;
    });
}

std::optional<Message> Client::receive(std::chrono::milliseconds timeout) {
    if (!impl_) return std::nullopt;
    std::unique_lock lock(impl_->inbox_mutex);
    if (!impl_->inbox_cv.wait_for(lock, timeout, [this] { return !impl_->inbox.empty() || impl_->stopped(); }) ||
        impl_->inbox.empty()) {
        return std::nullopt;
    }
    Message m = std::move(impl_->inbox.front());
    impl_->inbox.pop_front();
    return m;
}

State Client::state() const noexcept { return impl_ ? impl_->state.load() : State::closed; }

Counters Client::counters() const noexcept {
    Counters c;
    if (!impl_) return c;
    const auto& k = impl_->counters;
    c.frames_in = k.frames_in.load(std::memory_order_relaxed);
    c.frames_out = k.frames_out.load(std::memory_order_relaxed);
    c.bytes_in = k.bytes_in.load(std::memory_order_relaxed);
    c.bytes_out = k.bytes_out.load(std::memory_order_relaxed);
    c.messages_in = k.messages_in.load(std::memory_order_relaxed);
    c.messages_out = k.messages_out.load(std::memory_order_relaxed);
    c.reconnects = impl_->reconnects.load(std::memory_order_relaxed);
    return c;
}

HeartbeatHealth Client::heartbeat_health() const {
    if (!impl_) return {};
    std::lock_guard lock(impl_->stats_mutex);
    return impl_->health;
}

ClientMetrics Client::metrics() const {
    ClientMetrics m;
    if (!impl_) return m;
    m.state = state();
    m.counters = counters();
    {
        std::lock_guard lock(impl_->mutex);
        m.send_queue_depth = impl_->queue.size();
        if (impl_->connected_at) {
            m.uptime = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - *impl_->connected_at);
        }
    }
    m.pending_requests = impl_->pending_requests_gauge.load(std::memory_order_relaxed);
    {
        std::lock_guard lock(impl_->subs_mutex);
        m.subscriptions = impl_->subs ? impl_->subs->desired_count() : 0;
    }
    std::lock_guard lock(impl_->stats_mutex);
    m.heartbeat = impl_->health;
    m.ping_rtt = impl_->ping_rtt.snapshot();
    m.request_rtt = impl_->request_rtt.snapshot();
    return m;
}

std::string Client::subprotocol() const {
    if (!impl_) return {};
    std::lock_guard lock(impl_->mutex);
    return impl_->subprotocol;
}

Error Client::last_error() const {
    if (!impl_) return Error(Errc::not_connected, "empty client handle");
    std::lock_guard lock(impl_->mutex);
    return impl_->last_error ? *impl_->last_error : Error();
}

const Config& Client::config() const noexcept {
    static const Config empty;
    return impl_ ? impl_->config : empty;
}

}  // namespace zenws
