// bench/echo_server.cpp — the benchmark's WebSocket echo server: single-threaded epoll, plain TCP, TCP_NODELAY.
//
// Handles the HTTP upgrade (echoing the first offered subprotocol), then for every client frame sends back an
// unmasked frame with the same opcode and FIN bit (so fragmented messages come back fragmented the same way).
// Pings are answered with pongs, pongs are dropped, a close frame is echoed and the connection is shut down after
// the output is flushed. Pipelined input: every complete frame in one read is parsed, and all echoes produced by
// that read go out in one write. Output that the kernel does not take stays buffered and EPOLLOUT is armed; reading
// pauses for a connection only if its backlog exceeds 64 MiB (bounded memory).
//
// Binds 127.0.0.1 on --port (default 0 = ephemeral) and prints "READY <port>" once listening.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kMaxBacklog = 64u << 20;
constexpr std::size_t kMaxHandshake = 16 * 1024;
constexpr std::uint64_t kMaxFrame = 64ull << 20;

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

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

bool iequals_prefix(std::string_view line, std::string_view name) {
    if (line.size() < name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char a = line[i], b = name[i];
        if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

struct Conn {
    int fd = -1;
    bool upgraded = false;
    bool closing = false;       // close frame echoed (or protocol error): shut down once output is flushed
    bool want_out = false;      // EPOLLOUT armed
    bool paused = false;        // EPOLLIN disarmed because of backlog
    std::vector<std::uint8_t> in;   // unparsed input (partial frame or partial handshake)
    std::vector<std::uint8_t> out;  // pending output
    std::size_t out_off = 0;
};

class Server {
public:
    explicit Server(int port) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (lfd_ < 0) fatal("socket");
        int one = 1;
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) fatal("bind");
        if (::listen(lfd_, 4096) < 0) fatal("listen");
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ep_ = ::epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = lfd_;
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
        buf_.resize(kReadChunk);
    }

    int port() const { return port_; }

    void run() {
        std::vector<epoll_event> events(1024);
        while (!g_stop) {
            int n = ::epoll_wait(ep_, events.data(), int(events.size()), 1000);
            if (n < 0) {
                if (errno == EINTR) continue;
                fatal("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                int fd = events[i].data.fd;
                if (fd == lfd_) {
                    accept_all();
                    continue;
                }
                auto it = conns_.find(fd);
                if (it == conns_.end()) continue;
                Conn& c = *it->second;
                std::uint32_t e = events[i].events;
                bool alive = true;
                if (e & EPOLLOUT) alive = flush(c);
                if (alive && (e & (EPOLLIN | EPOLLHUP | EPOLLERR))) alive = on_readable(c);
                if (!alive) drop(fd);
            }
        }
    }

private:
    [[noreturn]] static void fatal(const char* what) {
        std::perror(what);
        std::exit(1);
    }

    void accept_all() {
        for (int guard = 0; guard < 4096; ++guard) {
            int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;  // EAGAIN or EMFILE: try again on the next event
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<Conn>();
            c->fd = fd;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = fd;
            ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
            conns_.emplace(fd, std::move(c));
        }
    }

    void drop(int fd) {
        ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns_.erase(fd);
    }

    void update_events(Conn& c) {
        epoll_event ev{};
        ev.events = (c.paused ? 0u : std::uint32_t(EPOLLIN)) | (c.want_out ? std::uint32_t(EPOLLOUT) : 0u);
        ev.data.fd = c.fd;
        ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }

    // Returns false when the connection is finished.
    bool on_readable(Conn& c) {
        ssize_t r = ::recv(c.fd, buf_.data(), buf_.size(), 0);
        if (r == 0) return false;
        if (r < 0) return errno == EAGAIN || errno == EINTR;
        const std::uint8_t* data = buf_.data();
        std::size_t size = std::size_t(r);
        // Parse from the caller's buffer directly when nothing is pending; otherwise append and parse the backlog.
        std::size_t consumed;
        if (c.in.empty()) {
            consumed = process(c, data, size);
            if (consumed < size) c.in.assign(data + consumed, data + size);
        } else {
            c.in.insert(c.in.end(), data, data + size);
            consumed = process(c, c.in.data(), c.in.size());
            c.in.erase(c.in.begin(), c.in.begin() + std::ptrdiff_t(consumed));
        }
        if (c.closing && c.out.size() == c.out_off) return false;
        if (!flush(c)) return false;
        return true;
    }

    // Writes pending output with one send(); arms/disarms EPOLLOUT and read pausing as needed.
    bool flush(Conn& c) {
        std::size_t pending = c.out.size() - c.out_off;
        if (pending) {
            ssize_t w = ::send(c.fd, c.out.data() + c.out_off, pending, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno != EAGAIN && errno != EINTR) return false;
                w = 0;
            }
            c.out_off += std::size_t(w);
            if (c.out_off == c.out.size()) {
                c.out.clear();
                c.out_off = 0;
            }
        }
        pending = c.out.size() - c.out_off;
        bool want_out = pending != 0;
        bool paused = pending > kMaxBacklog;
        if (want_out != c.want_out || paused != c.paused) {
            c.want_out = want_out;
            c.paused = paused;
            update_events(c);
        }
        if (!pending && c.closing) {
            ::shutdown(c.fd, SHUT_WR);
            return false;
        }
        return true;
    }

    std::size_t process(Conn& c, const std::uint8_t* p, std::size_t n) {
        std::size_t off = 0;
        if (!c.upgraded) {
            off = handshake(c, p, n);
            if (!c.upgraded) return off;
        }
        while (!c.closing) {
            std::size_t avail = n - off;
            if (avail < 2) break;
            const std::uint8_t* f = p + off;
            bool fin = f[0] & 0x80;
            std::uint8_t op = f[0] & 0x0F;
            bool masked = f[1] & 0x80;
            std::uint64_t len = f[1] & 0x7F;
            std::size_t hdr = 2;
            if (len == 126) {
                if (avail < 4) break;
                len = (std::uint64_t(f[2]) << 8) | f[3];
                hdr = 4;
            } else if (len == 127) {
                if (avail < 10) break;
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | f[2 + i];
                hdr = 10;
            }
            if (len > kMaxFrame) {
                c.closing = true;
                break;
            }
            std::uint8_t mask[4] = {0, 0, 0, 0};
            if (masked) {
                if (avail < hdr + 4) break;
                std::memcpy(mask, f + hdr, 4);
                hdr += 4;
            }
            if (avail < hdr + len) break;
            const std::uint8_t* payload = f + hdr;
            off += hdr + std::size_t(len);
            if (op == 0xA) continue;                    // pong: nothing to do
            std::uint8_t out_op = op == 0x9 ? 0xA : op;  // ping -> pong; everything else echoed as-is
            emit(c, std::uint8_t((fin ? 0x80 : 0x00) | out_op), payload, std::size_t(len), masked ? mask : nullptr);
            if (op == 0x8) c.closing = true;
        }
        return off;
    }

    // Appends an unmasked server frame; unmasks while copying (8 bytes at a time).
    void emit(Conn& c, std::uint8_t b0, const std::uint8_t* payload, std::size_t len, const std::uint8_t* mask) {
        std::uint8_t hdr[10];
        std::size_t h = 2;
        hdr[0] = b0;
        if (len < 126) {
            hdr[1] = std::uint8_t(len);
        } else if (len <= 0xFFFF) {
            hdr[1] = 126;
            hdr[2] = std::uint8_t(len >> 8);
            hdr[3] = std::uint8_t(len);
            h = 4;
        } else {
            hdr[1] = 127;
            for (int i = 0; i < 8; ++i) hdr[2 + i] = std::uint8_t(std::uint64_t(len) >> (56 - 8 * i));
            h = 10;
        }
        std::size_t base = c.out.size();
        c.out.resize(base + h + len);
        std::uint8_t* dst = c.out.data() + base;
        std::memcpy(dst, hdr, h);
        dst += h;
        if (!mask) {
            std::memcpy(dst, payload, len);
            return;
        }
        std::uint64_t m8;
        std::uint8_t m8b[8];
        for (int i = 0; i < 8; ++i) m8b[i] = mask[i & 3];
        std::memcpy(&m8, m8b, 8);
        std::size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            std::uint64_t v;
            std::memcpy(&v, payload + i, 8);
            v ^= m8;
            std::memcpy(dst + i, &v, 8);
        }
        for (; i < len; ++i) dst[i] = payload[i] ^ mask[i & 3];
    }

    std::size_t handshake(Conn& c, const std::uint8_t* p, std::size_t n) {
        std::string_view req(reinterpret_cast<const char*>(p), n);
        std::size_t end = req.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (n > kMaxHandshake) c.closing = true;
            return 0;
        }
        req = req.substr(0, end + 2);
        std::string_view key, proto;
        std::size_t pos = req.find("\r\n");
        while (pos != std::string_view::npos && pos + 2 < req.size()) {
            std::size_t next = req.find("\r\n", pos + 2);
            std::string_view line = req.substr(pos + 2, next - pos - 2);
            if (iequals_prefix(line, "sec-websocket-key:")) key = trim(line.substr(18));
            else if (iequals_prefix(line, "sec-websocket-protocol:")) {
                proto = trim(line.substr(23));
                std::size_t comma = proto.find(',');
                if (comma != std::string_view::npos) proto = trim(proto.substr(0, comma));
            }
            pos = next;
        }
        std::string resp;
        if (key.empty()) {
            resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            c.closing = true;
        } else {
            std::string k(key);
            k += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
            unsigned char digest[SHA_DIGEST_LENGTH];
            SHA1(reinterpret_cast<const unsigned char*>(k.data()), k.size(), digest);
            resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " + base64(digest, sizeof digest) + "\r\n";
            if (!proto.empty()) resp += "Sec-WebSocket-Protocol: " + std::string(proto) + "\r\n";
            resp += "\r\n";
            c.upgraded = true;
        }
        c.out.insert(c.out.end(), resp.begin(), resp.end());
        return end + 4;
    }

    int lfd_ = -1, ep_ = -1, port_ = 0;
    std::vector<std::uint8_t> buf_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--port P]\n", argv[0]);
            return 2;
        }
    }
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGTERM, on_signal);
    ::signal(SIGINT, on_signal);
    Server s(port);
    std::printf("READY %d\n", s.port());
    std::fflush(stdout);
    s.run();
    return 0;
}
