// bench/soak/soak_server.cpp — see soak_server.hpp.
#include "soak_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string_view>

namespace soak {

using Clock = std::chrono::steady_clock;

const char* fault_name(Fault f) {
    switch (f) {
        case Fault::kill: return "kill";
        case Fault::reset: return "reset";
        case Fault::blackhole: return "blackhole";
        case Fault::flap: return "flap";
        case Fault::http429: return "http429";
        default: return "none";
    }
}

namespace {

constexpr std::size_t kMaxHandshake = 16 * 1024;
constexpr std::size_t kMaxFrame = 1 << 20;
constexpr std::uint64_t kListenerTag = 1ull << 40;

std::string base64(const unsigned char* p, std::size_t n) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < n; i += 3) {
        std::uint32_t v = std::uint32_t(p[i]) << 16;
        if (i + 1 < n) v |= std::uint32_t(p[i + 1]) << 8;
        if (i + 2 < n) v |= p[i + 2];
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out += i + 2 < n ? tbl[v & 63] : '=';
    }
    return out;
}

bool iequals_prefix(std::string_view line, std::string_view lower_name) {
    if (line.size() < lower_name.size()) return false;
    for (std::size_t i = 0; i < lower_name.size(); ++i) {
        char a = line[i];
        if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
        if (a != lower_name[i]) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload) {
    out.push_back(char(0x80 | opcode));
    if (payload.size() < 126) {
        out.push_back(char(payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        out.push_back(char(126));
        out.push_back(char(payload.size() >> 8));
        out.push_back(char(payload.size() & 0xFF));
    } else {
        out.push_back(char(127));
        for (int i = 7; i >= 0; --i) out.push_back(char((std::uint64_t(payload.size()) >> (8 * i)) & 0xFF));
    }
    out.append(payload);
}

}  // namespace

struct Conn {
    int fd = -1;
    int ep = -1;
    bool upgraded = false;
    bool closing = false;     // close echoed: drop once the output is flushed
    bool blackholed = false;  // out of epoll until the blackhole ends
    bool want_out = false;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
};

struct Endpoint {
    int index = 0;
    int port = 0;
    int lfd = -1;
    Fault active = Fault::none;
    Clock::time_point until{};       // end of the active fault (kill: when the listener comes back)
    Clock::time_point next_fault{};  // start of the next fault
    int retry_after_s = 1;
    std::mt19937_64 rng;
};

struct SoakServer::Impl {
    SoakServer& owner;
    FaultOptions fo;
    int ep_fd = -1;
    std::vector<Endpoint> eps;
    std::vector<std::unique_ptr<Conn>> conns;  // by fd
    std::vector<char> buf = std::vector<char>(256 * 1024);
    int clients;
    Clock::time_point t0;

    Impl(SoakServer& o, FaultOptions f, int c, Clock::time_point start) : owner(o), fo(f), clients(c), t0(start) {}

    ~Impl() {
        for (auto& c : conns) {
            if (c) ::close(c->fd);
        }
        for (auto& e : eps) {
            if (e.lfd >= 0) ::close(e.lfd);
        }
        if (ep_fd >= 0) ::close(ep_fd);
    }

    bool listen_on(Endpoint& e) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(e.port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 4096) < 0) {
            ::close(fd);
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenerTag | std::uint64_t(e.index);
        ::epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev);
        e.lfd = fd;
        return true;
    }

    void close_listener(Endpoint& e) {
        if (e.lfd < 0) return;
        ::epoll_ctl(ep_fd, EPOLL_CTL_DEL, e.lfd, nullptr);
        ::close(e.lfd);
        e.lfd = -1;
    }

    int minute_now() const {
        auto m = std::chrono::duration_cast<std::chrono::minutes>(Clock::now() - t0).count();
        return int(std::min<long>(m, owner.minutes_ - 1));
    }

    // ---- connections -----------------------------------------------------------------------------------------
    void arm(Conn& c) {
        epoll_event ev{};
        ev.events = EPOLLIN | (c.want_out ? std::uint32_t(EPOLLOUT) : 0u);
        ev.data.u64 = std::uint64_t(c.fd);
        ::epoll_ctl(ep_fd, EPOLL_CTL_MOD, c.fd, &ev);
    }

    void drop(int fd, bool rst) {
        auto& c = conns[fd];
        if (!c) return;
        if (!c->blackholed) ::epoll_ctl(ep_fd, EPOLL_CTL_DEL, fd, nullptr);
        if (rst) {
            linger l{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        ::close(fd);
        c.reset();
        owner.stats_.open_conns.fetch_sub(1, std::memory_order_relaxed);
    }

    void drop_endpoint(int ep, bool rst) {
        for (auto& c : conns) {
            if (c && c->ep == ep) drop(c->fd, rst);
        }
    }

    void accept_all(Endpoint& e) {
        for (int guard = 0; guard < 1024 && e.lfd >= 0; ++guard) {
            int fd = ::accept4(e.lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            if (std::size_t(fd) >= conns.size()) {
                ::close(fd);
                continue;
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Conn>();
            c->fd = fd;
            c->ep = e.index;
            c->blackholed = e.active == Fault::blackhole;
            if (!c->blackholed) {
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = std::uint64_t(fd);
                ::epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev);
            }
            conns[fd] = std::move(c);
            auto& st = owner.stats_;
            st.accepts.fetch_add(1, std::memory_order_relaxed);
            st.accepts_per_minute[std::size_t(e.index) * owner.minutes_ + minute_now()].fetch_add(
                1, std::memory_order_relaxed);
            auto open = st.open_conns.fetch_add(1, std::memory_order_relaxed) + 1;
            if (open > st.max_open_conns.load(std::memory_order_relaxed)) {
                st.max_open_conns.store(open, std::memory_order_relaxed);
            }
        }
    }

    // Returns false when the connection must be dropped.
    bool flush(Conn& c) {
        while (c.out_off < c.out.size()) {
            ssize_t w = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                return false;
            }
            c.out_off += std::size_t(w);
        }
        if (c.out_off == c.out.size()) {
            c.out.clear();
            c.out_off = 0;
            if (c.out.capacity() > 64 * 1024) c.out.shrink_to_fit();
            if (c.closing) return false;
        }
        bool want = c.out_off < c.out.size();
        if (want != c.want_out) {
            c.want_out = want;
            arm(c);
        }
        return true;
    }

    bool on_readable(Conn& c) {
        ssize_t r = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (r == 0) return false;
        if (r < 0) return errno == EAGAIN || errno == EINTR;
        c.in.append(buf.data(), std::size_t(r));
        if (!c.upgraded) {
            auto end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) return c.in.size() <= kMaxHandshake;
            if (!handshake(c, std::string_view(c.in).substr(0, end + 4))) return false;
            c.in.erase(0, end + 4);
        }
        if (c.upgraded && !frames(c)) return false;
        if (c.in.capacity() > 64 * 1024 && c.in.size() < 1024) c.in.shrink_to_fit();
        return flush(c);
    }

    // Returns false when the connection must be dropped (after the answer was written, best effort).
    bool handshake(Conn& c, std::string_view req) {
        auto& st = owner.stats_;
        st.handshakes.fetch_add(1, std::memory_order_relaxed);
        std::string_view key;
        std::size_t pos = req.find("\r\n");
        std::string_view request_line = req.substr(0, pos);
        // GET /soak/<n> HTTP/1.1
        if (auto p = request_line.find("/soak/"); p != std::string_view::npos) {
            long n = 0;
            bool any = false;
            for (std::size_t i = p + 6; i < request_line.size() && request_line[i] >= '0' && request_line[i] <= '9';
                 ++i) {
                n = n * 10 + (request_line[i] - '0');
                any = true;
            }
            if (any && n >= 0 && n < clients) st.handshakes_by_client[std::size_t(n)].fetch_add(1, std::memory_order_relaxed);
        }
        while (pos != std::string_view::npos && pos + 2 < req.size()) {
            std::size_t next = req.find("\r\n", pos + 2);
            std::string_view line = req.substr(pos + 2, next - pos - 2);
            if (iequals_prefix(line, "sec-websocket-key:")) key = trim(line.substr(18));
            pos = next;
        }
        Endpoint& e = eps[std::size_t(c.ep)];
        if (e.active == Fault::http429) {
            st.rejected_429.fetch_add(1, std::memory_order_relaxed);
            c.out += "HTTP/1.1 429 Too Many Requests\r\nRetry-After: " + std::to_string(e.retry_after_s) +
                     "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            (void)flush(c);
            return false;
        }
        if (key.empty()) {
            c.out += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            (void)flush(c);
            return false;
        }
        std::string k(key);
        k += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1(reinterpret_cast<const unsigned char*>(k.data()), k.size(), digest);
        c.out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: " + base64(digest, sizeof digest) + "\r\n\r\n";
        if (e.active == Fault::flap) {
            st.flapped.fetch_add(1, std::memory_order_relaxed);
            (void)flush(c);
            return false;  // accepted the upgrade, dropped at once
        }
        st.upgrades.fetch_add(1, std::memory_order_relaxed);
        c.upgraded = true;
        return true;
    }

    bool frames(Conn& c) {
        std::size_t off = 0;
        auto& st = owner.stats_;
        while (true) {
            std::size_t avail = c.in.size() - off;
            if (avail < 2) break;
            const auto* p = reinterpret_cast<const std::uint8_t*>(c.in.data() + off);
            std::uint8_t opcode = p[0] & 0x0F;
            bool masked = p[1] & 0x80;
            std::uint64_t len = p[1] & 0x7F;
            std::size_t h = 2;
            if (len == 126) {
                if (avail < 4) break;
                len = (std::uint64_t(p[2]) << 8) | p[3];
                h = 4;
            } else if (len == 127) {
                if (avail < 10) break;
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
                h = 10;
            }
            if (!masked || len > kMaxFrame) return false;
            if (avail < h + 4 + len) break;
            const std::uint8_t* mask = p + h;
            char* payload = c.in.data() + off + h + 4;
            for (std::uint64_t i = 0; i < len; ++i) payload[i] = char(payload[i] ^ mask[i & 3]);
            std::string_view data(payload, std::size_t(len));
            off += h + 4 + std::size_t(len);
            st.frames_in.fetch_add(1, std::memory_order_relaxed);
            switch (opcode) {
                case 0x1: {
                    constexpr std::string_view req = R"({"jsonrpc":"2.0","id":)";
                    if (data.substr(0, req.size()) == req) {
                        std::size_t i = req.size();
                        while (i < data.size() && data[i] >= '0' && data[i] <= '9') ++i;
                        std::string reply(req);
                        reply.append(data.substr(req.size(), i - req.size()));
                        reply += R"(,"result":"ok"})";
                        append_frame(c.out, 0x1, reply);
                        st.replies.fetch_add(1, std::memory_order_relaxed);
                    } else {
                        append_frame(c.out, 0x1, data);
                    }
                    break;
                }
                case 0x0:
                case 0x2: append_frame(c.out, opcode, data); break;
                case 0x8:
                    append_frame(c.out, 0x8, data.substr(0, std::min<std::size_t>(data.size(), 125)));
                    c.closing = true;
                    c.in.clear();
                    return true;
                case 0x9: append_frame(c.out, 0xA, data); break;
                case 0xA: break;
                default: return false;
            }
        }
        c.in.erase(0, off);
        return true;
    }

    // ---- faults ----------------------------------------------------------------------------------------------
    int pick(Endpoint& e, const int range[2]) {
        std::uniform_int_distribution<int> d(range[0], std::max(range[0], range[1]));
        return d(e.rng);
    }

    void schedule_next(Endpoint& e, Clock::time_point now) {
        std::exponential_distribution<double> gap(1.0 / std::max(0.1, fo.mean_gap_s));
        double s = std::max(1.0, gap(e.rng));
        e.next_fault = now + std::chrono::milliseconds(std::int64_t(s * 1000));
    }

    void start_fault(Endpoint& e, Clock::time_point now) {
        auto f = Fault(std::uniform_int_distribution<int>(0, int(Fault::count) - 1)(e.rng));
        auto& st = owner.stats_;
        st.faults[int(f)].fetch_add(1, std::memory_order_relaxed);
        st.faults_this_minute[int(f)].fetch_add(1, std::memory_order_relaxed);
        switch (f) {
            case Fault::kill:
                close_listener(e);
                drop_endpoint(e.index, false);
                e.until = now + std::chrono::milliseconds(pick(e, fo.kill_down_ms));
                break;
            case Fault::reset:
                drop_endpoint(e.index, true);
                schedule_next(e, now);
                return;  // instantaneous
            case Fault::blackhole:
                for (auto& c : conns) {
                    if (c && c->ep == e.index && !c->blackholed) {
                        ::epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->fd, nullptr);
                        c->blackholed = true;
                    }
                }
                e.until = now + std::chrono::milliseconds(pick(e, fo.blackhole_ms));
                break;
            case Fault::flap:
                drop_endpoint(e.index, false);
                e.until = now + std::chrono::milliseconds(pick(e, fo.flap_ms));
                break;
            case Fault::http429:
                drop_endpoint(e.index, false);
                e.retry_after_s = pick(e, fo.retry_after_s);
                e.until = now + std::chrono::milliseconds(pick(e, fo.http429_ms));
                break;
            default: return;
        }
        e.active = f;
        st.active_faults.fetch_add(1, std::memory_order_acq_rel);
    }

    void end_fault(Endpoint& e, Clock::time_point now) {
        if (e.active == Fault::kill) {
            if (!listen_on(e)) {
                owner.stats_.rebind_failures.fetch_add(1, std::memory_order_relaxed);
                e.until = now + std::chrono::milliseconds(100);  // try again shortly
                return;
            }
        }
        if (e.active == Fault::blackhole) {
            for (auto& c : conns) {
                if (c && c->ep == e.index && c->blackholed) {
                    c->blackholed = false;
                    epoll_event ev{};
                    ev.events = EPOLLIN | (c->want_out ? std::uint32_t(EPOLLOUT) : 0u);
                    ev.data.u64 = std::uint64_t(c->fd);
                    ::epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->fd, &ev);
                }
            }
        }
        e.active = Fault::none;
        owner.stats_.active_faults.fetch_sub(1, std::memory_order_acq_rel);
        schedule_next(e, now);
    }

    void tick(Clock::time_point now) {
        bool enabled = owner.faults_enabled_.load(std::memory_order_acquire);
        for (auto& e : eps) {
            if (e.active != Fault::none && (!enabled || now >= e.until)) end_fault(e, now);
            if (e.active == Fault::none && enabled && now >= e.next_fault) start_fault(e, now);
        }
    }

    void run() {
        std::vector<epoll_event> events(512);
        while (!owner.stop_.load(std::memory_order_acquire)) {
            int n = ::epoll_wait(ep_fd, events.data(), int(events.size()), 50);
            for (int i = 0; i < n; ++i) {
                std::uint64_t tag = events[i].data.u64;
                if (tag & kListenerTag) {
                    accept_all(eps[std::size_t(tag & 0xFFFF)]);
                    continue;
                }
                int fd = int(tag);
                auto& c = conns[std::size_t(fd)];
                if (!c || c->blackholed) continue;  // stale event
                std::uint32_t ev = events[i].events;
                bool alive = true;
                if (ev & EPOLLOUT) alive = flush(*c);
                if (alive && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) alive = on_readable(*c);
                if (!alive) drop(fd, false);
            }
            tick(Clock::now());
        }
    }
};

