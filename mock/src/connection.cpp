// connection.cpp — owns one connection of the mock exchange (Conn, see server_internal.hpp): the TLS and opening
// handshakes (with the handshake faults), the frame reader (masking, fragments, close, protocol errors), the routing
// of the dialect's output through the reply faults (delay, drop_method, reorder), the frame writer (a write queue;
// `slice` writes 1 byte at a time) and the session's timers and end (recorded for status()).
#include <cctype>

#include "server_internal.hpp"
#include "zenws/handshake.hpp"

namespace zenws::mock {

std::string frame(Opcode op, std::string_view payload) {
    std::string f;
    f.reserve(payload.size() + 10);
    f += static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    std::uint64_t n = payload.size();
    if (n < 126) {
        f += static_cast<char>(n);
    } else if (n <= 0xffff) {
        f += static_cast<char>(126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n & 0xff);
    } else {
        f += static_cast<char>(127);
        for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xff);
    }
    f.append(payload);
    return f;
}

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

}  // namespace

Conn::Conn(std::shared_ptr<MockExchange::Impl> srv, std::uint64_t id, tcp::socket sock)
    : srv_(std::move(srv)), id_(id), tick_timer_(*srv_->strand), io_timer_(*srv_->strand),
      hold_timer_(*srv_->strand) {
    if (srv_->ssl) tls_.emplace(std::move(sock), *srv_->ssl);
    else plain_.emplace(std::move(sock));
}

void Conn::start() {
    arm_io_timeout(std::chrono::seconds(5));
    if (tls_) {
        auto self = shared_from_this();
        tls_->async_handshake(asio::ssl::stream_base::server, [self](error_code ec) {
            if (ec) return self->close_socket(false);
            self->read_http();
        });
    } else {
        read_http();
    }
}

// ---- fault entry points ----

void Conn::drop(bool rst) {
    if (ended_) return;
    set_end(rst ? EndReason::reset_by_server : EndReason::dropped_by_server, 0, {});
    error_code ec;
    if (rst) lowest().set_option(asio::socket_base::linger(true, 0), ec);
    else lowest().shutdown(tcp::socket::shutdown_both, ec);
    close_socket(false);
}

void Conn::close_frame(std::uint16_t code, std::string reason, EndReason why) {
    if (ended_ || close_sent_) return;
    set_end(why, code, reason);
    send_close(code, reason);
}

void Conn::flood(std::size_t count, std::size_t size) {
    for (std::size_t k = 0; k < count && is_open(); ++k) {
        std::string m = "{\"flood\":" + std::to_string(k) + ",\"pad\":\"";
        std::size_t tail = 2;
        if (size > m.size() + tail) m.append(size - m.size() - tail, 'x');
        m += "\"}";
        send_text(m);
    }
}

void Conn::resume() {
    if (!is_open()) return;
    if (!reading_) read_frames();
    write_next();
    rearm_tick();
}

void Conn::server_stopped() {
    if (ended_) return;
    set_end(EndReason::server_stopped, 1001, "server stopped");
    close_socket(false);
}

// ---- the opening handshake ----

void Conn::arm_io_timeout(std::chrono::milliseconds d) {
    io_timer_.expires_after(d);
    std::weak_ptr<Conn> weak = shared_from_this();
    io_timer_.async_wait([weak](error_code ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->close_socket(false);
    });
}

void Conn::read_http() {
    auto self = shared_from_this();
    with_stream([&](auto& s) {
        s.async_read_some(asio::buffer(rbuf_), [self](error_code ec, std::size_t n) {
            if (ec) return self->close_socket(false);
            self->hbuf_.append(self->rbuf_.data(), n);
            auto end = self->hbuf_.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (self->hbuf_.size() > 16 * 1024) return self->reject(431, "Request Header Fields Too Large");
                return self->read_http();
            }
            self->inbuf_ = self->hbuf_.substr(end + 4);
            self->hbuf_.resize(end + 2);
            self->on_request();
        });
    });
}

