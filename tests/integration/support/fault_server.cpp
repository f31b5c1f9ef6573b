// support/fault_server.cpp — owns FaultServer (see the header): accept loop, upgrade answer, per-mode behaviour.
#include "integration/support/fault_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "zenws/handshake.hpp"

namespace zenws::test {

namespace {

bool write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads the request head (bounded in size and time). Returns "" on failure.
std::string read_head(int fd, std::chrono::milliseconds budget) {
    std::string head;
    auto deadline = std::chrono::steady_clock::now() + budget;
    char buf[2048];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return {};
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return {};
        head.append(buf, static_cast<std::size_t>(n));
    }
    return head;
}

std::string header_value(const std::string& head, std::string_view name) {
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string key = "\r\n" + std::string(name) + ":";
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    auto pos = lower.find(key);
    if (pos == std::string::npos) return {};
    pos += key.size();
    auto end = head.find("\r\n", pos);
    std::string v = head.substr(pos, end - pos);
    v.erase(0, v.find_first_not_of(' '));
    v.erase(v.find_last_not_of(' ') + 1);
    return v;
}

std::string close_frame(std::uint16_t code) {
    std::string f;
    f.push_back(static_cast<char>(0x88));
    f.push_back(2);
    f.push_back(static_cast<char>(code >> 8));
    f.push_back(static_cast<char>(code & 0xff));
    return f;
}

}  // namespace

const char* FaultServer::name(Mode m) {
    switch (m) {
        case Mode::drop_fin: return "drop_fin";
        case Mode::drop_close_1001: return "close_1001";
        case Mode::drop_close_1011: return "close_1011";
        case Mode::drop_close_4000: return "close_4000";
        case Mode::status_429: return "status_429";
        case Mode::status_503: return "status_503";
        case Mode::hold: return "hold";
    }
    return "?";
}

FaultServer::FaultServer(Mode mode) : mode_(mode) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        return;
    }
    listener_ = fd;
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { run(); });
}

FaultServer::~FaultServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    drop_all();
    for (auto& w : workers_) {
        if (w.joinable()) w.join();
    }
    if (listener_ >= 0) ::close(listener_);
}

void FaultServer::drop_all() {
    std::lock_guard lock(mutex_);
    for (int fd : held_) ::shutdown(fd, SHUT_RDWR);
}

std::vector<std::chrono::steady_clock::time_point> FaultServer::attempt_times() const {
    std::lock_guard lock(mutex_);
    return times_;
}

void FaultServer::run() {
    while (!stop_) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        attempts_.fetch_add(1);
        {
            std::lock_guard lock(mutex_);
            times_.push_back(std::chrono::steady_clock::now());
        }
        Mode m = mode_.load();
        if (m == Mode::hold) {
            // Held connections get their own thread (bounded: a test opens a few).
            std::lock_guard lock(mutex_);
            held_.push_back(fd);
            workers_.emplace_back([this, fd] { serve(fd); });
        } else {
            serve(fd);  // answered and dropped at once: no thread needed
        }
    }
}

void FaultServer::serve(int fd) {
    Mode m = mode_.load();
    std::string head = read_head(fd, std::chrono::seconds(2));
    if (head.empty()) {
        ::close(fd);
        return;
    }
    if (m == Mode::status_429 || m == Mode::status_503) {
        std::string retry;
        {
            std::lock_guard lock(mutex_);
            retry = retry_after_;
        }
        std::string status = m == Mode::status_429 ? "429 Too Many Requests" : "503 Service Unavailable";
        write_all(fd, "HTTP/1.1 " + status + "\r\nRetry-After: " + retry + "\r\nContent-Length: 0\r\n\r\n");
        ::close(fd);
        return;
    }
    std::string key = header_value(head, "Sec-WebSocket-Key");
    write_all(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: " + compute_accept(key) + "\r\n\r\n");
    upgrades_.fetch_add(1);
    switch (m) {
        case Mode::drop_fin: break;
        case Mode::drop_close_1001: write_all(fd, close_frame(1001)); break;
        case Mode::drop_close_1011: write_all(fd, close_frame(1011)); break;
        case Mode::drop_close_4000: write_all(fd, close_frame(4000)); break;
        case Mode::hold: {
            char buf[65536];
            // Discard until the client (or drop_all) ends it; bounded by the test's own lifetime via stop_.
            while (!stop_) {
                pollfd p{fd, POLLIN, 0};
                int r = ::poll(&p, 1, 50);
                if (r < 0) break;
                if (r == 0) continue;
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) break;
            }
            std::lock_guard lock(mutex_);
            held_.erase(std::remove(held_.begin(), held_.end(), fd), held_.end());
            break;
        }
        default: break;
    }
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
}

}  // namespace zenws::test
