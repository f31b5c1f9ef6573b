// commands.hpp — options and entry points of the zenws tool's subcommands.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace zenws::tool {

struct ConnectOptions {
    std::string url;
    bool binary = false;
    std::vector<std::string> headers;       // "Name: value"
    std::vector<std::string> subprotocols;
    std::string heartbeat;                  // TYPE[:INTERVAL_MS]
    int retry = 3;
    int timeout_ms = 5000;
    std::string cafile;
    bool insecure = false;
    std::string record;
    bool echo = false;
    bool jsonl = false;
    bool quiet = false;
};

struct DemoOptions {
    int duration_s = 40;
    int clients = 3;
    unsigned seed = 1;
    bool jsonl = false;
};

struct PoolOptions {
    std::vector<std::string> urls;
    int size = 1;                           // clients per URL
    std::string heartbeat;                  // TYPE[:INTERVAL_MS], as connect
    int retry = 3;
    int timeout_ms = 5000;
    int request_timeout_ms = 10000;
    std::string cafile;
    bool insecure = false;
    int status_every_s = 5;                 // plain status lines on stderr when not a terminal (0 = none)
    bool quiet = false;
};

struct ReplayOptions {
    std::string file;
    bool realtime = false;
    bool jsonl = false;
    bool metadata_only = false;
};

void add_replay_options(CLI::App& app, ReplayOptions& options);
int run_replay(const ReplayOptions& options);

void add_connect_options(CLI::App& app, ConnectOptions& options);
int run_connect(const ConnectOptions& options);

void add_pool_options(CLI::App& app, PoolOptions& options);
int run_pool(const PoolOptions& options);

void add_demo_options(CLI::App& app, DemoOptions& options);
int run_demo(const DemoOptions& options);

}  // namespace zenws::tool
