// bench/client_beast_async.cpp — Boost.Beast websocket::stream<tcp::socket>, asynchronous, one io_context thread.
//
// Beast's defaults plus TCP_NODELAY. One async_read always outstanding; Beast allows one async_write at a time, so
// sends are queued (a counter: every message carries the same payload) and the next write starts from the
// completion of the previous one.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Stream = websocket::stream<tcp::socket>;

namespace {

std::unique_ptr<Stream> open(asio::io_context& ioc, const bench::Options& o) {
    auto ws = std::make_unique<Stream>(ioc);
    tcp::endpoint ep(asio::ip::make_address(o.host), std::uint16_t(o.port));
    ws->next_layer().connect(ep);
    ws->next_layer().set_option(tcp::no_delay(true));
    ws->handshake(o.host + ":" + std::to_string(o.port), "/");
    ws->binary(!o.text());
    return ws;
}

class Session {
public:
    Session(Stream& ws, const bench::Options& o) : ws_(ws), o_(o), payload_(bench::make_payload(o.size)) {
        if (o.mode == bench::Mode::rtt) samples_.reserve(o.count);
    }

    void start() {
        read();
        if (o_.mode == bench::Mode::rtt) {
            if (o_.warmup == 0) m_.start();
            t_send_ = bench::now_ns();
            send();
        } else {
            m_.start();
            for (std::size_t i = 0; i < o_.window && sent_ < o_.count; ++i) send();
        }
    }

    void report() {
        if (o_.mode == bench::Mode::rtt) bench::report_rtt("beast_async", o_, samples_, m_);
        else bench::report_rate("beast_async", o_, received_, m_);
    }

    bool done() const { return done_; }

private:
    void send() {
        ++sent_;
        if (writing_) {
            ++queued_;
            return;
        }
        write_one();
    }

    void write_one() {
        writing_ = true;
        ws_.async_write(asio::buffer(payload_), [this](beast::error_code ec, std::size_t) {
            if (ec) bench::die("beast_async write:", ec.message().c_str());
            writing_ = false;
            if (queued_) {
                --queued_;
                write_one();
            }
        });
    }

    void read() {
        ws_.async_read(buf_, [this](beast::error_code ec, std::size_t) {
            if (ec) bench::die("beast_async read:", ec.message().c_str());
            if (buf_.size() != o_.size) bench::die("echo size mismatch");
            buf_.consume(buf_.size());
            on_echo();
        });
    }

    void on_echo() {
        if (o_.mode == bench::Mode::rtt) {
            std::uint64_t now = bench::now_ns();
            ++rounds_;
            if (rounds_ > o_.warmup) samples_.push_back(now - t_send_);
            if (rounds_ == o_.warmup) m_.start();
            if (rounds_ == o_.warmup + o_.count) return finish();
            read();
            t_send_ = bench::now_ns();
            send();
            return;
        }
        ++received_;
        if (received_ == o_.count) return finish();
        read();
        if (sent_ < o_.count) send();
    }

    void finish() {
        m_.stop();
        done_ = true;
    }

    Stream& ws_;
    const bench::Options& o_;
    std::string payload_;
    beast::flat_buffer buf_;
    std::vector<std::uint64_t> samples_;
    bench::Meter m_;
    std::uint64_t t_send_ = 0;
    std::size_t sent_ = 0, received_ = 0, rounds_ = 0, queued_ = 0;
    bool writing_ = false, done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    asio::io_context ioc(1);
    try {
        if (o.mode == bench::Mode::idle) {
            // Idle connections each keep an async_read outstanding, as a real client would.
            std::vector<std::unique_ptr<Stream>> conns;
            std::vector<std::unique_ptr<beast::flat_buffer>> bufs;
            conns.reserve(o.conns);
            bufs.reserve(o.conns);
            auto add = [&] {
                conns.push_back(open(ioc, o));
                bufs.push_back(std::make_unique<beast::flat_buffer>());
                conns.back()->async_read(*bufs.back(), [](beast::error_code, std::size_t) {});
                ioc.poll();
            };
            add();
            bench::MemSnapshot first = bench::snapshot();
            while (conns.size() < o.conns) add();
            ioc.poll();
            bench::MemSnapshot last = bench::snapshot();
            bench::report_idle("beast_async", o, first, last, conns.size());
            std::_Exit(0);  // skip tearing down 1000 pending reads
        }
        auto ws = open(ioc, o);
        Session s(*ws, o);
        s.start();
        bench::Deadline deadline(300);
        for (std::uint64_t i = 0; !s.done(); ++i) {
            if ((i & 4095) == 0 && deadline.passed()) break;
            if (ioc.run_one() == 0) break;
        }
        if (!s.done()) bench::die("beast_async: did not finish");
        s.report();
    } catch (const std::exception& e) {
        bench::die("beast_async:", e.what());
    }
    return 0;
}
