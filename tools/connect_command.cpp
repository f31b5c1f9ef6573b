// connect_command.cpp — `zenws connect URL`, in the habits of websocat/wscat: stdin lines become messages,
// received messages go to stdout one per line; events as JSON lines with --jsonl. Status and error texts show URLs
// redacted (Url::to_string / redact_url) and never a header value.
#include <CLI/CLI.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "tools/cli_common.hpp"
#include "tools/commands.hpp"
#include "zenws/client.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/recorder.hpp"
#include "zenws/runtime.hpp"

namespace zenws::tool {

void add_connect_options(CLI::App& app, ConnectOptions& o) {
    app.add_option("url", o.url, "ws:// or wss:// URL")->required();
    app.add_flag("--binary", o.binary, "Send stdin lines as binary messages");
    app.add_option("-H,--header", o.headers, "Extra upgrade header 'Name: value' (repeatable)");
    app.add_option("--subprotocol", o.subprotocols, "Offer a subprotocol (repeatable)");
    app.add_option("--heartbeat", o.heartbeat, "ping_pong|deribit|server_ping[:INTERVAL_MS]");
    app.add_option("--retry", o.retry, "Reconnect attempts per outage (0 = none)")
        ->check(int_range(0, 1'000'000, "reconnect attempts"));
    app.add_option("--timeout", o.timeout_ms, "Per-attempt connect timeout in ms")
        ->check(int_range(1, 86'400'000, "milliseconds"));
    app.add_option("--cafile", o.cafile, "PEM file of trusted CAs for wss");
    app.add_flag("--insecure", o.insecure, "DANGER: do not verify the server certificate (tests only)");
    app.add_option("--record", o.record, "Record every frame to this JSON-lines file");
    app.add_flag("--echo", o.echo, "Send every received message back unchanged (same opcode)");
    app.add_flag("--jsonl", o.jsonl, "Print events and messages as JSON lines");
    app.add_flag("-q,--quiet", o.quiet, "Print only messages (no status lines on stderr)");
}

namespace {

class Output {
public:
    explicit Output(const ConnectOptions& o) : options_(o) {}

    void message(MessageView m) {
        std::lock_guard lock(mutex_);
        if (options_.jsonl) {
            std::string line = "{\"event\":\"message\",\"type\":\"";
            line += m.is_text() ? "text\",\"data\":" : "binary\",\"base64\":";
            line += m.is_text() ? json_quote(m.data) : json_quote(base64_encode(m.data));
            line += "}\n";
            std::fwrite(line.data(), 1, line.size(), stdout);
        } else {
            std::fwrite(m.data.data(), 1, m.data.size(), stdout);
            std::fputc('\n', stdout);
        }
        std::fflush(stdout);
    }