void Conn::on_request() {
    std::string_view head = hbuf_;
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    std::string key, upgrade;
    std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 <= sp1 || line.substr(0, sp1) != "GET") return reject(400, "Bad Request");
    path_ = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
        auto e = head.find("\r\n", pos);
        if (e == std::string_view::npos) break;
        std::string_view h = head.substr(pos, e - pos);
        pos = e + 2;
        auto colon = h.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name = lower(h.substr(0, colon));
        std::string value = trim(h.substr(colon + 1));
        if (name == "sec-websocket-key") key = value;
        else if (name == "upgrade") upgrade = lower(value);
    }
    if (key.empty() || upgrade != "websocket") return reject(426, "Upgrade Required");
    switch (srv_->handshake_fault) {
        case HandshakeFault::status_503: return reject(503, "Service Unavailable");
        case HandshakeFault::status_429: return reject(429, "Too Many Requests");
        case HandshakeFault::no_101: return hold_unanswered();
        default: break;
    }
    if (int st = srv_->dialect->check_target(path_); st != 0) return reject(st, st == 404 ? "Not Found" : "Bad Request");
    bool bad = srv_->handshake_fault == HandshakeFault::bad_accept;
    std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " + compute_accept(bad ? key + "x" : key) +
                       "\r\nServer: zenws-mock-exchange\r\n\r\n";
    if (bad) {
        ++srv_->handshakes_rejected;
        close_after_write_ = true;
        wq_.push_back(std::move(resp));
        return write_next();
    }
    io_timer_.cancel();
    ws_open_ = true;
    ++srv_->connections_total;
    auto now = Clock::now();
    session_ = srv_->dialect->open_session(path_, id_, now);
    wq_.push_back(std::move(resp));
    write_next();
    Output out;
    session_->on_open(now, out);
    apply(std::move(out));
    if (!inbuf_.empty()) parse_frames();
    if (!ended_) read_frames();
}

// no_101: the upgrade request was read; never answer it. Keep the socket open (no handshake deadline) and drain
// what the client sends until it gives up and closes, or the server stops.
void Conn::hold_unanswered() {
    ++srv_->handshakes_rejected;
    io_timer_.cancel();
    hbuf_.clear();
    inbuf_.clear();
    drain_unanswered();
}

void Conn::drain_unanswered() {
    auto self = shared_from_this();
    with_stream([&](auto& s) {
        s.async_read_some(asio::buffer(rbuf_), [self](error_code ec, std::size_t) {
            if (ec || self->ended_) return self->close_socket(false);
            self->drain_unanswered();
        });
    });
}

void Conn::reject(int status, const char* reason) {
    ++srv_->handshakes_rejected;
    std::string body = std::string(reason) + "\n";
    std::string resp = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: text/plain\r\n" +
                       (status == 429 ? "Retry-After: 1\r\n" : "") + "Content-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    close_after_write_ = true;
    wq_.push_back(std::move(resp));
    write_next();
}

// ---- frames in ----

void Conn::read_frames() {
    if (ended_ || srv_->silence) {
        reading_ = false;
        return;
    }
    reading_ = true;
    auto self = shared_from_this();
    with_stream([&](auto& s) {
        s.async_read_some(asio::buffer(rbuf_), [self](error_code ec, std::size_t n) {
            self->reading_ = false;
            if (self->ended_) return;
            if (ec) {
                self->set_end(EndReason::client_eof, 0, {});
                return self->close_socket(false);
            }
            self->inbuf_.append(self->rbuf_.data(), n);
            self->parse_frames();
            if (!self->ended_ && !self->close_received_) self->read_frames();
        });
    });
}

