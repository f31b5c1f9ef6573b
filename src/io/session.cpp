// session.cpp — one WebSocket connection over TCP or TLS: connect under a deadline, upgrade, read loop with the
// frame decoder, coalescing scatter/gather write path, automatic pongs, close handshake. The heavy Asio/OpenSSL
// templates of zenws live in this one translation unit.
#include "io/session.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <map>
#include <span>
#include <mutex>
#include <vector>

namespace zenws::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

Error error_from_asio(const error_code& ec, std::string_view during) {
    namespace ae = asio::error;
    Errc code = Errc::transport_error;
    if (ec == ae::connection_refused) {
        code = Errc::connection_refused;
    } else if (ec == ae::connection_reset || ec == ae::broken_pipe || ec == ae::connection_aborted) {
        code = Errc::connection_reset;
    } else if (ec == ae::network_unreachable || ec == ae::host_unreachable || ec == ae::network_down) {
        code = Errc::network_unreachable;
    } else if (ec == ae::eof || ec == ssl::error::stream_truncated) {
        code = Errc::eof_without_close;
    } else if (ec == ae::host_not_found || ec == ae::host_not_found_try_again || ec == ae::no_data ||
               ec == ae::no_recovery) {
        code = Errc::dns_failure;
    }
    Error e(code, std::string(during) + ": " + ec.message());
    e.sys_errno = ec.value();
    return e;
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// A growable byte buffer with a consumed-prefix, used for partial frames and the handshake response.
class ByteBuffer {
public:
    std::uint8_t* data() noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::uint8_t* tail() noexcept { return data_.get() + size_; }
    std::size_t tail_room() const noexcept { return capacity_ - size_; }
    void commit(std::size_t n) noexcept { size_ += n; }
    void reserve(std::size_t total) {
        if (total <= capacity_) return;
        std::size_t cap = capacity_ ? capacity_ : 256;  // heartbeat-only connections stay small
        while (cap < total) cap *= 2;
        auto fresh = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
        if (size_) std::memcpy(fresh.get(), data_.get(), size_);
        data_ = std::move(fresh);
        capacity_ = cap;
    }
    void append(const std::uint8_t* p, std::size_t n) {
        reserve(size_ + n);
        std::memcpy(data_.get() + size_, p, n);
        size_ += n;
    }
    void consume(std::size_t n) noexcept {
        if (n >= size_) {
            size_ = 0;
            return;
        }
        std::memmove(data_.get(), data_.get() + n, size_ - n);
        size_ -= n;
    }
    void release() noexcept {
        data_.reset();
        size_ = capacity_ = 0;
    }
    void clear() noexcept { size_ = 0; }
    // Appends `n` uninitialised bytes and returns where they start (no zero-fill, unlike std::string::resize).
    std::uint8_t* extend(std::size_t n) {
        reserve(size_ + n);
        std::uint8_t* p = data_.get() + size_;
        size_ += n;
        return p;
    }
    void truncate(std::size_t n) noexcept { size_ = n < size_ ? n : size_; }

private:
    std::unique_ptr<std::uint8_t[]> data_;
    std::size_t size_ = 0, capacity_ = 0;
};

// Frames queued for one write: copied frames live in `bytes`, moved payloads in `owned`; `segments` keeps order.
struct WriteBatch {
    struct Segment {
        std::size_t owned_index;  // npos: range [begin, end) of bytes
        std::size_t begin, end;
    };
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    ByteBuffer bytes;
    std::vector<Segment> segments;
    std::vector<std::string> owned;
    std::vector<SendCallback> callbacks;

    bool empty() const noexcept { return segments.empty(); }
    void clear() {
        bytes.clear();
        segments.clear();
        owned.clear();
        callbacks.clear();
        if (bytes.capacity() > (1u << 20)) bytes.release();
    }
    void mark_bytes(std::size_t begin) {
        std::size_t end = bytes.size();
        if (!segments.empty() && segments.back().owned_index == npos && segments.back().end == begin) {
            segments.back().end = end;
        } else {
            segments.push_back({npos, begin, end});
        }
    }
};

constexpr std::size_t shared_read_buffer_size = 256 * 1024;  // per I/O thread, not per connection
thread_local std::array<std::uint8_t, shared_read_buffer_size> shared_read_buffer;

enum class Phase : std::uint8_t { idle, resolving, connecting, tls_handshake, upgrading, open, closing, closed };

const char* phase_name(Phase p) {
    switch (p) {
        case Phase::idle: return "idle";
        case Phase::resolving: return "resolving the host name";
        case Phase::connecting: return "TCP connect";
        case Phase::tls_handshake: return "TLS handshake";
        case Phase::upgrading: return "WebSocket upgrade";
        case Phase::open: return "open";
        case Phase::closing: return "closing";
        case Phase::closed: return "closed";
    }
    return "?";
}

template <bool Tls>
class WsSession final : public Session, public FrameEvents, public std::enable_shared_from_this<WsSession<Tls>> {
    using Stream = std::conditional_t<Tls, ssl::stream<tcp::socket>, tcp::socket>;

public:
    WsSession(Strand strand, SessionParams params, std::shared_ptr<SessionEvents> events)
        : strand_(strand),
          params_(std::move(params)),
          config_(*params_.config),
          counters_(*params_.counters),
          events_(std::move(events)),
          stream_(make_stream()),
          timer_(strand_),
          decoder_(DecoderLimits{config_.max_message_size}) {}

    // ---- Session interface ----------------------------------------------------------------------------------
    void start() override {
        asio::post(strand_, [self = this->shared_from_this()] { self->begin_connect(); });
    }

    Status send(Opcode op, std::string_view payload, SendCallback& done) override {
        std::unique_lock lock(write_mutex_);
        if (!write_open_) return Error(Errc::not_connected, "connection is not open");
        append_frame(op, payload);
        return queued(lock, done);
    }

    Status send_owned(Opcode op, std::string&& payload, SendCallback& done) override {
        std::unique_lock lock(write_mutex_);
        if (!write_open_) return Error(Errc::not_connected, "connection is not open");
        std::uint8_t header[max_client_frame_header_size];
        std::uint32_t key = mask_keys_.next();
        std::size_t header_size = encode_client_frame_header(header, op, true, payload.size(), key);
        apply_mask(reinterpret_cast<std::uint8_t*>(payload.data()), payload.size(), key);
        std::size_t begin = staging_.bytes.size();
        staging_.bytes.append(header, header_size);
        staging_.mark_bytes(begin);
        counters_.bytes_out.fetch_add(header_size + payload.size(), std::memory_order_relaxed);
        staging_.owned.push_back(std::move(payload));
        staging_.segments.push_back({staging_.owned.size() - 1, 0, staging_.owned.back().size()});
        count_frame_out(op);
        return queued(lock, done);
    }

    void close(std::uint16_t code, std::string reason) override {
        asio::post(strand_, [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
            self->begin_close(code, std::move(reason), Error(Errc::closed_by_user, "closed by the user"));
        });
    }

    void abort(Error cause, std::uint16_t close_code, std::string reason) override {
        asio::post(strand_, [self = this->shared_from_this(), cause = std::move(cause), close_code,
                             reason = std::move(reason)]() mutable {
            self->do_abort(std::move(cause), close_code, reason);
        });
    }

    bool is_open() const noexcept override { return open_.load(std::memory_order_acquire); }

    void detach_events() noexcept override { events_.reset(); }

    std::size_t queued_bytes() const noexcept override {
        std::lock_guard lock(write_mutex_);
        return staging_.bytes.size();
    }

    // ---- FrameEvents (decoder output, on the strand) ---------------------------------------------------------
    void on_message(Opcode op, std::string_view payload) override {
        counters_.messages_in.fetch_add(1, std::memory_order_relaxed);
        counters_.frames_in.fetch_add(1, std::memory_order_relaxed);
        if (events_) events_->session_message(*this, op, payload);
    }

    void on_ping(std::string_view payload) override {
        counters_.frames_in.fetch_add(1, std::memory_order_relaxed);
        if (!close_sent_) {
            std::unique_lock lock(write_mutex_);
            if (write_open_) {
                append_frame(Opcode::pong, payload);
                SendCallback none;
                (void)queued(lock, none);
            }
        }
        if (events_) events_->session_ping(*this, payload);
    }

    void on_pong(std::string_view payload) override {
        counters_.frames_in.fetch_add(1, std::memory_order_relaxed);
        if (events_) events_->session_pong(*this, payload);
    }

    void on_close(std::uint16_t code, std::string_view reason) override {
        counters_.frames_in.fetch_add(1, std::memory_order_relaxed);
        peer_close_received_ = true;
        peer_close_code_ = code;
        peer_close_reason_.assign(reason);
        if (!close_sent_) {
            // Echo the peer's code (or an empty close when it sent none), then wait for it to close TCP.
            close_initiated_by_peer_ = true;
            send_close_frame(code == close_code::no_status ? 0 : code, {});
            Error peer_closed(Errc::closed_by_peer, "server closed the connection");
            peer_closed.close_code = code;
            peer_closed.close_reason.assign(reason);
            set_cause(std::move(peer_closed));
            enter_closing();
        }
        // Otherwise this is the reply to our close; the read loop now waits for EOF.
    }

private:
    static_assert(sizeof(Phase) == 1);

    Stream make_stream() {
        if constexpr (Tls) {
            return Stream(strand_, *params_.tls);
        } else {
            return Stream(strand_);
        }
    }

    tcp::socket& socket() noexcept {
        if constexpr (Tls) {
            return stream_.next_layer();
        } else {
            return stream_;
        }
    }

    // ---- connect ----------------------------------------------------------------------------------------------
    void begin_connect() {
        phase_ = Phase::resolving;
        timer_.expires_after(config_.timeout);
        timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (ec) return;  // cancelled: the attempt finished in time
            self->on_connect_deadline();
        });
        resolver_ = std::make_unique<tcp::resolver>(strand_);
        resolver_->async_resolve(params_.url.host, std::to_string(params_.url.port),
                                [self = this->shared_from_this()](const error_code& ec,
                                                                  tcp::resolver::results_type results) {
                                    self->on_resolved(ec, std::move(results));
                                });
    }

    void on_connect_deadline() {
        if (connect_done_) return;
        Error e(Errc::connect_timeout, "no WebSocket connection to " + params_.url.to_string() + " within " +
                                           std::to_string(config_.timeout.count()) + " ms (stuck in " +
                                           phase_name(phase_) + ")");
        fail_connect(std::move(e));
    }

    void on_resolved(const error_code& ec, tcp::resolver::results_type results) {
        if (connect_done_) return;
        if (ec) {
            Error e = error_from_asio(ec, "resolving " + params_.url.host);
            if (e.code == Errc::transport_error) e.code = Errc::dns_failure;
            return fail_connect(std::move(e));
        }
        phase_ = Phase::connecting;
        asio::async_connect(socket(), results,
                            [self = this->shared_from_this()](const error_code& ec2, const tcp::endpoint&) {
                                self->on_tcp_connected(ec2);
                            });
    }

    // Kernel liveness probes (Config::tcp_keepalive): a vanished peer is noticed within idle + interval * count, and
    // TCP_USER_TIMEOUT fails the link when sent data stays unacknowledged that long (keepalive alone never probes
    // while data is in flight). Best effort: a platform without an option just keeps the others.
    void set_keepalive() {
        const TcpKeepalive& k = config_.tcp_keepalive;
        if (!k.enabled) return;
        const int fd = socket().native_handle();
        const int on = 1;
        const int idle = static_cast<int>(k.idle.count());
        const int interval = static_cast<int>(k.interval.count());
        const int count = k.count;
        const unsigned user_timeout_ms = static_cast<unsigned>(k.bound().count()) * 1000u;
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
        ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    }

    void on_tcp_connected(const error_code& ec) {
        if (connect_done_) return;
        if (ec) return fail_connect(error_from_asio(ec, "connecting to " + params_.url.host + ":" +
                                                            std::to_string(params_.url.port)));
        error_code ignored;
        socket().set_option(tcp::no_delay(true), ignored);
        set_keepalive();
        if constexpr (Tls) {
            phase_ = Phase::tls_handshake;
            SSL* ssl_handle = stream_.native_handle();
            const std::string& host = params_.url.host;
            if (!is_ip_literal(host)) SSL_set_tlsext_host_name(ssl_handle, host.c_str());
            if (config_.tls.insecure_skip_verify) {
                stream_.set_verify_mode(ssl::verify_none);
            } else {
                stream_.set_verify_mode(ssl::verify_peer);
                X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
                X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                if (is_ip_literal(host)) {
                    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
                } else {
                    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
                }
            }
            stream_.async_handshake(ssl::stream_base::client,
                                    [self = this->shared_from_this()](const error_code& ec2) {
                                        self->on_tls_handshake(ec2);
                                    });
        } else {
            send_upgrade();
        }
    }

    void on_tls_handshake(const error_code& ec) {
        if (connect_done_) return;
        if constexpr (Tls) {
            if (ec) {
                long verify = SSL_get_verify_result(stream_.native_handle());
                if (verify != X509_V_OK) {
                    Error e(Errc::tls_certificate_rejected,
                            "TLS certificate of " + params_.url.host + " rejected: " +
                                X509_verify_cert_error_string(verify));
                    e.tls_detail = X509_verify_cert_error_string(verify);
                    return fail_connect(std::move(e));
                }
                Error e = error_from_asio(ec, "TLS handshake with " + params_.url.host);
                if (e.code == Errc::transport_error) e.code = Errc::tls_handshake_failed;
                e.tls_detail = ec.message();
                return fail_connect(std::move(e));
            }
        }
        send_upgrade();
    }

    void send_upgrade() {
        phase_ = Phase::upgrading;
        HandshakeRequest request;
        request.url = params_.url;
        request.origin = config_.origin;
        request.headers = config_.headers;
        request.subprotocols = config_.subprotocols;
        websocket_key_ = make_websocket_key();
        request_text_ = build_handshake_request(request, websocket_key_);
        asio::async_write(stream_, asio::buffer(request_text_),
                          [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                              self->on_upgrade_sent(ec);
                          });
    }

    void on_upgrade_sent(const error_code& ec) {
        if (connect_done_) return;
        if (ec) return fail_connect(error_from_asio(ec, "sending the upgrade request"));
        std::string().swap(request_text_);
        read_upgrade_response();
    }

    void read_upgrade_response() {
        input_.reserve(input_.size() + 2048);
        stream_.async_read_some(asio::buffer(input_.tail(), input_.tail_room()),
                                [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                                    self->on_upgrade_response_bytes(ec, n);
                                });
    }

    void on_upgrade_response_bytes(const error_code& ec, std::size_t n) {
        if (connect_done_) return;
        if (ec) {
            Error e = error_from_asio(ec, "reading the upgrade response");
            if (e.code == Errc::eof_without_close) {
                e.code = Errc::malformed_response;
                e.message = "server closed the connection before answering the WebSocket upgrade";
            }
            return fail_connect(std::move(e));
        }
        input_.commit(n);
        ResponseParse parsed = parse_handshake_response(
            std::string_view(reinterpret_cast<const char*>(input_.data()), input_.size()));
        if (parsed.state == ResponseParse::State::incomplete) return read_upgrade_response();
        if (parsed.state == ResponseParse::State::error) return fail_connect(std::move(parsed.error));
        auto outcome = validate_handshake_response(parsed.response, websocket_key_, config_.subprotocols);
        if (!outcome) return fail_connect(std::move(outcome).error());
        input_.consume(parsed.head_size);  // what remains are frames sent right behind the 101
        open_connection(outcome.value());
    }

    void fail_connect(Error error) {
        if (connect_done_) return;
        connect_done_ = true;
        phase_ = Phase::closed;
        timer_.cancel();
        if (resolver_) resolver_->cancel();
        error_code ignored;
        socket().close(ignored);
        input_.release();
        if (auto events = std::move(events_)) events->session_connect_failed(*this, error);
    }

    void open_connection(const HandshakeOutcome& outcome) {
        connect_done_ = true;
        phase_ = Phase::open;
        timer_.cancel();
        resolver_.reset();
        std::string().swap(websocket_key_);
        if constexpr (!Tls) {
            error_code ignored;
            socket().non_blocking(true, ignored);
        }
        {
            std::lock_guard lock(write_mutex_);
            write_open_ = true;
        }
        open_.store(true, std::memory_order_release);
        if (events_) events_->session_open(*this, outcome);
        if (phase_ != Phase::open) return;  // closed from inside the open handler
        if (input_.size() > 0) {
            std::size_t consumed = process(input_.data(), input_.size());
            input_.consume(consumed);
            if (phase_ == Phase::closed) return;
        }
        if (input_.size() == 0) input_.release();  // idle connections keep no receive buffer
        read_next();
    }

    // ---- read loop ----------------------------------------------------------------------------------------------
    void read_next() {
        if (phase_ == Phase::closed) return;
        if constexpr (Tls) {
            std::size_t want = std::max<std::size_t>(decoder_.bytes_needed(), input_.size() + 256 * 1024);
            input_.reserve(want);
            stream_.async_read_some(asio::buffer(input_.tail(), input_.tail_room()),
                                    [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                                        self->on_tls_read(ec, n);
                                    });
        } else {
            socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](const error_code& ec) {
                self->on_readable(ec);
            });
        }
    }

    void on_tls_read(const error_code& ec, std::size_t n) {
        if (phase_ == Phase::closed) return;
        if (ec) return on_read_error(ec);
        counters_.bytes_in.fetch_add(n, std::memory_order_relaxed);
        input_.commit(n);
        std::size_t consumed = process(input_.data(), input_.size());
        input_.consume(consumed);
        if (phase_ == Phase::closed) return;
        read_next();
    }

    // Plain TCP: wait for readability, then read into the thread's shared buffer (no per-connection receive
    // buffer while idle). Only bytes of an incomplete frame are kept per connection.
    void on_readable(const error_code& ec) {
        if (phase_ == Phase::closed) return;
        if (ec) return on_read_error(ec);
        for (int round = 0; round < 16; ++round) {
            error_code read_ec;
            std::size_t n = 0;
            bool filled = false;
            if (input_.size() == 0 && decoder_.bytes_needed() <= shared_read_buffer_size) {
                n = socket().read_some(asio::buffer(shared_read_buffer), read_ec);
                if (read_ec == asio::error::would_block) break;
                if (read_ec) return on_read_error(read_ec);
                counters_.bytes_in.fetch_add(n, std::memory_order_relaxed);
                filled = n == shared_read_buffer.size();
                std::size_t consumed = process(shared_read_buffer.data(), n);
                if (phase_ == Phase::closed) return;
                if (consumed < n) input_.append(shared_read_buffer.data() + consumed, n - consumed);
            } else {
                std::size_t want = std::max<std::size_t>(decoder_.bytes_needed(), input_.size() + 256 * 1024);
                input_.reserve(want);
                n = socket().read_some(asio::buffer(input_.tail(), input_.tail_room()), read_ec);
                if (read_ec == asio::error::would_block) break;
                if (read_ec) return on_read_error(read_ec);
                counters_.bytes_in.fetch_add(n, std::memory_order_relaxed);
                filled = n == input_.tail_room();
                input_.commit(n);
                std::size_t consumed = process(input_.data(), input_.size());
                if (phase_ == Phase::closed) return;
                input_.consume(consumed);
                if (input_.size() == 0 && input_.capacity() > 64 * 1024) input_.release();
            }
            if (!filled) break;  // the kernel buffer is drained; wait for the next edge
            if (round == 15) {
                // Still more to read: yield to other connections, then continue without waiting for an edge.
                asio::post(strand_, [self = this->shared_from_this()] { self->on_readable({}); });
                return;
            }
        }
        read_next();
    }

    std::size_t process(const std::uint8_t* data, std::size_t size) {
        in_dispatch_ = true;
        std::size_t consumed = decoder_.feed(data, size, *this);
        in_dispatch_ = false;
        if (decoder_.failed() && !protocol_failed_) {
            protocol_failed_ = true;
            fail_protocol();
        }
        if (flush_after_dispatch_) {
            flush_after_dispatch_ = false;
            flush();
        }
        return consumed;
    }

    void on_read_error(const error_code& ec) {
        if (phase_ == Phase::closed) return;
        if (phase_ == Phase::closing && (peer_close_received_ || close_sent_)) {
            // The close handshake is done (or we gave up on it): the server closed TCP.
            return finish();
        }
        Error e = error_from_asio(ec, "connection to " + params_.url.host + " lost");
        set_cause(std::move(e));
        finish();
    }

    // ---- closing ----------------------------------------------------------------------------------------------
    void fail_protocol() {
        std::uint16_t code = decoder_.fail_code();
        Errc errc = code == close_code::invalid_payload   ? Errc::invalid_utf8
                    : code == close_code::message_too_big ? Errc::message_too_big
                                                          : Errc::protocol_violation;
        // 1009 is our own limit (max_message_size), not a server fault; the other codes are the server's violations.
        Error e(errc, code == close_code::message_too_big ? "incoming " + decoder_.fail_reason()
                                                          : "server violated RFC 6455: " + decoder_.fail_reason());
        e.close_code = code;
        e.close_reason = decoder_.fail_reason();
        begin_close(code, decoder_.fail_reason(), std::move(e));
    }

    void begin_close(std::uint16_t code, std::string reason, Error cause) {
        if (phase_ == Phase::closed) return;
        if (phase_ != Phase::open && phase_ != Phase::closing) {
            return fail_connect(std::move(cause));  // still connecting
        }
        if (close_sent_) return;
        set_cause(std::move(cause));
        local_close_code_ = code;
        local_close_reason_ = reason;
        send_close_frame(code, reason);
        enter_closing();
    }

    void send_close_frame(std::uint16_t code, std::string_view reason) {
        close_sent_ = true;
        std::unique_lock lock(write_mutex_);
        if (!write_open_) return;
        std::string payload = code == 0 ? std::string() : make_close_payload(code, reason);
        append_frame(Opcode::close, payload);
        write_open_ = false;  // nothing may follow a close frame
        SendCallback none;
        bool need_flush = !flush_pending_ && !write_in_flight_;
        if (need_flush) flush_pending_ = true;
        lock.unlock();
        if (need_flush) {
            if (in_dispatch_) {
                flush_after_dispatch_ = true;
            } else {
                asio::post(strand_, [self = this->shared_from_this()] { self->flush(); });
            }
        }
    }

    void enter_closing() {
        phase_ = Phase::closing;
        open_.store(false, std::memory_order_release);
        timer_.expires_after(config_.close_timeout);
        timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (ec) return;
            self->on_close_deadline();
        });
    }

    void on_close_deadline() {
        if (phase_ != Phase::closing) return;
        if (!peer_close_received_ && cause_ && cause_->code == Errc::closed_by_user) {
            set_cause(Error(Errc::close_timeout, "server did not answer the close frame within " +
                                                    std::to_string(config_.close_timeout.count()) + " ms"));
        }
        finish();
    }

    void do_abort(Error cause, std::uint16_t code, const std::string& reason) {
        if (phase_ == Phase::closed) return;
        if (phase_ != Phase::open && phase_ != Phase::closing) return fail_connect(std::move(cause));
        if (!close_sent_) {
            // Best effort: put a close frame on the wire if the write path is idle, without waiting for a reply.
            std::unique_lock lock(write_mutex_);
            bool idle = !write_in_flight_ && staging_.empty() && write_open_;
            write_open_ = false;
            lock.unlock();
            close_sent_ = true;
            if constexpr (!Tls) {
                if (idle && code != 0) {
                    std::string payload = make_close_payload(code, reason);
                    std::uint8_t frame[max_client_frame_header_size + max_control_payload];
                    std::uint32_t key = mask_keys_.next();
                    std::size_t h = encode_client_frame_header(frame, Opcode::close, true, payload.size(), key);
                    std::memcpy(frame + h, payload.data(), payload.size());
                    apply_mask(frame + h, payload.size(), key);
                    error_code ignored;
                    socket().write_some(asio::buffer(frame, h + payload.size()), ignored);
                }
            }
        }
        local_close_code_ = code;
        local_close_reason_ = reason;
        set_cause(std::move(cause));
        finish();
    }

    void finish() {
        if (phase_ == Phase::closed) return;
        phase_ = Phase::closed;
        open_.store(false, std::memory_order_release);
        timer_.cancel();
        error_code ignored;
        socket().shutdown(tcp::socket::shutdown_both, ignored);
        socket().close(ignored);
        input_.release();
        WriteBatch unsent;
        {
            std::lock_guard lock(write_mutex_);
            write_open_ = false;
            std::swap(unsent, staging_);
        }
        Error not_written(Errc::disconnected, "connection closed before the message was written");
        for (auto& cb : unsent.callbacks) invoke(cb, not_written);

        CloseInfo info;
        if (peer_close_received_ && close_initiated_by_peer_) {
            info.code = peer_close_code_;
            info.reason = peer_close_reason_;
            info.by_peer = true;
        } else if (close_sent_ && local_close_code_ != 0) {
            info.code = local_close_code_;
            info.reason = local_close_reason_;
            info.by_peer = false;
        } else {
            info.code = close_code::abnormal;
            info.by_peer = false;
            if (!cause_) set_cause(Error(Errc::eof_without_close, "connection dropped without a close frame"));
        }
        if (!cause_) set_cause(Error());
        if (auto events = std::move(events_)) events->session_closed(*this, info, *cause_);
    }

    // ---- write path -------------------------------------------------------------------------------------------
    void count_frame_out(Opcode op) {
        counters_.frames_out.fetch_add(1, std::memory_order_relaxed);
        if (op == Opcode::text || op == Opcode::binary) counters_.messages_out.fetch_add(1, std::memory_order_relaxed);
    }

    // Caller holds write_mutex_.
    void append_frame(Opcode op, std::string_view payload) {
        ByteBuffer& bytes = staging_.bytes;
        std::size_t begin = bytes.size();
        std::uint32_t key = mask_keys_.next();
        std::uint8_t* out = bytes.extend(max_client_frame_header_size + payload.size());
        std::size_t header_size = encode_client_frame_header(out, op, true, payload.size(), key);
        copy_masked(out + header_size, reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size(), key);
        bytes.truncate(begin + header_size + payload.size());
        staging_.mark_bytes(begin);
        counters_.bytes_out.fetch_add(header_size + payload.size(), std::memory_order_relaxed);
        count_frame_out(op);
    }

    // Caller holds write_mutex_ (released here). Records the callback and makes sure a flush will run.
    Status queued(std::unique_lock<std::mutex>& lock, SendCallback& done) {
        if (done) staging_.callbacks.push_back(std::move(done));
        bool need_flush = !flush_pending_ && !write_in_flight_;
        if (need_flush) flush_pending_ = true;
        lock.unlock();
        if (need_flush) {
            if (strand_.running_in_this_thread() && in_dispatch_) {
                flush_after_dispatch_ = true;  // coalesce with everything the current read produces
            } else {
                asio::post(strand_, [self = this->shared_from_this()] { self->flush(); });
            }
        }
        return {};
    }

    void flush() {
        std::unique_lock lock(write_mutex_);
        flush_pending_ = false;
        if (write_in_flight_ || staging_.empty() || phase_ == Phase::closed) return;
        std::swap(staging_, inflight_);
        write_in_flight_ = true;
        lock.unlock();
        buffers_.clear();
        for (const auto& seg : inflight_.segments) {
            if (seg.owned_index == WriteBatch::npos) {
                buffers_.emplace_back(inflight_.bytes.data() + seg.begin, seg.end - seg.begin);
            } else {
                const std::string& owned = inflight_.owned[seg.owned_index];
                buffers_.emplace_back(owned.data(), owned.size());
            }
        }
        // A span, not the vector: the write operation copies its buffer sequence, and a span copies for free.
        std::span<const asio::const_buffer> sequence(buffers_.data(), buffers_.size());
        asio::async_write(stream_, sequence, [self = this->shared_from_this()](const error_code& ec, std::size_t) {
            self->on_written(ec);
        });
    }

    void on_written(const error_code& ec) {
        Error result;
        if (ec) result = error_from_asio(ec, "writing to " + params_.url.host);
        completed_.swap(inflight_.callbacks);
        inflight_.clear();
        {
            std::lock_guard lock(write_mutex_);
            write_in_flight_ = false;
        }
        for (auto& cb : completed_) invoke(cb, result);
        completed_.clear();
        if (ec) {
            if (phase_ != Phase::closed) {
                set_cause(result);
                finish();
            }
            return;
        }
        if (phase_ == Phase::closed) return;
        flush();
    }

    void invoke(SendCallback& cb, const Error& result) {
        try {
            cb(result);
        } catch (...) {
            // A throwing completion must not break the write path; the client reports handler errors.
        }
    }

    Strand strand_;
    SessionParams params_;
    const Config& config_;
    SessionCounters& counters_;
    std::shared_ptr<SessionEvents> events_;
    Stream stream_;
    std::unique_ptr<tcp::resolver> resolver_;  // only while connecting
    asio::steady_timer timer_;  // connect deadline, then close deadline
    FrameDecoder decoder_;
    ByteBuffer input_;          // handshake response, then bytes of an incomplete frame
    std::string websocket_key_;
    std::string request_text_;

    Phase phase_ = Phase::idle;
    std::atomic<bool> open_{false};
    bool connect_done_ = false;
    bool in_dispatch_ = false;
    bool flush_after_dispatch_ = false;
    bool protocol_failed_ = false;
    bool close_sent_ = false;
    bool peer_close_received_ = false;
    bool close_initiated_by_peer_ = false;
    std::uint16_t peer_close_code_ = 0;
    std::string peer_close_reason_;
    std::uint16_t local_close_code_ = 0;
    std::string local_close_reason_;
    std::unique_ptr<Error> cause_;  // why the session ends; allocated then (an Error is ~270 bytes)
    void set_cause(Error e) { cause_ = std::make_unique<Error>(std::move(e)); }

    mutable std::mutex write_mutex_;  // guards staging_, write_open_, flush_pending_, write_in_flight_, mask_keys_
    bool write_open_ = false;
    bool flush_pending_ = false;
    bool write_in_flight_ = false;
    MaskKeyGenerator mask_keys_;
    WriteBatch staging_;
    WriteBatch inflight_;                   // strand only
    std::vector<SendCallback> completed_;  // strand only
    std::vector<asio::const_buffer> buffers_;
};