    void event(std::string_view name, const std::string& fields_json, const std::string& human) {
        std::lock_guard lock(mutex_);
        if (options_.jsonl) {
            std::string line = "{\"event\":\"" + std::string(name) + "\"";
            if (!fields_json.empty()) line += "," + fields_json;
            line += "}\n";
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fflush(stdout);
        } else if (!options_.quiet && !human.empty()) {
            std::fprintf(stderr, "zenws: %s\n", human.c_str());
        }
    }

private:
    const ConnectOptions& options_;
    std::mutex mutex_;
};

}  // namespace

int run_connect(const ConnectOptions& o) {
    Config config;
    config.url = o.url;
    config.retry_count = o.retry;
    config.timeout = std::chrono::milliseconds(o.timeout_ms);
    config.tls.ca_file = o.cafile;
    config.tls.insecure_skip_verify = o.insecure;
    config.subprotocols = o.subprotocols;
    config.record_to = o.record;
    config.record_crash_handlers = !o.record.empty();  // the tool owns its process: a crash still writes the file
    config.send_policy = SendPolicy::buffer;  // lines typed during a reconnect are sent after it
    for (std::size_t i = 0; i < o.headers.size(); ++i) {
        if (auto st = add_header_option(o.headers[i], i, config); !st) {
            std::fprintf(stderr, "zenws: %s\n", st.error().message.c_str());
            return 2;
        }
    }
    if (auto st = apply_heartbeat(o.heartbeat, config); !st) {
        std::fprintf(stderr, "zenws: %s\n", st.error().explain().c_str());
        return 2;
    }

    Output out(o);
    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool finished = false;
    Error final_error;
    Client client;  // set once connected; the echo handler uses it
    std::atomic<bool> client_ready{false};

    Handlers handlers;
    handlers.on_message = [&](MessageView m) {
        out.message(m);
        if (o.echo && client_ready.load(std::memory_order_acquire)) (void)client.send(m.opcode, m.data);
    };
    handlers.on_state = [&](State from, State to, const Error& cause) {
        std::string fields = "\"from\":\"" + std::string(to_string(from)) + "\",\"to\":\"" +
                             std::string(to_string(to)) + "\"";
        if (cause) fields += ",\"error\":" + json_quote(std::string(cause.name())) +
                             ",\"message\":" + json_quote(cause.message);
        std::string human = std::string(to_string(to));
        if (cause) human += " (" + cause.explain() + ")";
        out.event(to == State::connected ? "connected" : to_string(to), fields, human);
        if (to == State::disconnected || to == State::closed) {
            std::lock_guard lock(done_mutex);
            finished = true;
            final_error = cause;
            done_cv.notify_all();
        }
    };
    handlers.on_close = [&](const CloseInfo& info) {
        out.event("close",
                  "\"code\":" + std::to_string(info.code) + ",\"reason\":" + json_quote(info.reason) +
                      ",\"by_peer\":" + (info.by_peer ? "true" : "false"),
                  "connection closed: " + std::to_string(info.code) + (info.reason.empty() ? "" : " " + info.reason));
    };

    auto connected = Client::connect(config, handlers);
    if (!connected) {
        const Error& e = connected.error();
        out.event("error", "\"error\":" + json_quote(std::string(e.name())) + ",\"message\":" + json_quote(e.message),
                  "");
        // One line; with --retry 0 it says that no further attempt was made (the suggestion may call it retryable).
        std::fprintf(stderr, "zenws: %s%s\n", e.explain().c_str(),
                     o.retry == 0 && e.retryable() ? " (--retry 0: one attempt only; pass --retry N to try again)" : "");
        return e.code == Errc::invalid_config ? 2 : 1;
    }
    client = connected.value();
    client_ready.store(true, std::memory_order_release);

    // stdin → messages, on this thread. The connection runs on the runtime's thread.
    std::thread reader([&] {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            Status st = o.binary ? client.send_binary(std::move(line)) : client.send_text(std::move(line));
            if (!st && st.error().code != Errc::not_connected) {
                std::fprintf(stderr, "zenws: send failed: %s\n", st.error().explain().c_str());
            }
            line.clear();
            std::lock_guard lock(done_mutex);
            if (finished) return;
        }
        // End of input: close unless we are an echo client, which runs until the server closes.
        if (!o.echo) client.close(close_code::normal, "");
    });
    reader.detach();  // may be blocked in getline; the process exits when the connection ends

    {
        std::unique_lock lock(done_mutex);
        done_cv.wait(lock, [&] { return finished; });
    }
    if (final_error && final_error.code != Errc::closed_by_user && final_error.code != Errc::closed_by_peer) {
        std::fprintf(stderr, "zenws: %s%s\n", final_error.explain().c_str(),
                     o.retry == 0 && final_error.retryable()
                         ? " (--retry 0: no reconnect was attempted; pass --retry N to reconnect)"
                         : "");
        return 3;
    }
    if (final_error.code == Errc::closed_by_peer && final_error.close_code != close_code::normal &&
        final_error.close_code != close_code::going_away) {
        return 3;
    }
    return 0;  // main() exits without waiting for the stdin reader
}

}  // namespace zenws::tool