void Conn::parse_frames() {
    std::size_t pos = 0;
    while (!ended_ && !close_received_) {
        std::size_t avail = inbuf_.size() - pos;
        if (avail < 2) break;
        auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(inbuf_[pos + i]); };
        bool fin = b(0) & 0x80;
        auto op = static_cast<Opcode>(b(0) & 0x0f);
        bool masked = b(1) & 0x80;
        std::uint64_t len = b(1) & 0x7f;
        std::size_t hdr = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (std::uint64_t(b(2)) << 8) | b(3);
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
            hdr = 10;
        }
        if (!masked) return protocol_error(1002, "client frames must be masked");
        if ((b(0) & 0x70) != 0) return protocol_error(1002, "reserved bits set");
        if (len > srv_->options.max_message_size) return protocol_error(1009, "message too big");
        if (avail < hdr + 4 + len) break;
        std::uint8_t mask[4] = {b(hdr), b(hdr + 1), b(hdr + 2), b(hdr + 3)};
        std::string payload = inbuf_.substr(pos + hdr + 4, len);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
        pos += hdr + 4 + len;
        on_frame(op, fin, std::move(payload));
    }
    inbuf_.erase(0, pos);
}

void Conn::on_frame(Opcode op, bool fin, std::string payload) {
    auto now = Clock::now();
    Output out;
    switch (op) {
        case Opcode::ping:
            if (!srv_->nopong && !close_sent_) queue_frame(frame(Opcode::pong, payload));
            session_->on_ping(payload, now, out);
            break;
        case Opcode::pong: session_->on_pong(payload, now, out); break;
        case Opcode::close: {
            close_received_ = true;
            std::uint16_t code = payload.size() >= 2 ? static_cast<std::uint16_t>(
                                                           (std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]))
                                                     : 1005;
            std::string reason = payload.size() > 2 ? payload.substr(2) : std::string();
            set_end(EndReason::client_close, code, reason);
            if (!close_sent_) send_close(code == 1005 ? 1000 : code, {});
            else if (!writing_ && wq_.empty()) close_socket(true);
            return;
        }
        case Opcode::text:
        case Opcode::binary:
        case Opcode::continuation:
            if (op != Opcode::continuation) {
                if (fragmenting_) return protocol_error(1002, "expected a continuation frame");
                assembly_ = std::move(payload);
            } else {
                if (!fragmenting_) return protocol_error(1002, "unexpected continuation frame");
                assembly_ += payload;
            }
            fragmenting_ = !fin;
            if (!fin) return;
            ++messages_in_;
            session_->on_text(assembly_, now, out);
            break;
        default: return protocol_error(1002, "unknown opcode");
    }
    apply(std::move(out));
}

void Conn::protocol_error(std::uint16_t code, const char* reason) {
    set_end(EndReason::protocol_error, code, reason);
    send_close(code, reason);
}

// ---- dialect output ----

void Conn::apply(Output out) {
    if (ended_) return;
    for (auto& m : out.messages) route(std::move(m));
    for (auto& p : out.pings) queue_frame(frame(Opcode::ping, p));
    if (out.close) close_frame(out.close_code, out.close_reason, out.end);
    rearm_tick();
}

void Conn::route(OutMessage m) {
    if (m.reply && !m.method.empty()) {
        if (srv_->drop_methods.count(m.method)) return;
        if (auto d = srv_->delays.find(m.method); d != srv_->delays.end() && d->second.count() > 0) {
            auto timer = std::make_shared<asio::steady_timer>(*srv_->strand, d->second);
            std::weak_ptr<Conn> weak = shared_from_this();
            timer->async_wait([weak, timer, text = std::move(m.text)](error_code ec) {
                if (ec) return;
                if (auto self = weak.lock()) self->send_text(text);
            });
            return;
        }
        if (srv_->reorder) {
            if (!held_) {
                held_ = std::move(m.text);
                hold_timer_.expires_after(std::chrono::milliseconds(200));
                std::weak_ptr<Conn> weak = shared_from_this();
                hold_timer_.async_wait([weak](error_code ec) {
                    if (ec) return;
                    if (auto self = weak.lock()) self->flush_held();
                });
            } else {
                send_text(m.text);
                flush_held();
            }
            return;
        }
    }
    send_text(m.text);
}

