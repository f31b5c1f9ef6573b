// server_internal.hpp — owns the internal shapes of the mock exchange's socket layer, shared by its sources (private
// to zenws_mock): the server state (MockExchange::Impl: acceptors, connections, fault flags, the strand) and the
// per-connection WebSocket session (Conn), plus the small text helpers. Defined in server.cpp (lifecycle,
// acceptors), connection.cpp (handshake, frames, writes), control.cpp (commands, control port) and status.cpp.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "zenws/frame.hpp"
#include "zenws/mock/exchange.hpp"

namespace zenws::mock {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

// One unmasked, final server frame (RFC 6455 §5.2) carrying `payload` (connection.cpp).
std::string frame(Opcode op, std::string_view payload);
// Surrounding blanks (and a trailing newline) removed (control.cpp).
std::string trim(std::string_view s);

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

// One accepted TCP connection: the opening handshake, then a WebSocket session driven by the dialect's
// DialectSession. Lives on the server's strand; the server's `conns` map owns it until it ends.
class Conn : public std::enable_shared_from_this<Conn> {
public:
    Conn(std::shared_ptr<MockExchange::Impl> srv, std::uint64_t id, tcp::socket sock);

    std::uint64_t id() const { return id_; }
    bool is_open() const { return ws_open_ && !ended_; }

    void start();
    ConnectionStatus status() const;  // status.cpp

    // ---- fault entry points ----
    void drop(bool rst);
    void close_frame(std::uint16_t code, std::string reason, EndReason why);
    void flood(std::size_t count, std::size_t size);
    void skip_heartbeat() { if (session_) session_->skip_heartbeat(); }
    void gap() { if (session_) session_->inject_gap(); }
    void resume();
    void server_stopped();
    void send_text(std::string_view text);

private:
    // ---- stream helpers ----
    tcp::socket::lowest_layer_type& lowest() { return tls_ ? tls_->lowest_layer() : *plain_; }
    template <class F>
    void with_stream(F&& f) {
        if (tls_) f(*tls_);
        else f(*plain_);
    }
    void arm_io_timeout(std::chrono::milliseconds d);

    // ---- opening handshake ----
    void read_http();
    void on_request();
    void hold_unanswered();
    void drain_unanswered();
    void reject(int status, const char* reason);

    // ---- frames in ----
    void read_frames();
    void parse_frames();
    void on_frame(Opcode op, bool fin, std::string payload);
    void protocol_error(std::uint16_t code, const char* reason);

    // ---- dialect output ----
    void apply(Output out);
    void route(OutMessage m);
    void flush_held();

    // ---- writes ----
    void queue_frame(std::string f);
    void send_close(std::uint16_t code, std::string_view reason);
    void write_next();

    // ---- timers and the end ----
    void rearm_tick();
    void set_end(EndReason why, std::uint16_t code, std::string_view reason);
    void close_socket(bool graceful);
    void finish();

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

}  // namespace zenws::mock