SoakServer::SoakServer(int endpoints, int port_base, std::uint64_t seed, FaultOptions faults, int clients,
                       int minutes, Clock::time_point t0)
    : minutes_(std::max(1, minutes)), impl_(std::make_unique<Impl>(*this, faults, clients, t0)) {
    stats_.accepts_per_minute = std::vector<std::atomic<std::uint32_t>>(std::size_t(endpoints) * minutes_);
    stats_.handshakes_by_client = std::vector<std::atomic<std::uint32_t>>(std::size_t(std::max(clients, 1)));
    impl_->eps.resize(std::size_t(endpoints));
    for (int i = 0; i < endpoints; ++i) {
        auto& e = impl_->eps[std::size_t(i)];
        e.index = i;
        e.port = port_base + i;
        e.rng.seed(seed * 0x9E3779B97F4A7C15ull + std::uint64_t(i) * 7919 + 1);
    }
}

SoakServer::~SoakServer() { stop(); }

std::string SoakServer::start() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    impl_->conns.resize(std::size_t(rl.rlim_cur));
    impl_->ep_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (impl_->ep_fd < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    auto now = Clock::now();
    for (auto& e : impl_->eps) {
        // Ports below the ephemeral range; skip ones that are taken.
        bool ok = false;
        for (int tries = 0; tries < 200 && !ok; ++tries) {
            ok = impl_->listen_on(e);
            if (!ok) e.port += int(impl_->eps.size());
        }
        if (!ok) return "cannot bind an endpoint port near " + std::to_string(e.port);
        ports_.push_back(e.port);
        e.next_fault = now + std::chrono::milliseconds(std::int64_t(impl_->fo.first_after_s * 1000));
        std::exponential_distribution<double> gap(1.0 / std::max(0.1, impl_->fo.mean_gap_s));
        e.next_fault += std::chrono::milliseconds(std::int64_t(gap(e.rng) * 1000));
    }
    thread_ = std::thread([this] { impl_->run(); });
    return {};
}

void SoakServer::stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
}

}  // namespace soak
