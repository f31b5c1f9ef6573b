// support/tool_runner.cpp — runs the zenws tool for the integration tests (see tool_runner.hpp).
#include "integration/support/tool_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

#ifndef ZENWS_TOOL_PATH
#define ZENWS_TOOL_PATH ""
#endif

namespace zenws::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string tool_path() { return ZENWS_TOOL_PATH; }

RunResult run_tool(const std::vector<std::string>& args, const std::string& input, std::chrono::milliseconds timeout,
                   std::chrono::milliseconds close_stdin_after) {
    RunResult res;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        res.err = "pipe failed";
        return res;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    std::vector<std::string> argv_s{tool_path()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        res.err = std::string("spawn failed: ") + std::strerror(rc);
        return res;
    }
    ::signal(SIGPIPE, SIG_IGN);
    int in_fd = in_pipe[1];
    std::thread writer([in_fd, input, close_stdin_after] {
        std::size_t off = 0;
        while (off < input.size()) {
            ssize_t n = ::write(in_fd, input.data() + off, input.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        if (close_stdin_after.count() > 0) std::this_thread::sleep_for(close_stdin_after);
        ::close(in_fd);
    });
    const auto deadline = Clock::now() + timeout;
    bool out_open = true, err_open = true;
    char buf[8192];
    while (out_open || err_open) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            res.timed_out = true;
            break;
        }
        pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0}, {err_open ? err_pipe[0] : -1, POLLIN, 0}};
        int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 200)));
        if (r < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? res.out : res.err).append(buf, static_cast<std::size_t>(n));
            } else {
                (i == 0 ? out_open : err_open) = false;
            }
        }
    }
    int status = 0;
    if (res.timed_out) ::kill(pid, SIGKILL);
    // The tool's stdout is closed at exit; reap (bounded: it was killed on timeout).
    for (int i = 0; i < 500; ++i) {
        pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (i == 499) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
        std::this_thread::sleep_for(10ms);
    }
    writer.join();
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    if (!res.timed_out && WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
    return res;
}

}  // namespace zenws::test
