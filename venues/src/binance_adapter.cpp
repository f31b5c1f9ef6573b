// binance_adapter.cpp — owns binance::StreamAdapter: the pool of stream connections (max streams each), live
// SUBSCRIBE/UNSUBSCRIBE through binance_dialect, per-connection incoming-message limiter, server-ping liveness,
// make-before-break rotation (lifetime timer, serverShutdown) and the deduplication of the overlap; plus the event
// parser and URL builder.
#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "zenws/venues/binance.hpp"
#include "zenws/venues/venue.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/rate_limiter.hpp"
#include "zenws/runtime.hpp"
#include "zenws/subscriptions.hpp"

namespace zenws::binance {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
std::string_view raw_string(std::string_view object, std::string_view key) {
    auto m = adapters::json_member(object, key);
    if (!m || m->size() < 2 || m->front() != '"') return {};
    return m->substr(1, m->size() - 2);
}
}  // namespace

bool is_server_shutdown(std::string_view text) {
    JsonEnvelope env = scan_json(text);
    return env.valid && env.server_shutdown;
}

std::optional<Event> parse_event(std::string_view text) {
    JsonEnvelope env = scan_json(text);
    if (!env.valid || env.server_shutdown || env.has_error || env.is_response() || env.has_result) return std::nullopt;
    Event ev;
    if (!env.channel.empty() && !env.data_raw.empty()) {
        ev.stream = env.channel;
        ev.data = env.data_raw;
    } else {
        ev.data = text;
    }
    auto t = ev.data.find_first_not_of(" \t\r\n");
    if (t == std::string_view::npos || ev.data[t] != '{') return std::nullopt;
    ev.type = raw_string(ev.data, "e");
    ev.symbol = raw_string(ev.data, "s");
    ev.event_time = adapters::json_int(ev.data, "E").value_or(0);
    if (ev.type == "aggTrade") {
        ev.id = adapters::json_int(ev.data, "a");
    } else if (ev.type == "trade") {
        ev.id = adapters::json_int(ev.data, "t");
    } else if (ev.type == "kline" || ev.type == "24hrTicker" || ev.type == "24hrMiniTicker") {
        // the same candle / ticker repeats its ids: keyed by event time
    } else {
        ev.id = adapters::json_int(ev.data, "u");  // depthUpdate, bookTicker, others
    }
    return ev;
}

std::string stream_url(std::string_view base, std::span<const std::string> streams, bool combined) {
    std::string url(base);
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += combined ? "/stream" : "/ws";
    if (streams.empty()) return url;
    url += combined ? "?streams=" : "/";
    for (std::size_t i = 0; i < streams.size(); ++i) {
        if (i) url += '/';
        url += streams[i];
    }
    return url;
}