std::string alpn_wire_format(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const auto& p : protocols) {
        if (p.empty() || p.size() > 255) continue;
        wire.push_back(static_cast<char>(p.size()));
        wire += p;
    }
    return wire;
}

std::string openssl_error_text() {
    unsigned long code = ERR_get_error();
    if (code == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

}  // namespace

std::shared_ptr<Session> make_session(Strand strand, SessionParams params, std::shared_ptr<SessionEvents> events) {
    if (params.url.secure) return std::make_shared<WsSession<true>>(strand, std::move(params), std::move(events));
    return std::make_shared<WsSession<false>>(strand, std::move(params), std::move(events));
}

Result<std::shared_ptr<ssl::context>> tls_context_for(const TlsOptions& options) {
    std::string key = options.ca_file + '\n' + options.ca_dir + '\n' + options.cert_file + '\n' + options.key_file +
                      '\n' + alpn_wire_format(options.alpn);
    static std::mutex cache_mutex;
    static std::map<std::string, std::weak_ptr<ssl::context>> cache;
    std::lock_guard lock(cache_mutex);
    if (auto it = cache.find(key); it != cache.end()) {
        if (auto existing = it->second.lock()) return existing;
    }
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                         ec);
    auto setup_error = [](std::string what, const error_code& e) {
        Error err(Errc::tls_setup_failed, what + ": " + e.message());
        err.tls_detail = e.message();
        return err;
    };
    if (!options.ca_file.empty()) {
        context->load_verify_file(options.ca_file, ec);
        if (ec) return setup_error("loading tls.ca_file " + options.ca_file, ec);
    }
    if (!options.ca_dir.empty()) {
        context->add_verify_path(options.ca_dir, ec);
        if (ec) return setup_error("using tls.ca_dir " + options.ca_dir, ec);
    }
    if (options.ca_file.empty() && options.ca_dir.empty()) {
        context->set_default_verify_paths(ec);
        if (ec) return setup_error("loading the system trust store", ec);
    }
    if (!options.cert_file.empty()) {
        context->use_certificate_chain_file(options.cert_file, ec);
        if (ec) return setup_error("loading tls.cert_file " + options.cert_file, ec);
        context->use_private_key_file(options.key_file, ssl::context::pem, ec);
        if (ec) return setup_error("loading tls.key_file " + options.key_file, ec);
    }
    std::string alpn = alpn_wire_format(options.alpn);
    if (!alpn.empty() &&
        SSL_CTX_set_alpn_protos(context->native_handle(), reinterpret_cast<const unsigned char*>(alpn.data()),
                                static_cast<unsigned>(alpn.size())) != 0) {
        Error err(Errc::tls_setup_failed, "setting ALPN: " + openssl_error_text());
        return err;
    }
    SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    cache[key] = context;
    return context;
}

}  // namespace zenws::detail
