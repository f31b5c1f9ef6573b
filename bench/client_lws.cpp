// bench/client_lws.cpp — libwebsockets (Debian 4.1.6) client, default poll() event loop, no TLS.
//
// Follows lws' rules: one lws_write() per LWS_CALLBACK_CLIENT_WRITEABLE, with LWS_PRE bytes of headroom (the
// payload is masked in place, so it is copied into the send buffer each time). Messages may be delivered in
// pieces; one is complete when lws_is_final_fragment() and no payload remains. TCP_NODELAY is set explicitly.
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

struct State {
    const bench::Options* o = nullptr;
    std::string payload;
    std::vector<unsigned char> txbuf;
    std::vector<std::uint64_t> samples;
    bench::Meter m;
    std::uint64_t t_send = 0;
    std::size_t allowed = 0;      // messages we may still write now
    std::size_t sent = 0, received = 0, rounds = 0, established = 0, partial = 0;
    bool done = false;
    bool idle = false;
};

State g;

void set_nodelay(lws* wsi) {
    int fd = lws_get_socket_fd(wsi);
    int one = 1;
    if (fd >= 0) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void allow_send(lws* wsi) {
    if (g.o->mode == bench::Mode::rtt) g.t_send = bench::now_ns();  // the app wants to send now
    ++g.allowed;
    lws_callback_on_writable(wsi);
}

void finish() {
    g.m.stop();
    g.done = true;
}

void on_echo(lws* wsi) {
    const bench::Options& o = *g.o;
    if (o.mode == bench::Mode::rtt) {
        std::uint64_t now = bench::now_ns();
        ++g.rounds;
        if (g.rounds > o.warmup) g.samples.push_back(now - g.t_send);
        if (g.rounds == o.warmup) g.m.start();
        if (g.rounds == o.warmup + o.count) return finish();
        allow_send(wsi);
        return;
    }
    ++g.received;
    if (g.received == o.count) return finish();
    if (g.sent + g.allowed < o.count) allow_send(wsi);
}

int callback(lws* wsi, lws_callback_reasons reason, void*, void* in, size_t len) {
    switch (reason) {
        case LWS_CALLBACK_CLIENT_ESTABLISHED: {
            set_nodelay(wsi);
            ++g.established;
            if (g.idle) break;
            const bench::Options& o = *g.o;
            if (o.mode == bench::Mode::rtt) {
                if (o.warmup == 0) g.m.start();
                allow_send(wsi);
            } else {
                g.m.start();
                g.allowed = std::min(o.window, o.count);
                lws_callback_on_writable(wsi);
            }
            break;
        }
        case LWS_CALLBACK_CLIENT_WRITEABLE: {
            if (g.idle || g.done || g.allowed == 0) break;
            std::memcpy(g.txbuf.data() + LWS_PRE, g.payload.data(), g.payload.size());
            int n = lws_write(wsi, g.txbuf.data() + LWS_PRE, g.payload.size(),
                              g.o->text() ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
            if (n < int(g.payload.size())) bench::die("lws_write failed");
            --g.allowed;
            ++g.sent;
            if (g.allowed) lws_callback_on_writable(wsi);
            break;
        }
        case LWS_CALLBACK_CLIENT_RECEIVE: {
            (void)in;
            g.partial += len;
            if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
                if (g.partial != g.o->size) bench::die("echo size mismatch");
                g.partial = 0;
                on_echo(wsi);
            }
            break;
        }
        case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
            bench::die("lws: connection error:", in ? static_cast<const char*>(in) : "");
        case LWS_CALLBACK_CLIENT_CLOSED:
            if (!g.done && !g.idle) bench::die("lws: connection closed early");
            break;
        default:
            break;
    }
    return 0;
}

lws_protocols protocols[] = {
    {"bench", callback, 0, 65536 + 1024, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

lws* connect(lws_context* ctx, const bench::Options& o, const std::string& host) {
    lws_client_connect_info ci;
    std::memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = o.host.c_str();
    ci.port = o.port;
    ci.path = "/";
    ci.host = host.c_str();
    ci.origin = host.c_str();
    ci.protocol = nullptr;  // bind to protocols[0] without a Sec-WebSocket-Protocol header
    ci.local_protocol_name = "bench";
    ci.ietf_version_or_minus_one = -1;
    lws* wsi = lws_client_connect_via_info(&ci);
    if (!wsi) bench::die("lws_client_connect_via_info failed");
    return wsi;
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options o = bench::parse_options(argc, argv);
    lws_set_log_level(0, nullptr);
    g.o = &o;
    g.payload = bench::make_payload(o.size);
    g.txbuf.resize(LWS_PRE + o.size);
    g.idle = o.mode == bench::Mode::idle;
    if (o.mode == bench::Mode::rtt) g.samples.reserve(o.count);

    lws_context_creation_info info;
    std::memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    if (g.idle) info.fd_limit_per_thread = unsigned(o.conns + 64);
    lws_context* ctx = lws_create_context(&info);
    if (!ctx) bench::die("lws_create_context failed");
    std::string host = o.host + ":" + std::to_string(o.port);
    bench::Deadline deadline(300);

    if (g.idle) {
        std::size_t opened = 0;
        auto add = [&] {
            connect(ctx, o, host);
            ++opened;
            for (std::uint64_t i = 0; g.established < opened; ++i) {
                if ((i & 255) == 0 && deadline.passed()) bench::die("lws: connect timeout");
                lws_service(ctx, 0);
            }
        };
        add();
        bench::MemSnapshot first = bench::snapshot();
        while (opened < o.conns) add();
        bench::MemSnapshot last = bench::snapshot();
        bench::report_idle("libwebsockets", o, first, last, opened);
        std::_Exit(0);
    }

    connect(ctx, o, host);
    for (std::uint64_t i = 0; !g.done; ++i) {
        if ((i & 4095) == 0 && deadline.passed()) bench::die("lws: did not finish");
        if (lws_service(ctx, 0) < 0) bench::die("lws_service failed");
    }
    if (o.mode == bench::Mode::rtt) bench::report_rtt("libwebsockets", o, g.samples, g.m);
    else bench::report_rate("libwebsockets", o, g.received, g.m);
    std::_Exit(0);
}