struct StreamAdapter::Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(StreamOptions o) : opt(std::move(o)), runtime(opt.runtime ? opt.runtime : &Runtime::shared()) {}

    struct Slot {
        std::size_t index = 0;
        std::set<std::string> streams;
        Client active, incoming;
        std::uint64_t active_conn = 0, incoming_conn = 0;
        bool rotating = false;
        std::uint64_t lifetime_epoch = 0;
    };
    struct Last {
        std::int64_t key = 0;
        std::uint64_t conn = 0;
        bool strict = true;
    };

    StreamOptions opt;
    Runtime* runtime;
    mutable std::mutex mu;  // slots, stats, closed
    std::vector<std::shared_ptr<Slot>> slots;
    std::uint64_t next_conn = 0;
    bool closed = false;
    StreamStats st;
    std::vector<std::shared_ptr<asio::steady_timer>> timers;

    std::mutex deliver_mu;  // dedup + serialized delivery
    std::map<std::string, Last, std::less<>> last;
    std::set<std::uint64_t> retired;  // connections replaced by a rotation: their late events are dropped
    std::string key_buf;

    Config make_config() const {
        Config c = opt.config;
        c.url = stream_url(opt.base_url, {}, opt.combined);
        c.subscription_dialect = binance_dialect(opt.max_streams_per_connection, opt.max_streams_per_connection);
        if (opt.server_ping_timeout.count() > 0) {
            c.heartbeat.type = HeartbeatType::server_ping;
            c.heartbeat.interval = std::max(std::chrono::milliseconds(1), opt.server_ping_timeout / 2);
            c.heartbeat.failure_threshold = 2;
        }
        if (opt.rate_limit && !c.rate_limit) {
            auto preset = rate_limits::binance_incoming();
            auto policy = RateLimitPolicy::single(preset.bucket, preset.cost, RateLimitPolicy::Mode::delay,
                                                  std::chrono::milliseconds(5000));
            policy.rules[0].control_frame_cost = preset.control_frame_cost;
            c.rate_limit = std::make_shared<RateLimitPolicy>(std::move(policy));
        }
        return c;
    }

    // Starts a Client for `slot` (the first one, or the incoming one of a rotation). Caller holds no lock.
    void start_connection(const std::shared_ptr<Slot>& slot, std::uint64_t conn) {
        std::weak_ptr<Impl> weak = weak_from_this();
        Handlers h;
        h.on_message = [weak, slot, conn](MessageView v) {
            if (auto s = weak.lock()) s->on_message(slot, conn, v.data);
        };
        h.on_reconnect = [weak, slot, conn](Client& c, std::function<void(Status)> done) {
            if (auto s = weak.lock()) s->on_connected(slot, conn, c);
            done({});
        };
        {
            std::lock_guard lock(mu);
            ++st.connections_opened;
        }
        Client::start(*runtime, make_config(), std::move(h), [weak, slot, conn](Result<Client> r) {
            auto s = weak.lock();
            if (!s || !r) return;
            bool promote = false;
            Client stale;
            {
                std::lock_guard lock(s->mu);
                // Keep the owning handle (the hook's handle does not keep the client alive).
                if (slot->active_conn == conn && !s->closed) slot->active = r.value();
                else if (slot->incoming_conn == conn && !s->closed) slot->incoming = r.value();
                else stale = r.value();  // replaced or closed meanwhile
                promote = slot->rotating && slot->incoming_conn == conn && slot->streams.empty();
            }
            if (stale.valid()) stale.close();
            if (promote) s->promote(slot, conn);
        });
    }

    // After every (re)connection of a pooled Client: re-apply the slot's streams (the client is offline during the
    // hook: they are sent by its restore right after), and restart the lifetime timer of an active connection.
    void on_connected(const std::shared_ptr<Slot>& slot, std::uint64_t conn, Client& c) {
        std::vector<std::string> streams;
        bool active = false;
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mu);
            if (slot->active_conn == conn) {
                active = true;
                epoch = ++slot->lifetime_epoch;
            }
            streams.assign(slot->streams.begin(), slot->streams.end());
        }
        if (!streams.empty()) (void)c.subscribe(std::move(streams));
        if (active) schedule_lifetime(slot, conn, epoch);
    }

    void schedule_lifetime(const std::shared_ptr<Slot>& slot, std::uint64_t conn, std::uint64_t epoch) {
        if (opt.lifetime.count() <= 0) return;
        after(opt.lifetime, [slot, conn, epoch](Impl& s) {
            {
                std::lock_guard lock(s.mu);
                if (slot->active_conn != conn || slot->lifetime_epoch != epoch) return;
            }
            s.rotate(slot);
        });
    }

    template <class F>
    void after(std::chrono::milliseconds delay, F f) {
        auto timer = std::make_shared<asio::steady_timer>(runtime->context());
        {
            std::lock_guard lock(mu);
            if (closed) return;
            timers.erase(std::remove_if(timers.begin(), timers.end(),
                                        [](auto& t) { return t.use_count() == 1 && t->expiry() < Clock::now(); }),
                         timers.end());
            timers.push_back(timer);
        }
        timer->expires_after(delay);
        std::weak_ptr<Impl> weak = weak_from_this();
        timer->async_wait([weak, f = std::move(f), timer](const boost::system::error_code& ec) mutable {
            auto s = weak.lock();
            if (ec || !s) return;
            {
                std::lock_guard lock(s->mu);
                if (s->closed) return;
            }
            f(*s);
        });
    }

    void rotate(const std::shared_ptr<Slot>& slot) {
        std::uint64_t conn;
        {
            std::lock_guard lock(mu);
            if (closed || slot->rotating) return;
            slot->rotating = true;
            conn = ++next_conn;
            slot->incoming_conn = conn;
            slot->incoming = Client();
        }
        start_connection(slot, conn);
        after(opt.rotation_timeout, [slot, conn](Impl& s) {
            bool connected;
            {
                std::lock_guard lock(s.mu);
                if (!slot->rotating || slot->incoming_conn != conn) return;
                connected = slot->incoming.valid() && slot->incoming.state() == zenws::State::connected;
            }
            if (connected) {
                s.promote(slot, conn);  // no event in time (quiet streams): switch anyway
            } else {
                s.abandon_rotation(slot, conn);
            }
        });
    }

    void abandon_rotation(const std::shared_ptr<Slot>& slot, std::uint64_t conn) {
        Client dead;
        std::uint64_t active_conn, epoch;
        {
            std::lock_guard lock(mu);
            if (!slot->rotating || slot->incoming_conn != conn) return;
            dead = slot->incoming;
            slot->incoming = Client();
            slot->incoming_conn = 0;
            slot->rotating = false;
            active_conn = slot->active_conn;
            epoch = ++slot->lifetime_epoch;
        }
        if (dead.valid()) dead.close();
        // Try again a little later (the old connection keeps serving, and reconnects on its own if cut).
        after(std::max(std::chrono::milliseconds(1000), opt.rotation_timeout), [slot, active_conn, epoch](Impl& s) {
            {
                std::lock_guard lock(s.mu);
                if (slot->active_conn != active_conn || slot->lifetime_epoch != epoch) return;
            }
            s.rotate(slot);
        });
    }

    // The incoming connection delivered data: it becomes the active one, the old one is closed.
    void promote(const std::shared_ptr<Slot>& slot, std::uint64_t conn) {
        Client old;
        std::uint64_t epoch, old_conn;
        {
            std::lock_guard lock(mu);
            if (!slot->rotating || slot->incoming_conn != conn) return;
            old = slot->active;
            old_conn = slot->active_conn;
            slot->active = slot->incoming;
            slot->active_conn = conn;
            slot->incoming = Client();
            slot->incoming_conn = 0;
            slot->rotating = false;
            epoch = ++slot->lifetime_epoch;
            ++st.rotations;
        }
        if (old_conn != 0) {
            std::lock_guard lock(deliver_mu);
            retired.insert(old_conn);
        }
        if (old.valid()) old.close();
        schedule_lifetime(slot, conn, epoch);
    }

    void on_message(const std::shared_ptr<Slot>& slot, std::uint64_t conn, std::string_view text) {
        if (is_server_shutdown(text)) {
            bool active;
            {
                std::lock_guard lock(mu);
                ++st.shutdown_notices;
                active = slot->active_conn == conn;
            }
            if (active) rotate(slot);
            return;
        }
        auto ev = parse_event(text);
        if (!ev) return;
        ev->connection = conn;
        bool first_of_incoming;
        {
            std::lock_guard lock(mu);
            first_of_incoming = slot->rotating && slot->incoming_conn == conn;
        }
        deliver(*ev);
        if (first_of_incoming) promote(slot, conn);
    }

    void deliver(const Event& ev) {
        std::lock_guard lock(deliver_mu);
        if (retired.count(ev.connection)) {
            std::lock_guard lock2(mu);
            ++st.duplicates;
            return;
        }
        key_buf.clear();
        if (!ev.stream.empty()) {
            key_buf.assign(ev.stream);
        } else {
            key_buf.assign(ev.type);
            key_buf += '|';
            key_buf.append(ev.symbol);
        }
        bool strict = ev.id.has_value();
        std::int64_t k = strict ? *ev.id : ev.event_time;
        auto it = last.find(key_buf);
        if (it != last.end()) {
            const Last& l = it->second;
            bool fresh = k > l.key || (!strict && k == l.key && l.conn == ev.connection);
            if (!fresh && retired.count(l.conn) && l.key - k > 10000) {  // a real reset, not the overlap
                // The connection that set the mark is gone and the live one is behind it: the venue's sequence
                // restarted (ids are not exchange-wide). Follow the live connection rather than drop it forever.
                fresh = true;
                std::lock_guard lock2(mu);
                ++st.sequence_resets;
            }
            if (!fresh) {
                std::lock_guard lock2(mu);
                ++st.duplicates;
                return;
            }
            it->second = Last{k, ev.connection, strict};
        } else {
            last.emplace(key_buf, Last{k, ev.connection, strict});
        }
        {
            std::lock_guard lock2(mu);
            ++st.delivered;
        }
        if (opt.on_event) {
            try {
                opt.on_event(ev);
            } catch (...) {
            }
        }
    }
};

