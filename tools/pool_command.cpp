// pool_command.cpp — `zenws pool URL... [--size N]`: a supervised, health-balanced pool (ClientSupervisor, N clients
// per URL). Each stdin line goes out with send_balanced: a JSON object with an "id" is a request and its reply is
// printed; any other line prints "ok" once written. Output lines come in input order. A live status table on stderr
// when it is a terminal, plain status lines on stderr every --status-every seconds otherwise. Exits on stdin EOF
// once every pending request completed: 0 when every line succeeded, 1 when a line failed or nothing connected,
// 2 on a usage/configuration error. URLs are printed redacted (redact_url).
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/cli_common.hpp"
#include "tools/commands.hpp"
#include "tools/demo_console.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/runtime.hpp"
#include "zenws/url.hpp"

namespace zenws::tool {

void add_pool_options(CLI::App& app, PoolOptions& o) {
    app.add_option("urls", o.urls, "ws:// or wss:// URLs (one or more)")->required()->expected(1, -1);
    app.add_option("--size", o.size, "Clients per URL (default 1)")->check(CLI::Range(1, 64));
    app.add_option("--heartbeat", o.heartbeat, "ping_pong|deribit|server_ping[:INTERVAL_MS]");
    app.add_option("--retry", o.retry, "Reconnect attempts per outage (0 = none)")
        ->check(int_range(0, 1'000'000, "reconnect attempts"));
    app.add_option("--timeout", o.timeout_ms, "Per-attempt connect timeout in ms")
        ->check(int_range(1, 86'400'000, "milliseconds"));
    app.add_option("--request-timeout", o.request_timeout_ms, "Per-attempt request timeout in ms")
        ->check(int_range(1, 86'400'000, "milliseconds"));
    app.add_option("--cafile", o.cafile, "PEM file of trusted CAs for wss");
    app.add_flag("--insecure", o.insecure, "DANGER: do not verify the server certificate (tests only)");
    app.add_option("--status-every", o.status_every_s, "Seconds between plain status lines on stderr (0 = none)")
        ->check(int_range(0, 86'400, "seconds"));
    app.add_flag("-q,--quiet", o.quiet, "No status output on stderr");
}

namespace {

// Prints results in input order, whatever order they complete in.
class OrderedOutput {
public:
    explicit OrderedOutput(Console& console) : console_(console) {}

    std::size_t reserve() {
        std::lock_guard lock(mutex_);
        results_.emplace_back();
        return results_.size() - 1;
    }
    void complete(std::size_t index, std::string text, bool ok) {
        std::vector<std::string> ready;
        {
            std::lock_guard lock(mutex_);
            results_[index] = std::move(text);
            if (!ok) ++failures_;
            while (next_ < results_.size() && results_[next_]) {
                ready.push_back(std::move(*results_[next_]));
                ++next_;
            }
            // Printed under the lock so lines never overtake each other.
            for (const auto& r : ready) console_.line(r);
        }
        cv_.notify_all();
    }
    bool wait_all(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [&] { return next_ == results_.size(); });
    }
    std::size_t failures() {
        std::lock_guard lock(mutex_);
        return failures_;
    }
    std::size_t pending() {
        std::lock_guard lock(mutex_);
        return results_.size() - next_;
    }

private:
    Console& console_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::optional<std::string>> results_;
    std::size_t next_ = 0;
    std::size_t failures_ = 0;
};

}  // namespace

int run_pool(const PoolOptions& o) {
    std::vector<Config> configs;
    for (const auto& url : o.urls) {
        Config c;
        c.url = url;
        c.retry_count = o.retry;
        c.timeout = std::chrono::milliseconds(o.timeout_ms);
        c.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
        c.tls.ca_file = o.cafile;
        c.tls.insecure_skip_verify = o.insecure;
        if (auto st = apply_heartbeat(o.heartbeat, c); !st) {
            std::fprintf(stderr, "zenws: %s\n", st.error().explain().c_str());
            return 2;
        }
        if (auto st = c.validate(); !st) {
            std::fprintf(stderr, "zenws: invalid url '%s': %s\n", redact_url(url).c_str(),
                         st.error().explain().c_str());
            return 2;
        }
        configs.push_back(std::move(c));
    }

    const bool live = !o.quiet && Console::is_terminal(stderr);
    // Leaked on purpose: connections may still call back while the process exits (main leaves with _Exit).
    auto* console = new Console(live, stdout, stderr);
    auto* runtime = new Runtime(2);
    ClientSupervisorOptions so;
    so.failed_retry_after = std::chrono::seconds(5);
    auto* pool = new ClientSupervisor(*runtime, so);
    auto* output = new OrderedOutput(*console);

    struct Member {
        std::string name;
        ClientHandle handle;
    };
    std::vector<Member> members;
    for (std::size_t u = 0; u < configs.size(); ++u) {
        for (int k = 0; k < o.size; ++k) {
            ClientOptions co;
            co.handlers.on_message = [](MessageView) {};  // replies complete their requests; pushes are ignored
            auto h = pool->start_client(configs[u], co);
            std::string name = "c" + std::to_string(members.size() + 1);
            if (!h) {
                if (h.error().code == Errc::invalid_config) {
                    std::fprintf(stderr, "zenws: invalid url '%s': %s\n", redact_url(configs[u].url).c_str(),
                                 h.error().explain().c_str());
                    return 2;
                }
                std::fprintf(stderr, "zenws: %s could not connect to %s: %s\n", name.c_str(),
                             redact_url(configs[u].url).c_str(), h.error().explain().c_str());
                continue;
            }
            members.push_back({name, h.value()});
            if (!o.quiet && !live) {
                std::fprintf(stderr, "zenws: %s connected to %s\n", name.c_str(), redact_url(configs[u].url).c_str());
            }
        }
    }
    if (members.empty()) {
        std::fprintf(stderr, "zenws: no client of the pool could connect\n");
        return 1;
    }

    std::atomic<bool> stop_status{false};
    std::thread status([&] {
        auto last_plain = std::chrono::steady_clock::now();
        while (!stop_status.load()) {
            for (int i = 0; i < 5 && !stop_status.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (o.quiet) continue;
            std::vector<std::string> rows{status_header()};
            std::string plain = "zenws: pool:";
            for (const auto& m : members) {
                StatusRow r = status_row(m.name, m.handle);
                ClientMetrics met = m.handle.metrics();
                r.extra = m.handle.client().valid() ? redact_url(m.handle.client().config().url) : "";
                rows.push_back(format_row(r));
                plain += " " + m.name + "=" + r.state + " restarts " + std::to_string(r.restarts) + " in " +
                         std::to_string(r.in) + " out " + std::to_string(r.out) + " p50 " +
                         std::to_string(met.request_rtt.p50 / 1000) + "ms p99 " +
                         std::to_string(met.request_rtt.p99 / 1000) + "ms;";
            }
            rows.push_back("pending lines: " + std::to_string(output->pending()));
            console->table(rows);
            auto now = std::chrono::steady_clock::now();
            if (!live && o.status_every_s > 0 && now - last_plain >= std::chrono::seconds(o.status_every_s)) {
                last_plain = now;
                std::fprintf(stderr, "%s\n", plain.c_str());
            }
        }
    });

    std::string line;
    while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        std::size_t index = output->reserve();
        JsonEnvelope env = scan_json(line);
        bool is_request = env.valid && static_cast<bool>(env.id);
        pool->send_balanced_async(line, BalancedOptions{}, [output, index, is_request](Result<std::string> r) {
            if (r) {
                output->complete(index, is_request ? r.value() : std::string("ok"), true);
            } else {
                output->complete(index, "error: " + std::string(r.error().name()) + ": " + r.error().explain(),
                                 false);
            }
        });
    }
    // EOF: wait for every pending line (bounded by the per-attempt timeouts of send_balanced).
    auto bound = std::chrono::milliseconds(static_cast<long>(o.request_timeout_ms) * 3 + 5000);
    bool all = output->wait_all(bound);
    stop_status = true;
    status.join();
    console->finish();
    pool->stop_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the close frames go out
    if (!all) {
        std::fprintf(stderr, "zenws: %zu line(s) still pending at exit\n", output->pending());
        return 1;
    }
    return output->failures() == 0 ? 0 : 1;
}

}  // namespace zenws::tool
