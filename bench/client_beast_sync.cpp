// bench/client_beast_sync.cpp — Boost.Beast websocket::stream<tcp::socket>, synchronous calls.
//
// Beast's defaults plus TCP_NODELAY (without it Nagle adds tens of milliseconds: Beast #2927). One ws.write() per
// message, ws.read() per echo. Pipelined: prime the window, then read one / write one.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
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

void check(const boost::beast::flat_buffer& b, const bench::Options& o) {
    if (b.size() != o.size) bench::die("echo size mismatch");
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    asio::io_context ioc;
    try {
        if (o.mode == bench::Mode::idle) {
            std::vector<std::unique_ptr<Stream>> conns;
            conns.reserve(o.conns);
            conns.push_back(open(ioc, o));
            bench::MemSnapshot first = bench::snapshot();
            while (conns.size() < o.conns) conns.push_back(open(ioc, o));
            bench::MemSnapshot last = bench::snapshot();
            bench::report_idle("beast_sync", o, first, last, conns.size());
            return 0;
        }
        auto ws = open(ioc, o);
        std::string payload = bench::make_payload(o.size);
        boost::beast::flat_buffer buf;
        bench::Meter m;
        if (o.mode == bench::Mode::rtt) {
            std::vector<std::uint64_t> samples;
            samples.reserve(o.count);
            for (std::size_t i = 0; i < o.warmup + o.count; ++i) {
                if (i == o.warmup) m.start();
                std::uint64_t t0 = bench::now_ns();
                ws->write(asio::buffer(payload));
                ws->read(buf);
                std::uint64_t t1 = bench::now_ns();
                check(buf, o);
                buf.consume(buf.size());
                if (i >= o.warmup) samples.push_back(t1 - t0);
            }
            m.stop();
            bench::report_rtt("beast_sync", o, samples, m);
        } else {
            std::size_t sent = 0, received = 0;
            m.start();
            while (sent < o.window && sent < o.count) {
                ws->write(asio::buffer(payload));
                ++sent;
            }
            while (received < o.count) {
                ws->read(buf);
                check(buf, o);
                buf.consume(buf.size());
                ++received;
                if (sent < o.count) {
                    ws->write(asio::buffer(payload));
                    ++sent;
                }
            }
            m.stop();
            bench::report_rate("beast_sync", o, received, m);
        }
        ws->close(websocket::close_code::normal);
    } catch (const std::exception& e) {
        bench::die("beast_sync:", e.what());
    }
    return 0;
}
