// main.cpp — the zenws command-line tool: subcommands and their exit codes.
//
// Exit codes: 0 success; 1 could not connect / gave up; 2 usage or configuration error; 3 the connection ended
// abnormally after it was established (no reconnect left); 4 the demo found a broken invariant.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tools/commands.hpp"
#include "tools/mock_exchange_command.hpp"

int main(int argc, char** argv) {
    CLI::App app{"zenws — WebSocket client for systems that must stay connected"};
    app.require_subcommand(0, 1);
    app.set_version_flag("--version", "zenws 0.1.0");

    zenws::tool::ConnectOptions connect;
    CLI::App* connect_cmd = app.add_subcommand("connect", "Connect to URL: stdin lines are sent, messages printed");
    zenws::tool::add_connect_options(*connect_cmd, connect);

    zenws::tool::ReplayOptions replay;
    CLI::App* replay_cmd = app.add_subcommand("replay", "Print a recording made with --record");
    zenws::tool::add_replay_options(*replay_cmd, replay);

    zenws::tool::PoolOptions pool;
    CLI::App* pool_cmd = app.add_subcommand("pool", "Supervised pool over URL...: stdin lines sent balanced");
    zenws::tool::add_pool_options(*pool_cmd, pool);

    zenws::tool::DemoOptions demo;
    CLI::App* demo_cmd = app.add_subcommand("demo", "Offline demo: supervised connections surviving faults");
    zenws::tool::add_demo_options(*demo_cmd, demo);

    zenws::tool::add_mock_exchange_command(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    int code = 0;
    if (connect_cmd->parsed()) {
        code = zenws::tool::run_connect(connect);
    } else if (pool_cmd->parsed()) {
        code = zenws::tool::run_pool(pool);
    } else if (replay_cmd->parsed()) {
        code = zenws::tool::run_replay(replay);
    } else {
        code = zenws::tool::run_demo(demo);  // also the built-in default when no subcommand is given
    }
    // Connections may still be running on the runtime's thread: leave without running static destructors.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
}
