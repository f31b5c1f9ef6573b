// mock_exchange.cpp — owns the socket layer of the mock exchange (zenws/mock_exchange.hpp): a small server-side
// WebSocket implementation on Boost.Asio (+ asio::ssl for wss; no Beast, so that every fault — missing pongs,
// 1-byte writes, broken handshakes, FIN/RST without a close frame — is under our control), the fault controls, the
// line-based control port, status JSON and the in-process self-signed certificate. Protocol logic is in
// src/core/mock_deribit.cpp and src/core/mock_binance.cpp.
#include "zenws/mock_exchange.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <cstdio>
#include <array>
#include <deque>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "zenws/frame.hpp"
#include "zenws/handshake.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/runtime.hpp"

namespace zenws::mock {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// ---- self-signed certificate -------------------------------------------------------------------------------------

Result<SelfSignedCert> make_self_signed_cert() {
    auto fail = [](const char* what) { return Error(Errc::tls_setup_failed, std::string("self-signed cert: ") + what); };
    EVP_PKEY* key = EVP_EC_gen("P-256");
    if (!key) return fail("key generation failed");
    X509* x = X509_new();
    if (!x) {
        EVP_PKEY_free(key);
        return fail("X509_new failed");
    }
    SelfSignedCert out;
    bool ok = X509_set_version(x, 2) == 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::time(nullptr) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    ok = ok && X509_set_pubkey(x, key) == 1;
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("zenws mock exchange"),
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    ok = ok && X509_set_issuer_name(x, name) == 1;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    const char* exts[][2] = {{"subjectAltName", "DNS:localhost,IP:127.0.0.1"},
                             {"basicConstraints", "critical,CA:TRUE"},
                             {"keyUsage", "critical,digitalSignature,keyCertSign"},
                             {"extendedKeyUsage", "serverAuth"}};
    for (auto& e : exts) {
        X509_EXTENSION* ext = X509V3_EXT_conf(nullptr, &ctx, e[0], e[1]);
        if (!ext) {
            ok = false;
            break;
        }
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
    if (ok) {
        BIO* b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(b, x);
        char* p = nullptr;
        long n = BIO_get_mem_data(b, &p);
        out.cert_pem.assign(p, static_cast<std::size_t>(n));
        BIO_free(b);
        b = BIO_new(BIO_s_mem());
        PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
        n = BIO_get_mem_data(b, &p);
        out.key_pem.assign(p, static_cast<std::size_t>(n));
        BIO_free(b);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    if (!ok || out.cert_pem.empty() || out.key_pem.empty()) return fail("signing failed");
    return out;
}

// ---- status JSON -------------------------------------------------------------------------------------------------

namespace {

void append_session(std::string& s, const SessionInfo& i) {
    s += ",\"authenticated\":";
    s += i.authenticated ? "true" : "false";
    s += ",\"client_id\":" + json_quote(i.client_id) + ",\"subscriptions\":[";
    for (std::size_t k = 0; k < i.subscriptions.size(); ++k) {
        if (k) s += ',';
        append_json_string(s, i.subscriptions[k]);
    }
    s += "],\"cancel_on_disconnect\":";
    s += i.cancel_on_disconnect ? "true" : "false";
    s += ",\"heartbeat_interval_ms\":" + std::to_string(i.heartbeat_interval_ms) + ",\"combined\":";
    s += i.combined ? "true" : "false";
    s += ",\"requests\":" + std::to_string(i.requests) + ",\"notifications\":" + std::to_string(i.notifications);
}

}  // namespace

std::string MockStatus::to_json() const {
    std::string s = "{\"dialect\":" + json_quote(dialect) + ",\"port\":" + std::to_string(port) +
                    ",\"control_port\":" + std::to_string(control_port) +
                    ",\"connections_total\":" + std::to_string(connections_total) +
                    ",\"handshakes_rejected\":" + std::to_string(handshakes_rejected) + ",\"connections\":[";
    for (std::size_t k = 0; k < connections.size(); ++k) {
        auto& c = connections[k];
        if (k) s += ',';
        s += "{\"id\":" + std::to_string(c.id) + ",\"path\":" + json_quote(c.path) + ",\"tls\":" +
             (c.tls ? "true" : "false");
        append_session(s, c.session);
        s += ",\"messages_in\":" + std::to_string(c.messages_in) + ",\"messages_out\":" + std::to_string(c.messages_out) +
             "}";
    }
    s += "],\"ended\":[";
    for (std::size_t k = 0; k < ended.size(); ++k) {
        auto& e = ended[k];
        if (k) s += ',';
        s += "{\"id\":" + std::to_string(e.id) + ",\"path\":" + json_quote(e.path) + ",\"reason\":\"" +
             std::string(to_string(e.reason)) + "\",\"close_code\":" + std::to_string(e.close_code) +
             ",\"close_reason\":" + json_quote(e.close_reason);
        append_session(s, e.session);
        s += "}";
    }
    s += "]}";
    return s;
}

const ConnectionStatus* MockStatus::find(std::uint64_t id) const {
    for (auto& c : connections)
        if (c.id == id) return &c;
    return nullptr;
}

const EndedSession* MockStatus::find_ended(std::uint64_t id) const {
    for (auto& e : ended)
        if (e.id == id) return &e;
    return nullptr;
}

// ---- server --------------------------------------------------------------------------------------------------------

namespace {

using Strand = asio::strand<asio::io_context::executor_type>;

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

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return std::string(s);
}

}  // namespace

class Conn;

struct MockExchange::Impl : std::enable_shared_from_this<MockExchange::Impl> {
    MockExchangeOptions options;
    std::unique_ptr<Dialect> dialect;
    std::unique_ptr<asio::io_context> own_context;
    asio::io_context* context = nullptr;
    std::optional<Strand> strand;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    std::optional<asio::ssl::context> ssl;
    std::string cert_path, key_path;  // written when the cert was generated
    bool tls_temp_files = false;

    std::unique_ptr<tcp::acceptor> acceptor, control_acceptor;
    std::shared_ptr<asio::steady_timer> refuse_timer;
    std::uint16_t port = 0, control_port = 0;
    bool running = false;

    std::map<std::uint64_t, std::shared_ptr<Conn>> conns;
    std::deque<EndedSession> ended;
    std::uint64_t next_id = 0, connections_total = 0, handshakes_rejected = 0;

    // faults
    bool nopong = false, silence = false, reorder = false, slice = false;
    std::map<std::string, std::chrono::milliseconds, std::less<>> delays;
    std::set<std::string, std::less<>> drop_methods;
    HandshakeFault handshake_fault = HandshakeFault::none;

    ~Impl();
    void accept_loop();
    void control_accept_loop();
    Status open_acceptor();
    void record_end(EndedSession e) {
        ended.push_back(std::move(e));
        while (ended.size() > options.ended_history) ended.pop_front();
    }
    std::vector<std::shared_ptr<Conn>> targets(std::uint64_t id);
    MockStatus status_now() const;
    std::string command(std::string_view line);
    void resume_all();
    void schedule_reopen(std::chrono::milliseconds delay, int attempts_left);
    std::vector<std::weak_ptr<tcp::socket>> control_sockets;

    // Runs `f` on the strand and waits (bounded) for its result.
    template <class F>
    auto on_strand(F f) -> decltype(f()) {
        using R = decltype(f());
        if (!strand || strand->running_in_this_thread()) return f();
        std::packaged_task<R()> task(std::move(f));
        auto fut = task.get_future();
        asio::post(*strand, [&task] { task(); });
        if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            // The loop is wedged or stopped: nothing sensible to return but a default.
            if constexpr (std::is_void_v<R>) return;
            else return R{};
        }
        return fut.get();
    }
};

class Conn : public std::enable_shared_from_this<Conn> {
public:
    Conn(std::shared_ptr<MockExchange::Impl> srv, std::uint64_t id, tcp::socket sock)
        : srv_(std::move(srv)), id_(id), tick_timer_(*srv_->strand), io_timer_(*srv_->strand),
          hold_timer_(*srv_->strand) {
        if (srv_->ssl) tls_.emplace(std::move(sock), *srv_->ssl);
        else plain_.emplace(std::move(sock));
    }