void Conn::flush_held() {
    if (!held_) return;
    std::string t = std::move(*held_);
    held_.reset();
    hold_timer_.cancel();
    send_text(t);
}

// ---- writes (the frame writer) ----

void Conn::send_text(std::string_view text) {
    if (!is_open() || close_sent_) return;
    ++messages_out_;
    queue_frame(frame(Opcode::text, text));
}

void Conn::queue_frame(std::string f) {
    if (ended_) return;
    wq_.push_back(std::move(f));
    write_next();
}

void Conn::send_close(std::uint16_t code, std::string_view reason) {
    if (close_sent_ || ended_) return;
    close_sent_ = true;
    std::string p;
    if (code != 1005 && code != 1006) {
        p += static_cast<char>(code >> 8);
        p += static_cast<char>(code & 0xff);
        p.append(reason.substr(0, 123));
    }
    wq_.push_back(frame(Opcode::close, p));
    write_next();
    arm_io_timeout(std::chrono::milliseconds(1000));  // the client's close frame, or we cut the link
    tick_timer_.cancel();
}

void Conn::write_next() {
    if (writing_ || wq_.empty() || closed_socket_) return;
    if (srv_->silence && ws_open_) return;
    writing_ = true;
    auto self = shared_from_this();
    std::size_t n = srv_->slice && ws_open_ ? 1 : wq_.front().size() - woff_;
    auto buf = asio::buffer(wq_.front().data() + woff_, n);
    with_stream([&](auto& s) {
        asio::async_write(s, buf, [self](error_code ec, std::size_t written) {
            self->writing_ = false;
            if (ec) {
                self->set_end(EndReason::client_eof, 0, {});
                return self->close_socket(false);
            }
            self->woff_ += written;
            if (self->woff_ >= self->wq_.front().size()) {
                self->woff_ = 0;
                self->wq_.pop_front();
            }
            if (!self->wq_.empty()) return self->write_next();
            if (self->close_after_write_) return self->close_socket(true);
            if (self->close_sent_ && self->close_received_) return self->close_socket(true);
        });
    });
}

// ---- timers ----

void Conn::rearm_tick() {
    if (ended_ || !session_ || close_sent_) return;
    SteadyTime t = session_->next_deadline();
    if (srv_->silence) t = Clock::now() + std::chrono::milliseconds(50);
    if (t == SteadyTime::max()) {
        tick_timer_.cancel();
        return;
    }
    tick_timer_.expires_at(t);
    std::weak_ptr<Conn> weak = shared_from_this();
    tick_timer_.async_wait([weak](error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self || !self->is_open()) return;
        if (self->srv_->silence) return self->rearm_tick();
        Output out;
        self->session_->on_tick(Clock::now(), out);
        self->apply(std::move(out));
    });
}

// ---- the end ----

void Conn::set_end(EndReason why, std::uint16_t code, std::string_view reason) {
    if (end_ != EndReason::none) return;
    end_ = why;
    end_code_ = code;
    end_reason_ = std::string(reason);
}

void Conn::close_socket(bool graceful) {
    if (closed_socket_) return;
    closed_socket_ = true;
    error_code ec;
    if (graceful) lowest().shutdown(tcp::socket::shutdown_send, ec);
    lowest().close(ec);
    tick_timer_.cancel();
    io_timer_.cancel();
    hold_timer_.cancel();
    finish();
}

void Conn::finish() {
    if (ended_) return;
    ended_ = true;
    if (!ws_open_) {  // never became a WebSocket session: nothing to record, just forget it
        srv_->conns.erase(id_);
        return;
    }
    if (end_ == EndReason::none) end_ = EndReason::client_eof;
    if (session_) session_->on_end(end_);
    EndedSession e;
    e.id = id_;
    e.path = path_;
    e.reason = end_;
    e.close_code = end_code_;
    e.close_reason = end_reason_;
    if (session_) e.session = session_->info();
    srv_->record_end(std::move(e));
    srv_->conns.erase(id_);  // may destroy *this once the last handler returns
}

}  // namespace zenws::mock
