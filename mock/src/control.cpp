// control.cpp — owns the mock exchange's fault controls: the command language (`drop`, `close`, `silence`,
// `delay`, `refuse`, `handshake`, ...; see docs/mock-exchange.md), the line-based TCP control port that serves it,
// MockExchange::control() and the C++ fault setters built on the same commands.
#include <cstdlib>
#include <sstream>

#include "server_internal.hpp"

namespace zenws::mock {

// ---- the control port ---------------------------------------------------------------------------------------------

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return std::string(s);
}

void MockExchange::Impl::control_accept_loop() {
    if (!control_acceptor) return;
    auto self = shared_from_this();
    control_acceptor->async_accept(*strand, [self](error_code ec, tcp::socket sock) {
        if (ec == asio::error::operation_aborted || !self->running) return;
        if (!ec) {
            struct Line : std::enable_shared_from_this<Line> {
                std::shared_ptr<tcp::socket> sock_ptr;
                tcp::socket& sock;
                asio::streambuf buf{64 * 1024};
                std::shared_ptr<MockExchange::Impl> srv;
                std::string reply;
                Line(tcp::socket s, std::shared_ptr<MockExchange::Impl> i)
                    : sock_ptr(std::make_shared<tcp::socket>(std::move(s))), sock(*sock_ptr), srv(std::move(i)) {}
                void read() {
                    auto me = shared_from_this();
                    asio::async_read_until(sock, buf, '\n', [me](error_code ec, std::size_t n) {
                        if (ec || !me->srv->running) return;
                        std::string line(asio::buffers_begin(me->buf.data()), asio::buffers_begin(me->buf.data()) + n);
                        me->buf.consume(n);
                        me->reply = me->srv->command(trim(line)) + "\n";
                        asio::async_write(me->sock, asio::buffer(me->reply), [me](error_code ec2, std::size_t) {
                            if (!ec2) me->read();
                        });
                    });
                }
            };
            auto line = std::make_shared<Line>(std::move(sock), self);
            std::erase_if(self->control_sockets, [](auto& w) { return w.expired(); });
            self->control_sockets.push_back(line->sock_ptr);
            line->read();
        }
        self->control_accept_loop();
    });
}

void MockExchange::Impl::resume_all() {
    for (auto& c : targets(0)) c->resume();
}

// ---- the commands -------------------------------------------------------------------------------------------------

std::string MockExchange::Impl::command(std::string_view line) {
    std::istringstream in{std::string(line)};
    std::string cmd;
    in >> cmd;
    std::uint64_t target = 0;
    if (cmd == "conn") {
        if (!(in >> target) || target == 0) return "ERR usage: conn ID COMMAND ...";
        in >> cmd;
    }
    auto on_off = [&](bool& flag) -> std::string {
        std::string v;
        in >> v;
        if (v != "on" && v != "off") return "ERR usage: " + cmd + " on|off";
        flag = v == "on";
        return "OK " + cmd + " " + v;
    };
    auto count = [&](std::size_t n) { return "OK " + cmd + " " + std::to_string(n); };
    if (cmd.empty()) return "ERR empty command";
    if (cmd == "status") return "OK " + status_now().to_json();
    if (cmd == "ping") return "OK pong";
    if (cmd == "drop" || cmd == "rst") {
        auto list = targets(target);
        for (auto& c : list) c->drop(cmd == "rst");
        return count(list.size());
    }
    if (cmd == "close") {
        int code = 0;
        if (!(in >> code) || code < 1000 || code > 4999) return "ERR usage: close CODE [REASON]";
        std::string reason;
        std::getline(in, reason);
        reason = trim(reason);
        auto list = targets(target);
        for (auto& c : list) c->close_frame(static_cast<std::uint16_t>(code), reason, EndReason::server_close);
        return count(list.size());
    }
    if (cmd == "nopong") return on_off(nopong);
    if (cmd == "reorder") return on_off(reorder);
    if (cmd == "slice") return on_off(slice);
    if (cmd == "silence") {
        auto r = on_off(silence);
        if (!silence) resume_all();
        return r;
    }
    if (cmd == "delay") {
        std::string method;
        long ms = -1;
        if (!(in >> method >> ms) || ms < 0) return "ERR usage: delay METHOD MS";
        if (ms == 0) delays.erase(method);
        else delays[method] = std::chrono::milliseconds(ms);
        return "OK delay " + method + " " + std::to_string(ms);
    }
    if (cmd == "drop_method") {
        std::string method, v;
        if (!(in >> method)) return "ERR usage: drop_method METHOD [off]";
        in >> v;
        if (v == "off") drop_methods.erase(method);
        else drop_methods.insert(method);
        return "OK drop_method " + method + (v == "off" ? " off" : " on");
    }
    if (cmd == "refuse") {
        double secs = -1;
        if (!(in >> secs) || secs < 0 || secs > 86400) return "ERR usage: refuse SECONDS";
        auto ms = std::chrono::milliseconds(static_cast<long long>(secs * 1000));
        if (acceptor) {
            error_code ec;
            acceptor->close(ec);
            acceptor.reset();
        }
        schedule_reopen(ms, 100);
        return "OK refuse " + std::to_string(secs);
    }
    if (cmd == "handshake") {
        std::string v;
        in >> v;
        if (v == "503") handshake_fault = HandshakeFault::status_503;
        else if (v == "429") handshake_fault = HandshakeFault::status_429;
        else if (v == "bad_accept") handshake_fault = HandshakeFault::bad_accept;
        else if (v == "no_101") handshake_fault = HandshakeFault::no_101;
        else if (v == "off") handshake_fault = HandshakeFault::none;
        else return "ERR usage: handshake 503|429|bad_accept|no_101|off";
        return "OK handshake " + v;
    }
    if (cmd == "flood") {
        long long n = -1, size = -1;
        if (!(in >> n >> size) || n < 0 || size < 0 || n > 1'000'000 || size > (64 << 20))
            return "ERR usage: flood COUNT SIZE";
        auto list = targets(target);
        for (auto& c : list) c->flood(static_cast<std::size_t>(n), static_cast<std::size_t>(size));
        return count(list.size());
    }
    if (cmd == "skip_heartbeat" || cmd == "gap") {
        auto list = targets(target);
        for (auto& c : list) cmd == "gap" ? c->gap() : c->skip_heartbeat();
        return count(list.size());
    }
    if (cmd == "help")
        return "OK commands: status | [conn ID] drop | rst | close CODE [REASON] | flood N SIZE | skip_heartbeat | gap"
               " | nopong on|off | silence on|off | reorder on|off | slice on|off | delay METHOD MS"
               " | drop_method METHOD [off] | refuse SECONDS | handshake 503|429|bad_accept|no_101|off | ping";
    return "ERR unknown command: " + cmd;
}

