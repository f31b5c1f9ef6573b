// bench/client_websocketpp.cpp — websocketpp 0.8.2 client on Boost.Asio (config::asio_client, no TLS).
//
// Logging off, TCP_NODELAY set in the open handler, sends through connection::send (websocketpp queues them and
// writes everything queued with one scatter write). The echo loop runs in the message handler on the one thread
// that runs the io_context.
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include "bench_common.hpp"

using Client = websocketpp::client<websocketpp::config::asio_client>;
using ConnPtr = Client::connection_ptr;
using MsgPtr = Client::message_ptr;
using websocketpp::connection_hdl;
namespace opcode = websocketpp::frame::opcode;

namespace {

struct State {
    const bench::Options* o = nullptr;
    Client* client = nullptr;
    ConnPtr conn;
    std::string payload;
    opcode::value op = opcode::text;
    std::vector<std::uint64_t> samples;
    bench::Meter m;
    std::uint64_t t_send = 0;
    std::size_t sent = 0, received = 0, rounds = 0, opened = 0;
    bool done = false;

    void send() {
        ++sent;
        auto ec = conn->send(payload, op);
        if (ec) bench::die("websocketpp send:", ec.message().c_str());
    }

    void on_open(connection_hdl) {
        conn->get_socket().set_option(boost::asio::ip::tcp::no_delay(true));
        if (o->mode == bench::Mode::rtt) {
            if (o->warmup == 0) m.start();
            t_send = bench::now_ns();
            send();
        } else {
            m.start();
            for (std::size_t i = 0; i < o->window && sent < o->count; ++i) send();
        }
    }

    void on_message(connection_hdl, MsgPtr msg) {
        if (msg->get_payload().size() != o->size) bench::die("echo size mismatch");
        if (o->mode == bench::Mode::rtt) {
            std::uint64_t now = bench::now_ns();
            ++rounds;
            if (rounds > o->warmup) samples.push_back(now - t_send);
            if (rounds == o->warmup) m.start();
            if (rounds == o->warmup + o->count) return finish();
            t_send = bench::now_ns();
            send();
            return;
        }
        ++received;
        if (received == o->count) return finish();
        if (sent < o->count) send();
    }

    void finish() {
        m.stop();
        done = true;
    }
};

ConnPtr connect(Client& c, const bench::Options& o) {
    websocketpp::lib::error_code ec;
    std::string uri = "ws://" + o.host + ":" + std::to_string(o.port) + "/";
    ConnPtr con = c.get_connection(uri, ec);
    if (ec) bench::die("websocketpp get_connection:", ec.message().c_str());
    c.connect(con);
    return con;
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    Client c;
    c.clear_access_channels(websocketpp::log::alevel::all);
    c.clear_error_channels(websocketpp::log::elevel::all);
    c.init_asio();
    auto& ioc = c.get_io_service();
    State st;
    st.o = &o;
    st.client = &c;
    st.payload = bench::make_payload(o.size);
    st.op = o.text() ? opcode::text : opcode::binary;
    c.set_fail_handler([](connection_hdl) { bench::die("websocketpp: connection failed"); });
    bench::Deadline deadline(300);

    if (o.mode == bench::Mode::idle) {
        std::vector<ConnPtr> conns;
        conns.reserve(o.conns);
        c.set_open_handler([&](connection_hdl h) {
            c.get_con_from_hdl(h)->get_socket().set_option(boost::asio::ip::tcp::no_delay(true));
            ++st.opened;
        });
        auto add = [&] {
            conns.push_back(connect(c, o));
            std::size_t want = conns.size();
            for (std::uint64_t i = 0; st.opened < want; ++i) {
                if ((i & 1023) == 0 && deadline.passed()) bench::die("websocketpp: connect timeout");
                if (ioc.run_one() == 0) bench::die("websocketpp: io stopped");
            }
        };
        add();
        bench::MemSnapshot first = bench::snapshot();
        while (conns.size() < o.conns) add();
        ioc.poll();
        bench::MemSnapshot last = bench::snapshot();
        bench::report_idle("websocketpp", o, first, last, conns.size());
        std::_Exit(0);
    }

    if (o.mode == bench::Mode::rtt) st.samples.reserve(o.count);
    c.set_open_handler([&](connection_hdl h) { st.on_open(h); });
    c.set_message_handler([&](connection_hdl h, MsgPtr msg) { st.on_message(h, std::move(msg)); });
    st.conn = connect(c, o);
    for (std::uint64_t i = 0; !st.done; ++i) {
        if ((i & 4095) == 0 && deadline.passed()) bench::die("websocketpp: did not finish");
        if (ioc.run_one() == 0) bench::die("websocketpp: io stopped");
    }
    if (o.mode == bench::Mode::rtt) bench::report_rtt("websocketpp", o, st.samples, st.m);
    else bench::report_rate("websocketpp", o, st.received, st.m);
    std::_Exit(0);
}
