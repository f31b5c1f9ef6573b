// support/proxy.cpp — owns the implementation of the fault_proxy control client (see proxy.hpp).
#include "integration/support/proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zenws::test {

std::unique_ptr<FaultProxy> FaultProxy::start(const std::string& target_host, std::uint16_t target_port,
                                              std::string* error) {
    std::string err;
    auto proc = start_python_server("fault_proxy.py", {target_host + ":" + std::to_string(target_port)}, &err);
    if (!proc || proc->ports().size() < 2) {
        if (error) *error = proc ? "fault_proxy READY line lacks the control port: " + proc->ready_line() : err;
        return nullptr;
    }
    std::unique_ptr<FaultProxy> proxy(new FaultProxy());
    proxy->listen_port_ = proc->port(0);
    proxy->control_port_ = proc->port(1);
    proxy->process_ = std::move(proc);

    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (error) *error = std::string("socket: ") + std::strerror(errno);
        return nullptr;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(proxy->control_port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {  // loopback: immediate
        if (error) *error = std::string("connect to proxy control port: ") + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    proxy->control_fd_ = fd;
    return proxy;
}

FaultProxy::~FaultProxy() {
    if (control_fd_ >= 0) ::close(control_fd_);
}

std::string FaultProxy::command(const std::string& line, std::chrono::milliseconds timeout) {
    if (control_fd_ < 0) return {};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left_ms = [&] {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return static_cast<int>(std::max<long long>(0, left.count()));
    };
    std::string out = line + "\n";
    std::size_t sent = 0;
    while (sent < out.size()) {
        ssize_t n = ::send(control_fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return {};
        int ms = left_ms();
        if (ms == 0) return {};
        pollfd pfd{control_fd_, POLLOUT, 0};
        ::poll(&pfd, 1, ms);
    }
    for (;;) {
        auto nl = pending_.find('\n');
        if (nl != std::string::npos) {
            std::string reply = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return reply;
        }
        int ms = left_ms();
        if (ms == 0) return {};
        pollfd pfd{control_fd_, POLLIN, 0};
        int pr = ::poll(&pfd, 1, ms);
        if (pr < 0 && errno != EINTR) return {};
        if (pr <= 0) continue;
        char buf[256];
        ssize_t n = ::recv(control_fd_, buf, sizeof buf, 0);
        if (n == 0) return {};
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            return {};
        }
        pending_.append(buf, static_cast<std::size_t>(n));
    }
}

int FaultProxy::number(const std::string& cmd) {
    std::string reply = command(cmd);
    if (!ok(reply) || reply.size() < 4) return -1;
    try {
        return std::stoi(reply.substr(3));
    } catch (...) {
        return -1;
    }
}

int FaultProxy::count() { return number("count"); }
int FaultProxy::active() { return number("active"); }

}  // namespace zenws::test