// ---- MockExchange: control() and the fault setters ----------------------------------------------------------------

std::string MockExchange::control(std::string_view line) {
    std::string l(line);
    return impl_->on_strand([this, l] { return impl_->command(trim(l)); });
}

namespace {
std::string conn_prefix(std::uint64_t id) { return id ? "conn " + std::to_string(id) + " " : std::string(); }
std::size_t count_of(const std::string& reply) {
    auto sp = reply.rfind(' ');
    return reply.rfind("OK", 0) == 0 && sp != std::string::npos ? std::strtoull(reply.c_str() + sp + 1, nullptr, 10) : 0;
}
}  // namespace

std::size_t MockExchange::drop(std::uint64_t c) { return count_of(control(conn_prefix(c) + "drop")); }
std::size_t MockExchange::reset(std::uint64_t c) { return count_of(control(conn_prefix(c) + "rst")); }
std::size_t MockExchange::close(std::uint16_t code, std::string reason, std::uint64_t c) {
    return impl_->on_strand([&] {
        auto list = impl_->targets(c);
        for (auto& conn : list) conn->close_frame(code, reason, EndReason::server_close);
        return list.size();
    });
}
std::size_t MockExchange::flood(std::size_t count, std::size_t size, std::uint64_t c) {
    return count_of(control(conn_prefix(c) + "flood " + std::to_string(count) + " " + std::to_string(size)));
}
std::size_t MockExchange::skip_heartbeat(std::uint64_t c) { return count_of(control(conn_prefix(c) + "skip_heartbeat")); }
std::size_t MockExchange::gap(std::uint64_t c) { return count_of(control(conn_prefix(c) + "gap")); }
void MockExchange::set_nopong(bool on) { control(on ? "nopong on" : "nopong off"); }
void MockExchange::set_silence(bool on) { control(on ? "silence on" : "silence off"); }
void MockExchange::set_reorder(bool on) { control(on ? "reorder on" : "reorder off"); }
void MockExchange::set_slice(bool on) { control(on ? "slice on" : "slice off"); }
void MockExchange::set_delay(std::string method, std::chrono::milliseconds d) {
    impl_->on_strand([&] {
        if (d.count() <= 0) impl_->delays.erase(method);
        else impl_->delays[method] = d;
    });
}
void MockExchange::set_drop_method(std::string method, bool on) {
    impl_->on_strand([&] {
        if (on) impl_->drop_methods.insert(method);
        else impl_->drop_methods.erase(method);
    });
}
void MockExchange::refuse_for(std::chrono::milliseconds d) {
    control("refuse " + std::to_string(static_cast<double>(d.count()) / 1000.0));
}
void MockExchange::set_handshake_fault(HandshakeFault f) {
    impl_->on_strand([&] { impl_->handshake_fault = f; });
}

}  // namespace zenws::mock
