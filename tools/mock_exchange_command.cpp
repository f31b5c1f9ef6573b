// mock_exchange_command.cpp — owns `zenws mock-exchange`: the mock exchange as a process for tests of other
// systems. Prints "READY <port> <control_port>" on stdout, then runs until SIGINT/SIGTERM or EOF on stdin.
#include "tools/mock_exchange_command.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include "zenws/mock/exchange.hpp"

namespace zenws::tool {
namespace {

struct MockOptions {
    std::string dialect = "deribit";
    int port = 0;
    int control_port = 0;
    bool tls = false;
    std::string cert, key;
    long token_ttl_ms = 900'000;
    long min_heartbeat_ms = 10'000;
    long notify_ms = 100;
    bool no_rate_limits = false;
    long ping_ms = 20'000;
    long pong_timeout_ms = 60'000;
    long lifetime_ms = 86'400'000;
    long event_ms = 100;
    int max_msgs_per_s = 5;
};

int run_mock_exchange(const MockOptions& o) {
    using std::chrono::milliseconds;
    mock::MockExchangeOptions opts;
    opts.dialect = o.dialect == "binance" ? mock::DialectKind::binance : mock::DialectKind::deribit;
    opts.port = static_cast<std::uint16_t>(o.port);
    opts.control_port = o.control_port;
    opts.tls = o.tls || !o.cert.empty();
    opts.cert_file = o.cert;
    opts.key_file = o.key;
    opts.deribit.token_ttl = milliseconds(o.token_ttl_ms);
    opts.deribit.min_heartbeat_interval_ms = o.min_heartbeat_ms;
    opts.deribit.notification_interval = milliseconds(o.notify_ms);
    opts.deribit.rate_limits = !o.no_rate_limits;
    opts.binance.ping_interval = milliseconds(o.ping_ms);
    opts.binance.pong_timeout = milliseconds(o.pong_timeout_ms);
    opts.binance.lifetime = milliseconds(o.lifetime_ms);
    opts.binance.event_interval = milliseconds(o.event_ms);
    opts.binance.max_incoming_per_second = o.no_rate_limits ? 0 : o.max_msgs_per_s;

    // Signals are taken synchronously by this thread: block them before the server threads start.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto server = std::make_unique<mock::MockExchange>(opts);
    if (auto st = server->start(); !st) {
        std::fprintf(stderr, "zenws mock-exchange: %s\n", st.error().message.c_str());
        return 1;
    }
    std::printf("READY %u %u\n", static_cast<unsigned>(server->port()), static_cast<unsigned>(server->control_port()));
    std::fflush(stdout);
    std::fprintf(stderr, "zenws mock-exchange: %s dialect on %s (control port %u)%s%s\n", o.dialect.c_str(),
                 server->url().c_str(), static_cast<unsigned>(server->control_port()),
                 opts.tls ? ", certificate " : "", opts.tls ? server->cert_file().c_str() : "");

    std::atomic<bool> eof{false};
    std::thread([&eof] {
        char buf[4096];
        while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
        }
        eof = true;
    }).detach();
    timespec tick{0, 100'000'000};
    while (!eof) {
        int sig = sigtimedwait(&set, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
    }
    server->stop();
    return 0;
}

}  // namespace

void add_mock_exchange_command(CLI::App& app) {
    auto o = std::make_shared<MockOptions>();
    CLI::App* cmd = app.add_subcommand("mock-exchange", "Run a local mock exchange (Deribit / Binance) with faults");
    cmd->add_option("--dialect", o->dialect, "deribit | binance")->check(CLI::IsMember({"deribit", "binance"}));
    cmd->add_option("--port", o->port, "Port on 127.0.0.1 (0 = ephemeral)")->check(CLI::Range(0, 65535));
    cmd->add_option("--control-port", o->control_port, "Control port on 127.0.0.1 (0 = ephemeral, -1 = none)")
        ->check(CLI::Range(-1, 65535));
    cmd->add_flag("--tls", o->tls, "Serve wss (self-signed certificate unless --cert)");
    cmd->add_option("--cert", o->cert, "PEM certificate (chain) for wss");
    cmd->add_option("--key", o->key, "PEM private key for wss (default: --cert)");
    cmd->add_option("--token-ttl-ms", o->token_ttl_ms, "Deribit: access token lifetime");
    cmd->add_option("--min-heartbeat-ms", o->min_heartbeat_ms, "Deribit: smallest set_heartbeat interval accepted");
    cmd->add_option("--notify-ms", o->notify_ms, "Deribit: notification interval per channel (0 = none)");
    cmd->add_flag("--no-rate-limits", o->no_rate_limits, "Disable Deribit credits and the Binance message limit");
    cmd->add_option("--ping-ms", o->ping_ms, "Binance: server ping interval (0 = none)");
    cmd->add_option("--pong-timeout-ms", o->pong_timeout_ms, "Binance: pong deadline");
    cmd->add_option("--lifetime-ms", o->lifetime_ms, "Binance: connection lifetime (0 = unlimited)");
    cmd->add_option("--event-ms", o->event_ms, "Binance: event interval per stream (0 = none)");
    cmd->add_option("--max-msgs-per-s", o->max_msgs_per_s, "Binance: incoming messages per second per connection");
    cmd->callback([o] {
        int code = run_mock_exchange(*o);
        std::fflush(stdout);
        std::fflush(stderr);
        std::_Exit(code);
    });
}

}  // namespace zenws::tool
