// support/rpc_helpers.hpp — owns the setup shared by the integration tests against the JSON-RPC test server
// (tests/servers/jsonrpc_server.py): requests_test.cpp, subscriptions_test.cpp, rate_limit_test.cpp and
// recorder_test.cpp. A server per test (REQUIRE_SERVER skips the test when it cannot start), the client configs
// (reconnecting or single-shot) and the server's log of what it received on the client's connection.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/venues/deribit.hpp"

namespace zenws::test {

// One jsonrpc_server.py per test: its per-connection logs and counters start empty.
struct RpcServer {
    std::unique_ptr<ChildProcess> proc;
    std::string error;
    RpcServer() { proc = start_python_server("jsonrpc_server.py", {}, &error); }
    bool ok() const { return proc != nullptr; }
    std::string url(const std::string& path = "/") const {
        return "ws://127.0.0.1:" + std::to_string(proc->port()) + path;
    }
};

#define REQUIRE_SERVER(srv)                                                                \
    do {                                                                                   \
        if (!(srv).ok()) GTEST_SKIP() << "jsonrpc_server.py unavailable: " << (srv).error; \
    } while (0)

// A client that reconnects quickly (a few retries, short backoff); requests time out after 5 s.
inline Config rpc_config(std::string url) {
    using namespace std::chrono_literals;
    Config cfg;
    cfg.url = std::move(url);
    cfg.timeout = 5s;
    cfg.retry_count = 5;
    cfg.retry_delay = 50ms;
    cfg.max_backoff = 200ms;
    cfg.request_timeout = 5s;
    cfg.subscription_dialect = deribit_dialect();  // jsonrpc_server.py answers Deribit-style subscribe calls
    return cfg;
}

// One attempt, no reconnects; requests time out after `request_timeout`.
inline Config rpc_single_shot_config(std::string url, std::chrono::milliseconds request_timeout) {
    using namespace std::chrono_literals;
    Config cfg;
    cfg.url = std::move(url);
    cfg.timeout = 5s;
    cfg.retry_count = 0;
    cfg.reconnect_on_error = false;
    cfg.request_timeout = request_timeout;
    cfg.subscription_dialect = deribit_dialect();  // jsonrpc_server.py answers Deribit-style subscribe calls
    return cfg;
}

// The texts the server received on this client's connection before the test/log request.
inline std::vector<std::string> server_log(Client& c) {
    using namespace std::chrono_literals;
    auto r = c.call_blocking("test/log", "{}", 5s);
    std::vector<std::string> out;
    if (!r.ok()) {
        ADD_FAILURE() << "test/log failed: " << r.error().explain();
        return out;
    }
    EXPECT_TRUE(parse_json_string_array(scan_json(r.value()).result_raw, out)) << r.value();
    return out;
}

}  // namespace zenws::test
