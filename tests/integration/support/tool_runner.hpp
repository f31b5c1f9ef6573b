// support/tool_runner.hpp — owns running the built zenws tool (ZENWS_TOOL_PATH) from integration tests: spawn it
// with stdin/stdout/stderr on pipes, feed stdin, collect both outputs, kill it after a deadline (every wait bounded).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace zenws::test {

// The tool binary (compile definition ZENWS_TOOL_PATH); empty when the tool is not built.
std::string tool_path();

struct RunResult {
    int exit_code = -1;       // -1: killed (timeout) or did not start
    bool timed_out = false;
    std::string out, err;
};

// Runs the tool with `args`, writes `input` to its stdin, closes stdin after `close_stdin_after` (so a client can see
// replies before EOF), collects stdout/stderr, and kills it after `timeout`.
RunResult run_tool(const std::vector<std::string>& args, const std::string& input = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(20),
                   std::chrono::milliseconds close_stdin_after = std::chrono::milliseconds(0));

}  // namespace zenws::test