    std::uint64_t id() const { return id_; }
    bool is_open() const { return ws_open_ && !ended_; }

    void start() {
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

    ConnectionStatus status() const {
        ConnectionStatus c;
        c.id = id_;
        c.path = path_;
        c.tls = tls_.has_value();
        if (session_) c.session = session_->info();
        c.messages_in = messages_in_;
        c.messages_out = messages_out_;
        return c;
    }

    // ---- fault entry points ----
    void drop(bool rst) {
        if (ended_) return;
        set_end(rst ? EndReason::reset_by_server : EndReason::dropped_by_server, 0, {});
        error_code ec;
        if (rst) lowest().set_option(asio::socket_base::linger(true, 0), ec);
        else lowest().shutdown(tcp::socket::shutdown_both, ec);
        close_socket(false);
    }
    void close_frame(std::uint16_t code, std::string reason, EndReason why) {
        if (ended_ || close_sent_) return;
        set_end(why, code, reason);
        send_close(code, reason);
    }
    void flood(std::size_t count, std::size_t size) {
        for (std::size_t k = 0; k < count && is_open(); ++k) {
            std::string m = "{\"flood\":" + std::to_string(k) + ",\"pad\":\"";
            std::size_t tail = 2;
            if (size > m.size() + tail) m.append(size - m.size() - tail, 'x');
            m += "\"}";
            send_text(m);
        }
    }
    void skip_heartbeat() { if (session_) session_->skip_heartbeat(); }
    void gap() { if (session_) session_->inject_gap(); }
    void resume() {
        if (!is_open()) return;
        if (!reading_) read_frames();
        write_next();
        rearm_tick();
    }
    void server_stopped() {
        if (ended_) return;
        set_end(EndReason::server_stopped, 1001, "server stopped");
        close_socket(false);
    }

private:
    // ---- stream helpers ----
    tcp::socket::lowest_layer_type& lowest() { return tls_ ? tls_->lowest_layer() : *plain_; }
    template <class F>
    void with_stream(F&& f) {
        if (tls_) f(*tls_);
        else f(*plain_);
    }

    void arm_io_timeout(std::chrono::milliseconds d) {
        io_timer_.expires_after(d);
        std::weak_ptr<Conn> weak = shared_from_this();
        io_timer_.async_wait([weak](error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->close_socket(false);
        });
    }

    // ---- opening handshake ----
    void read_http() {
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

    void on_request() {
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
    void hold_unanswered() {
        ++srv_->handshakes_rejected;
        io_timer_.cancel();
        hbuf_.clear();
        inbuf_.clear();
        drain_unanswered();
    }
    void drain_unanswered() {
        auto self = shared_from_this();
        with_stream([&](auto& s) {
            s.async_read_some(asio::buffer(rbuf_), [self](error_code ec, std::size_t) {
                if (ec || self->ended_) return self->close_socket(false);
                self->drain_unanswered();
            });
        });
    }

    void reject(int status, const char* reason) {
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
    void read_frames() {
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

    void parse_frames() {
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

    void on_frame(Opcode op, bool fin, std::string payload) {
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

    void protocol_error(std::uint16_t code, const char* reason) {
        set_end(EndReason::protocol_error, code, reason);
        send_close(code, reason);
    }

    // ---- dialect output ----
    void apply(Output out) {
        if (ended_) return;
        for (auto& m : out.messages) route(std::move(m));
        for (auto& p : out.pings) queue_frame(frame(Opcode::ping, p));
        if (out.close) close_frame(out.close_code, out.close_reason, out.end);
        rearm_tick();
    }

    void route(OutMessage m) {
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

    void flush_held() {
        if (!held_) return;
        std::string t = std::move(*held_);
        held_.reset();
        hold_timer_.cancel();
        send_text(t);
    }

public:
    void send_text(std::string_view text) {
        if (!is_open() || close_sent_) return;
        ++messages_out_;
        queue_frame(frame(Opcode::text, text));
    }

private:
    void queue_frame(std::string f) {
        if (ended_) return;
        wq_.push_back(std::move(f));
        write_next();
    }

    void send_close(std::uint16_t code, std::string_view reason) {
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

    // ---- writes ----
    void write_next() {
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
    void rearm_tick() {
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
    void set_end(EndReason why, std::uint16_t code, std::string_view reason) {
        if (end_ != EndReason::none) return;
        end_ = why;
        end_code_ = code;
        end_reason_ = std::string(reason);
    }

    void close_socket(bool graceful) {
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

    void finish() {
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

    std::shared_ptr<MockExchange::Impl> srv_;
    std::uint64_t id_;
    std::optional<tcp::socket> plain_;
    std::optional<asio::ssl::stream<tcp::socket>> tls_;
    asio::steady_timer tick_timer_, io_timer_, hold_timer_;
    std::array<char, 16 * 1024> rbuf_{};
    std::string hbuf_, inbuf_, assembly_, path_;
    std::deque<std::string> wq_;
    std::size_t woff_ = 0;
    std::unique_ptr<DialectSession> session_;
    std::optional<std::string> held_;
    bool ws_open_ = false, ended_ = false, closed_socket_ = false, writing_ = false, reading_ = false;
    bool close_sent_ = false, close_received_ = false, close_after_write_ = false, fragmenting_ = false;
    EndReason end_ = EndReason::none;
    std::uint16_t end_code_ = 0;
    std::string end_reason_;
    std::uint64_t messages_in_ = 0, messages_out_ = 0;
};

MockExchange::Impl::~Impl() {
    if (tls_temp_files) {
        std::error_code ec;
        std::filesystem::remove(cert_path, ec);
        std::filesystem::remove(key_path, ec);
    }
}

Status MockExchange::Impl::open_acceptor() {
    error_code ec;
    auto a = std::make_unique<tcp::acceptor>(*strand);
    tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
    a->open(ep.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->bind(ep, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error(Errc::transport_error, "mock exchange: cannot listen on 127.0.0.1:" + std::to_string(port) +
                                                    ": " + ec.message());
    // Only the first open (in start(), before the loop thread runs) learns the port; a reopen after `refuse` binds
    // the same port and must not write it: url()/port() read it from other threads without the strand.
    if (port == 0) port = a->local_endpoint().port();
    acceptor = std::move(a);
    accept_loop();
    return {};
}

void MockExchange::Impl::accept_loop() {
    if (!acceptor) return;
    auto self = shared_from_this();
    tcp::acceptor* a = acceptor.get();
    a->async_accept(*strand, [self, a](error_code ec, tcp::socket sock) {
        if (ec == asio::error::operation_aborted || !self->running || self->acceptor.get() != a) return;
        if (!ec) {
            sock.set_option(tcp::no_delay(true), ec);
            auto c = std::make_shared<Conn>(self, ++self->next_id, std::move(sock));
            self->conns[c->id()] = c;
            c->start();
        }
        self->accept_loop();
    });
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

void MockExchange::Impl::schedule_reopen(std::chrono::milliseconds delay, int attempts_left) {
    auto timer = std::make_shared<asio::steady_timer>(*strand, delay);
    refuse_timer = timer;
    auto self = shared_from_this();
    timer->async_wait([self, timer, attempts_left](error_code ec) {
        if (ec || !self->running || self->refuse_timer != timer || self->acceptor) return;
        // Reopen on the same port; the port may be briefly busy: retry every 50 ms (bounded).
        if (!self->open_acceptor() && attempts_left > 0) self->schedule_reopen(std::chrono::milliseconds(50), attempts_left - 1);
    });
}

std::vector<std::shared_ptr<Conn>> MockExchange::Impl::targets(std::uint64_t id) {
    std::vector<std::shared_ptr<Conn>> out;
    for (auto& [cid, c] : conns)
        if ((id == 0 || cid == id) && c->is_open()) out.push_back(c);
    return out;
}

MockStatus MockExchange::Impl::status_now() const {
    MockStatus s;
    s.dialect = std::string(dialect->name());
    s.port = port;
    s.control_port = control_port;
    s.connections_total = connections_total;
    s.handshakes_rejected = handshakes_rejected;
    for (auto& [id, c] : conns)
        if (c->is_open()) s.connections.push_back(c->status());
    s.ended.assign(ended.begin(), ended.end());
    return s;
}

void MockExchange::Impl::resume_all() {
    for (auto& c : targets(0)) c->resume();
}

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

// ---- MockExchange --------------------------------------------------------------------------------------------------

MockExchange::MockExchange(MockExchangeOptions options) : impl_(std::make_shared<Impl>()) {
    impl_->options = std::move(options);
    if (impl_->options.dialect == DialectKind::deribit)
        impl_->dialect = std::make_unique<DeribitExchange>(impl_->options.deribit);
    else
        impl_->dialect = std::make_unique<BinanceExchange>(impl_->options.binance);
}

MockExchange::~MockExchange() { stop(); }

Status MockExchange::start() {
    Impl& m = *impl_;
    if (m.running) return {};
    if (m.options.tls) {
        try {
            m.ssl.emplace(asio::ssl::context::tls_server);
            m.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                               asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                               asio::ssl::context::no_tlsv1_1);
            if (!m.options.cert_file.empty()) {
                m.ssl->use_certificate_chain_file(m.options.cert_file);
                m.ssl->use_private_key_file(m.options.key_file.empty() ? m.options.cert_file : m.options.key_file,
                                            asio::ssl::context::pem);
                m.cert_path = m.options.cert_file;
            } else {
                auto cert = make_self_signed_cert();
                if (!cert) return cert.error();
                m.ssl->use_certificate_chain(asio::buffer(cert->cert_pem));
                m.ssl->use_private_key(asio::buffer(cert->key_pem), asio::ssl::context::pem);
                auto dir = std::filesystem::temp_directory_path();
                std::string stem = "zenws-mock-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(reinterpret_cast<std::uintptr_t>(this));
                m.cert_path = (dir / (stem + "-cert.pem")).string();
                m.key_path = (dir / (stem + "-key.pem")).string();
                std::ofstream(m.cert_path) << cert->cert_pem;
                std::ofstream(m.key_path) << cert->key_pem;
                m.tls_temp_files = true;
            }
        } catch (const std::exception& e) {
            m.ssl.reset();
            return Error(Errc::tls_setup_failed, std::string("mock exchange TLS setup: ") + e.what());
        }
    }
    if (m.options.runtime) {
        m.context = &m.options.runtime->context();
    } else {
        m.own_context = std::make_unique<asio::io_context>(1);
        m.context = m.own_context.get();
    }
    m.strand.emplace(asio::make_strand(m.context->get_executor()));
    m.port = m.options.port;
    m.running = true;
    // Listening sockets are opened here (before the loop runs: nothing else touches them yet).
    if (auto st = m.open_acceptor(); !st) {
        m.running = false;
        return st;
    }
    if (m.options.control_port >= 0) {
        error_code ec;
        m.control_acceptor = std::make_unique<tcp::acceptor>(*m.strand);
        tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), static_cast<std::uint16_t>(m.options.control_port));
        m.control_acceptor->open(ep.protocol(), ec);
        if (!ec) m.control_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) m.control_acceptor->bind(ep, ec);
        if (!ec) m.control_acceptor->listen(16, ec);
        if (ec) {
            m.running = false;
            m.acceptor.reset();
            m.control_acceptor.reset();
            return Error(Errc::transport_error, "mock exchange: cannot listen on control port: " + ec.message());
        }
        m.control_port = m.control_acceptor->local_endpoint().port();
        m.control_accept_loop();
    }
    if (m.own_context) {
        m.work.emplace(m.own_context->get_executor());
        m.thread = std::thread([ctx = m.own_context.get()] { ctx->run(); });
    }
    return {};
}

void MockExchange::stop() {
    Impl& m = *impl_;
    if (!m.running) return;
    m.on_strand([&m] {
        m.running = false;
        error_code ec;
        if (m.acceptor) m.acceptor->close(ec);
        if (m.control_acceptor) m.control_acceptor->close(ec);
        m.refuse_timer.reset();
        if (m.refuse_timer) m.refuse_timer->cancel();
        m.refuse_timer.reset();
        for (auto& w : m.control_sockets)
            if (auto s = w.lock()) s->close(ec);
        m.control_sockets.clear();
        auto conns = m.conns;
        for (auto& [id, c] : conns) c->server_stopped();
        m.conns.clear();
    });
    if (m.own_context) {
        // Let the aborted operations complete (they release their references), bounded; then stop hard.
        m.work.reset();
        auto deadline = Clock::now() + std::chrono::seconds(2);
        while (!m.own_context->stopped() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        m.own_context->stop();
        if (m.thread.joinable()) m.thread.join();
    }
}

bool MockExchange::running() const { return impl_->running; }
std::uint16_t MockExchange::port() const { return impl_->port; }
std::uint16_t MockExchange::control_port() const { return impl_->control_port; }
std::string MockExchange::cert_file() const { return impl_->cert_path; }
Dialect& MockExchange::dialect() { return *impl_->dialect; }

std::string MockExchange::url(std::string_view path) const {
    std::string p(path);
    if (p.empty()) p = impl_->options.dialect == DialectKind::deribit ? "/ws/api/v2" : "/ws";
    return std::string(impl_->options.tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(impl_->port) + p;
}

MockStatus MockExchange::status() const {
    return impl_->on_strand([this] { return impl_->status_now(); });
}

bool MockExchange::wait_until(const std::function<bool(const MockStatus&)>& predicate,
                              std::chrono::milliseconds timeout) const {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (predicate(status())) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

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
