// bench/client_floor.cpp — the floor: a minimal hand-written blocking WebSocket client.
//
// Blocking socket with TCP_NODELAY, the upgrade written by hand, each message masked into a reusable buffer and
// written with one send(); echoes read into a flat buffer and parsed in place. No library, no allocation per
// message. In pipeline/throughput modes it writes as many frames as the window allows with one send() and parses
// every frame of each recv(): the "many frames per syscall" reference.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

using bench::die;

struct Mask {
    std::uint64_t s0 = 0x9E3779B97F4A7C15ull, s1 = 0xD1B54A32D192ED03ull;
    std::uint32_t next() {
        std::uint64_t x = s0, y = s1;
        s0 = y;
        x ^= x << 23;
        s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
        return std::uint32_t((s1 + y) >> 32);
    }
};

class FloorConn {
public:
    FloorConn(const bench::Options& o) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) die("socket", std::strerror(errno));
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(std::uint16_t(o.port));
        ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die("connect", std::strerror(errno));
        std::string req = "GET / HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        write_all(reinterpret_cast<const std::uint8_t*>(req.data()), req.size());
        in_.resize(1024);  // grows on demand; idle connections stay small
        // Read the 101 response; anything after the blank line is WebSocket data and stays in the buffer.
        for (int guard = 0; guard < 1000; ++guard) {
            fill();
            std::string_view v(reinterpret_cast<const char*>(in_.data()), end_);
            std::size_t e = v.find("\r\n\r\n");
            if (e == std::string_view::npos) continue;
            if (v.substr(0, 12) != "HTTP/1.1 101") die("upgrade refused");
            begin_ = e + 4;
            return;
        }
        die("upgrade: no response");
    }
    ~FloorConn() { ::close(fd_); }

    void reserve(std::size_t n) {
        if (in_.size() < n) in_.resize(n);
    }

    // Appends one masked client frame to `out`.
    void build(std::vector<std::uint8_t>& out, std::uint8_t opcode, const std::string& payload) {
        std::size_t len = payload.size();
        std::size_t base = out.size();
        std::size_t h = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
        out.resize(base + h + 4 + len);
        std::uint8_t* p = out.data() + base;
        p[0] = std::uint8_t(0x80 | opcode);
        if (h == 2) p[1] = std::uint8_t(0x80 | len);
        else if (h == 4) {
            p[1] = 0x80 | 126;
            p[2] = std::uint8_t(len >> 8);
            p[3] = std::uint8_t(len);
        } else {
            p[1] = 0x80 | 127;
            for (int i = 0; i < 8; ++i) p[2 + i] = std::uint8_t(std::uint64_t(len) >> (56 - 8 * i));
        }
        std::uint32_t key = mask_.next();
        std::uint8_t k[4];
        std::memcpy(k, &key, 4);
        std::memcpy(p + h, k, 4);
        std::uint8_t* d = p + h + 4;
        std::uint64_t k8;
        std::uint8_t kb[8] = {k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]};
        std::memcpy(&k8, kb, 8);
        std::size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            std::uint64_t v;
            std::memcpy(&v, payload.data() + i, 8);
            v ^= k8;
            std::memcpy(d + i, &v, 8);
        }
        for (; i < len; ++i) d[i] = std::uint8_t(payload[i]) ^ k[i & 3];
    }

    void write_all(const std::uint8_t* p, std::size_t n) {
        while (n) {
            ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                die("send", std::strerror(errno));
            }
            p += w;
            n -= std::size_t(w);
        }
    }

    // Parses every complete data frame already buffered; returns how many, and checks their size.
    std::size_t parse(std::size_t expect_size) {
        std::size_t got = 0;
        for (;;) {
            std::size_t avail = end_ - begin_;
            if (avail < 2) break;
            const std::uint8_t* f = in_.data() + begin_;
            std::uint64_t len = f[1] & 0x7F;
            std::size_t h = 2;
            if (len == 126) {
                if (avail < 4) break;
                len = (std::uint64_t(f[2]) << 8) | f[3];
                h = 4;
            } else if (len == 127) {
                if (avail < 10) break;
                len = 0;
                for (int i = 0; i < 8; ++i) len = (len << 8) | f[2 + i];
                h = 10;
            }
            if (avail < h + len) break;
            std::uint8_t op = f[0] & 0x0F;
            if (op == 0x1 || op == 0x2) {
                if (len != expect_size) die("echo size mismatch");
                ++got;
            }
            begin_ += h + std::size_t(len);
        }
        if (begin_ == end_) begin_ = end_ = 0;
        return got;
    }

    // One blocking recv() into the buffer (compacting first if needed).
    void fill() {
        if (begin_ > 0 && (end_ == in_.size() || begin_ > in_.size() / 2)) {
            std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (end_ == in_.size()) {
            if (in_.size() >= (64u << 20)) die("frame too large");
            in_.resize(in_.size() * 2);
        }
        ssize_t r;
        do r = ::recv(fd_, in_.data() + end_, in_.size() - end_, 0);
        while (r < 0 && errno == EINTR);
        if (r <= 0) die("recv: connection closed");
        end_ += std::size_t(r);
    }

private:
    int fd_ = -1;
    Mask mask_;
    std::vector<std::uint8_t> in_;
    std::size_t begin_ = 0, end_ = 0;
};

