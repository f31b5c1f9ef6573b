// dns_failure_test.cpp — a host name that does not resolve fails at once with its own error, not after the connect
// timeout. To keep every packet on loopback, the zenws tool runs in a private mount namespace whose
// /etc/resolv.conf names only 127.0.0.1 (where no DNS server listens): the resolver's query is refused locally.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

struct CommandResult {
    int exit_code = -1;
    std::string output;
    std::chrono::milliseconds elapsed{0};
};

CommandResult run_shell(const std::string& command) {
    CommandResult r;
    auto start = std::chrono::steady_clock::now();
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return r;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) r.output += buf;
    int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return r;
}

TEST(Dns, UnresolvableHostFailsAtOnceWithItsOwnError) {
    std::string tool = ZENWS_TOOL_PATH;
    if (tool.empty() || ::access(tool.c_str(), X_OK) != 0) GTEST_SKIP() << "zenws tool not built";
    char dir_template[] = "/tmp/zenws-dns-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    std::string resolv = std::string(dir_template) + "/resolv.conf";
    {
        std::ofstream f(resolv);
        f << "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";
    }
    // Probe: can we make a private mount namespace here (root, unshare available)?
    auto probe = run_shell("timeout 10 unshare -m sh -c 'mount --bind " + resolv +
                           " /etc/resolv.conf && grep -q 127.0.0.1 /etc/resolv.conf'");
    if (probe.exit_code != 0) {
        std::remove(resolv.c_str());
        ::rmdir(dir_template);
        GTEST_SKIP() << "cannot isolate DNS to loopback here (needs root + unshare): " << probe.output;
    }
    auto r = run_shell("timeout 30 unshare -m sh -c 'mount --bind " + resolv + " /etc/resolv.conf && " + tool +
                       " connect --retry 0 --timeout 10000 ws://no-such-host.invalid:9/'");
    std::remove(resolv.c_str());
    ::rmdir(dir_template);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("resolving no-such-host.invalid"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("host name"), std::string::npos) << "explain() should suggest checking the name: "
                                                              << r.output;
    // Far below the 10 s connect timeout: DNS failure is its own, immediate error.
    EXPECT_LT(r.elapsed.count(), 5000) << r.output;
}

}  // namespace
