// server.cpp — owns the mock exchange server (zenws/mock/exchange.hpp): a small server-side WebSocket
// implementation on Boost.Asio (+ asio::ssl for wss; no Beast, so that every fault — missing pongs, 1-byte writes,
// broken handshakes, FIN/RST without a close frame — is under our control). Here: MockExchange's lifecycle (TLS
// setup, listening sockets, its own thread or a Runtime's loop, stop), the accept loop, `refuse`'s reopen and the
// choice of connections a fault applies to. One connection's handshake, frames and writes are in connection.cpp,
// fault commands and the control port in control.cpp, status in status.cpp, the certificate in certificate.cpp;
// the protocol logic in deribit.cpp and binance.cpp.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "server_internal.hpp"
#include "zenws/mock/certificate.hpp"
#include "zenws/runtime.hpp"

namespace zenws::mock {

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

}  // namespace zenws::mock