StreamAdapter::StreamAdapter(StreamOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

std::shared_ptr<StreamAdapter> StreamAdapter::create(StreamOptions options) {
    return std::shared_ptr<StreamAdapter>(new StreamAdapter(std::move(options)));
}

StreamAdapter::~StreamAdapter() { close(); }

Status StreamAdapter::subscribe(std::vector<std::string> streams) {
    for (auto& s : streams) {
        if (s.empty()) return config_error("streams", "empty stream name");
    }
    std::vector<std::pair<std::shared_ptr<Impl::Slot>, std::vector<std::string>>> adds;
    std::vector<std::pair<std::shared_ptr<Impl::Slot>, std::uint64_t>> fresh;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->closed) return Error(Errc::closed_by_user, "stream adapter closed");
        std::map<Impl::Slot*, std::vector<std::string>> per;
        for (auto& name : streams) {
            bool present = false;
            for (auto& sl : impl_->slots) present = present || sl->streams.count(name);
            if (present) continue;
            std::shared_ptr<Impl::Slot> target;
            for (auto& sl : impl_->slots) {
                if (sl->streams.size() < impl_->opt.max_streams_per_connection) {
                    target = sl;
                    break;
                }
            }
            if (!target) {
                target = std::make_shared<Impl::Slot>();
                target->index = impl_->slots.size();
                target->active_conn = ++impl_->next_conn;
                impl_->slots.push_back(target);
                fresh.emplace_back(target, target->active_conn);
            }
            target->streams.insert(name);
            per[target.get()].push_back(name);
        }
        for (auto& sl : impl_->slots) {
            auto it = per.find(sl.get());
            if (it == per.end()) continue;
            bool is_fresh = std::any_of(fresh.begin(), fresh.end(), [&](auto& f) { return f.first == sl; });
            if (!is_fresh) adds.emplace_back(sl, it->second);
        }
    }
    for (auto& [slot, names] : adds) {
        Client a, b;
        {
            std::lock_guard lock(impl_->mu);
            a = slot->active;
            b = slot->incoming;
        }
        if (a.valid()) (void)a.subscribe(names);
        if (b.valid()) (void)b.subscribe(names);
    }
    for (auto& [slot, conn] : fresh) impl_->start_connection(slot, conn);
    return {};
}

