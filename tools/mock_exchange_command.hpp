// mock_exchange_command.hpp — `zenws mock-exchange`: runs the mock exchange (zenws/mock_exchange.hpp) until
// SIGINT/SIGTERM or stdin EOF, printing "READY <port> <control_port>" once listening.
#pragma once

namespace CLI {
class App;
}

namespace zenws::tool {

// Adds the `mock-exchange` subcommand to `app`. The subcommand runs from its parse callback and ends the process
// with its exit code (0 on a signal or stdin EOF, 1 when the server cannot start).
void add_mock_exchange_command(CLI::App& app);

}  // namespace zenws::tool