void run_rtt(const bench::Options& o) {
    FloorConn c(o);
    std::string payload = bench::make_payload(o.size);
    std::vector<std::uint8_t> frame;
    frame.reserve(o.size + 14);
    std::vector<std::uint64_t> samples;
    samples.reserve(o.count);
    bench::Meter m;
    std::uint8_t op = o.text() ? 0x1 : 0x2;
    for (std::size_t i = 0; i < o.warmup + o.count; ++i) {
        if (i == o.warmup) m.start();
        std::uint64_t t0 = bench::now_ns();
        frame.clear();
        c.build(frame, op, payload);
        c.write_all(frame.data(), frame.size());
        std::size_t got = c.parse(o.size);
        while (got == 0) {
            c.fill();
            got = c.parse(o.size);
        }
        std::uint64_t t1 = bench::now_ns();
        if (i >= o.warmup) samples.push_back(t1 - t0);
    }
    m.stop();
    bench::report_rtt("floor", o, samples, m);
}

void run_stream(const bench::Options& o) {
    FloorConn c(o);
    c.reserve(1 << 20);
    std::string payload = bench::make_payload(o.size);
    std::vector<std::uint8_t> batch;
    std::uint8_t op = o.text() ? 0x1 : 0x2;
    std::size_t total = o.count, sent = 0, received = 0;
    bench::Meter m;
    m.start();
    while (received < total) {
        std::size_t room = std::min(o.window - (sent - received), total - sent);
        if (room) {
            batch.clear();
            for (std::size_t i = 0; i < room; ++i) c.build(batch, op, payload);
            c.write_all(batch.data(), batch.size());
            sent += room;
        }
        std::size_t got = c.parse(o.size);
        if (got == 0) {
            c.fill();
            got = c.parse(o.size);
        }
        received += got;
    }
    m.stop();
    bench::report_rate("floor", o, received, m);
}

void run_idle(const bench::Options& o) {
    std::vector<std::unique_ptr<FloorConn>> conns;
    conns.reserve(o.conns);
    conns.push_back(std::make_unique<FloorConn>(o));
    bench::MemSnapshot first = bench::snapshot();
    while (conns.size() < o.conns) conns.push_back(std::make_unique<FloorConn>(o));
    bench::MemSnapshot last = bench::snapshot();
    bench::report_idle("floor", o, first, last, conns.size());
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    switch (o.mode) {
        case bench::Mode::rtt: run_rtt(o); break;
        case bench::Mode::pipeline:
        case bench::Mode::throughput: run_stream(o); break;
        case bench::Mode::idle: run_idle(o); break;
    }
    return 0;
}