Status StreamAdapter::unsubscribe(std::vector<std::string> streams) {
    std::vector<std::pair<std::shared_ptr<Impl::Slot>, std::vector<std::string>>> removes;
    {
        std::lock_guard lock(impl_->mu);
        for (auto& sl : impl_->slots) {
            std::vector<std::string> mine;
            for (auto& n : streams) {
                if (sl->streams.erase(n)) mine.push_back(n);
            }
            if (!mine.empty()) removes.emplace_back(sl, std::move(mine));
        }
    }
    for (auto& [slot, names] : removes) {
        Client a, b;
        {
            std::lock_guard lock(impl_->mu);
            a = slot->active;
            b = slot->incoming;
        }
        if (a.valid()) (void)a.unsubscribe(names);
        if (b.valid()) (void)b.unsubscribe(names);
    }
    return {};
}

std::vector<std::string> StreamAdapter::streams() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> out;
    for (auto& sl : impl_->slots) out.insert(out.end(), sl->streams.begin(), sl->streams.end());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::vector<std::string>> StreamAdapter::connection_streams() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::vector<std::string>> out;
    for (auto& sl : impl_->slots) out.emplace_back(sl->streams.begin(), sl->streams.end());
    return out;
}

std::size_t StreamAdapter::connection_count() const {
    std::lock_guard lock(impl_->mu);
    return impl_->slots.size();
}

bool StreamAdapter::wait_ready(std::chrono::milliseconds timeout) const {
    auto deadline = Clock::now() + timeout;
    while (true) {
        bool ready = true;
        {
            std::lock_guard lock(impl_->mu);
            for (auto& sl : impl_->slots) {
                ready = ready && !sl->rotating && sl->active.valid() && sl->active.state() == zenws::State::connected;
            }
        }
        if (ready) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void StreamAdapter::rotate(std::size_t index) {
    std::shared_ptr<Impl::Slot> slot;
    {
        std::lock_guard lock(impl_->mu);
        if (index >= impl_->slots.size()) return;
        slot = impl_->slots[index];
    }
    impl_->rotate(slot);
}

Client StreamAdapter::client(std::size_t index) const {
    std::lock_guard lock(impl_->mu);
    if (index >= impl_->slots.size()) return Client();
    return impl_->slots[index]->active;
}

StreamStats StreamAdapter::stats() const {
    std::lock_guard lock(impl_->mu);
    return impl_->st;
}

void StreamAdapter::close() {
    std::vector<Client> clients;
    std::vector<std::shared_ptr<asio::steady_timer>> timers;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->closed) return;
        impl_->closed = true;
        for (auto& sl : impl_->slots) {
            if (sl->active.valid()) clients.push_back(sl->active);
            if (sl->incoming.valid()) clients.push_back(sl->incoming);
        }
        timers.swap(impl_->timers);
    }
    for (auto& t : timers) asio::post(t->get_executor(), [t] { t->cancel(); });
    for (auto& c : clients) c.close();
}

}  // namespace zenws::binance
