// support/process.hpp — owns child-process handling for integration tests: spawn a test server (posix_spawn) with
// stdin and stdout on pipes, wait (bounded) for its "READY <port> [<port>...]" line, kill and reap it on destruction.
// Closing the stdin pipe also makes our servers exit, so they never outlive a crashed test process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zenws::test {

class ChildProcess {
public:
    // Spawns argv[0] (an absolute path) with argv, the current environment plus `extra_env` ("NAME=value"), and
    // waits up to `ready_timeout` for a stdout line starting with "READY". Returns nullptr and fills `error` (with
    // whatever the child printed) on failure.
    static std::unique_ptr<ChildProcess> spawn(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& extra_env = {},
                                               std::chrono::milliseconds ready_timeout = std::chrono::seconds(15),
                                               std::string* error = nullptr);
    ~ChildProcess();  // closes stdin, then SIGTERM, then SIGKILL (bounded), and reaps
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const noexcept { return pid_; }
    const std::vector<std::uint16_t>& ports() const noexcept { return ports_; }
    std::uint16_t port(std::size_t i = 0) const noexcept { return i < ports_.size() ? ports_[i] : 0; }
    const std::string& ready_line() const noexcept { return ready_line_; }
    bool running();  // not exited yet (reaps it if it did)

private:
    ChildProcess() = default;
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    bool reaped_ = false;
    std::vector<std::uint16_t> ports_;
    std::string ready_line_;
};

// Absolute path of an executable: `preferred` if it exists and is executable, else the first `name` on PATH.
// Empty when not found.
std::string find_executable(const std::string& name, const std::string& preferred = {});
// /usr/bin/python3 (the only interpreter that sees Debian's python3-websockets), or empty.
std::string python3_path();
// node on PATH (/usr/bin/node), or empty.
std::string node_path();
// The tests/servers directory (compile definition ZENWS_TEST_SERVERS_DIR).
std::string servers_dir();

// Convenience: start tests/servers/<script> with python3 / node (NODE_PATH=/usr/share/nodejs). nullptr + error if
// the interpreter is missing or the server did not become ready.
std::unique_ptr<ChildProcess> start_python_server(const std::string& script, const std::vector<std::string>& args,
                                                  std::string* error = nullptr);
std::unique_ptr<ChildProcess> start_node_server(const std::string& script, const std::vector<std::string>& args,
                                                std::string* error = nullptr);

}  // namespace zenws::test
