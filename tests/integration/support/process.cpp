// support/process.cpp — owns the implementation of test child processes (posix_spawn, READY line, kill + reap).
#include "integration/support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

#ifndef ZENWS_TEST_SERVERS_DIR
#define ZENWS_TEST_SERVERS_DIR "tests/servers"
#endif

namespace zenws::test {
namespace {

using Clock = std::chrono::steady_clock;

bool is_executable(const std::string& path) {
    struct stat st {};
    return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Waits up to `timeout` for the child to exit; true if reaped.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                                  const std::vector<std::string>& extra_env,
                                                  std::chrono::milliseconds ready_timeout, std::string* error) {
    auto fail = [&](std::string msg) -> std::unique_ptr<ChildProcess> {
        if (error) *error = std::move(msg);
        return nullptr;
    };
    if (argv.empty() || !is_executable(argv[0])) return fail("not an executable: " + (argv.empty() ? "" : argv[0]));

    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(in_pipe[0]);
        ::close(in_pipe[1]);
        return fail(std::string("pipe: ") + std::strerror(errno));
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);   // dup2 clears O_CLOEXEC on the target
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);

    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
        std::string s(*e);
        bool overridden = false;
        for (const auto& x : extra_env) {
            auto eq = x.find('=');
            if (eq != std::string::npos && s.compare(0, eq + 1, x, 0, eq + 1) == 0) overridden = true;
        }
        if (!overridden) env_strings.push_back(std::move(s));
    }
    for (const auto& x : extra_env) env_strings.push_back(x);
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    if (rc != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        return fail(std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc));
    }

    std::unique_ptr<ChildProcess> child(new ChildProcess());
    child->pid_ = pid;
    child->stdin_fd_ = in_pipe[1];
    child->stdout_fd_ = out_pipe[0];

    // Read stdout until a READY line, EOF or the deadline.
    std::string buffer;
    const auto deadline = Clock::now() + ready_timeout;
    for (;;) {
        auto nl = buffer.find('\n');
        while (nl != std::string::npos) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            if (line.rfind("READY", 0) == 0) {
                child->ready_line_ = line;
                std::istringstream in(line.substr(5));
                unsigned long p = 0;
                while (in >> p) child->ports_.push_back(static_cast<std::uint16_t>(p));
                if (child->ports_.empty()) return fail("READY line without a port: " + line);
                return child;
            }
            nl = buffer.find('\n');
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return fail("timed out waiting for READY from " + argv.back() + "; output: " + buffer);
        pollfd pfd{child->stdout_fd_, POLLIN, 0};
        int pr = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 200)));
        if (pr < 0 && errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
        if (pr <= 0) continue;
        char chunk[512];
        ssize_t n = ::read(child->stdout_fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("server exited before READY: " + argv.back() + "; output: " + buffer);
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

bool ChildProcess::running() {
    if (reaped_ || pid_ <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_ = true;
        return false;
    }
    return true;
}

ChildProcess::~ChildProcess() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);  // our servers exit when stdin closes
    if (pid_ > 0 && !reaped_) {
        if (!wait_exit(pid_, std::chrono::milliseconds(300))) {
            ::kill(pid_, SIGTERM);
            if (!wait_exit(pid_, std::chrono::milliseconds(1500))) {
                ::kill(pid_, SIGKILL);
                wait_exit(pid_, std::chrono::milliseconds(3000));
            }
        }
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

std::string find_executable(const std::string& name, const std::string& preferred) {
    if (is_executable(preferred)) return preferred;
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= p.size()) {
        auto end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        std::string dir = p.substr(start, end - start);
        if (!dir.empty() && is_executable(dir + "/" + name)) return dir + "/" + name;
        start = end + 1;
    }
    return {};
}

std::string python3_path() { return is_executable("/usr/bin/python3") ? "/usr/bin/python3" : std::string(); }
std::string node_path() { return find_executable("node", "/usr/bin/node"); }
std::string servers_dir() { return ZENWS_TEST_SERVERS_DIR; }

std::unique_ptr<ChildProcess> start_python_server(const std::string& script, const std::vector<std::string>& args,
                                                  std::string* error) {
    std::string py = python3_path();
    if (py.empty()) {
        if (error) *error = "/usr/bin/python3 not found";
        return nullptr;
    }
    std::vector<std::string> argv{py, "-u", servers_dir() + "/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    return ChildProcess::spawn(argv, {}, std::chrono::seconds(15), error);
}

std::unique_ptr<ChildProcess> start_node_server(const std::string& script, const std::vector<std::string>& args,
                                                std::string* error) {
    std::string node = node_path();
    if (node.empty()) {
        if (error) *error = "node not found";
        return nullptr;
    }
    std::vector<std::string> argv{node, servers_dir() + "/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    return ChildProcess::spawn(argv, {"NODE_PATH=/usr/share/nodejs"}, std::chrono::seconds(15), error);
}

}  // namespace zenws::test
