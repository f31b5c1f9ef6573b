// demo_command.cpp — `zenws demo` (temporary: replaced by the full offline demo).
#include <CLI/CLI.hpp>

#include "tools/commands.hpp"

namespace zenws::tool {
void add_demo_options(CLI::App& app, DemoOptions& o) {
    app.add_option("--duration", o.duration_s, "Seconds to run")->check(CLI::PositiveNumber);
    app.add_option("--clients", o.clients, "Number of clients")->check(CLI::PositiveNumber);
    app.add_option("--seed", o.seed, "Seed of the fault schedule");
    app.add_flag("--jsonl", o.jsonl, "Events as JSON lines");
}
int run_demo(const DemoOptions&) { return 0; }
}  // namespace zenws::tool
