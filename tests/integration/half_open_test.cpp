// half_open_test.cpp — a half-open link is noticed without any heartbeat configured: the kernel keepalive that every
// connection gets by default (Config::tcp_keepalive) fails a link whose peer went silent within idle + interval *
// count. Here the server's packets to the client are dropped by an iptables rule on loopback (the client's own
// socket stays "up": no FIN, no RST); the test uses 1 s / 1 s / 2 probes so the bound is 3 s (the defaults give
// 80 s, which the unit test DefaultConfigNoticesADeadLinkWithinNinetySeconds checks). Needs root and iptables;
// skipped with the reason otherwise.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "integration/support/fault_server.hpp"
#include "zenws/client.hpp"
#include "zenws/runtime.hpp"

namespace {

using namespace std::chrono_literals;
using zenws::State;
using Clock = std::chrono::steady_clock;

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// Drops every packet the server (its port) sends to the client, for as long as it lives.
class DropFromPort {
public:
    explicit DropFromPort(std::uint16_t port)
        : rule_("INPUT -p tcp -s 127.0.0.1 --sport " + std::to_string(port) + " -j DROP") {
        ok_ = run("iptables -w 5 -I " + rule_);
    }
    ~DropFromPort() {
        if (ok_) run("iptables -w 5 -D " + rule_);
    }
    bool ok() const { return ok_; }

private:
    std::string rule_;
    bool ok_ = false;
};

TEST(HalfOpen, KeepaliveNoticesASilentPeerWithoutAHeartbeat) {
    if (::geteuid() != 0 || !run("iptables -w 5 -L INPUT -n")) GTEST_SKIP() << "needs root and a working iptables";
    zenws::test::FaultServer server(zenws::test::FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    zenws::Runtime runtime(1);
    zenws::Config c;
    c.url = server.url();
    ASSERT_EQ(c.heartbeat.type, zenws::HeartbeatType::disabled);  // the default: no heartbeat at all
    c.tcp_keepalive.idle = std::chrono::seconds(1);
    c.tcp_keepalive.interval = std::chrono::seconds(1);
    c.tcp_keepalive.count = 2;
    auto r = zenws::Client::connect(c, {}, &runtime);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    zenws::Client client = std::move(r).value();
    std::this_thread::sleep_for(100ms);
    Clock::time_point cut;
    {
        DropFromPort rule(server.port());
        if (!rule.ok()) GTEST_SKIP() << "iptables lists rules but cannot insert one here (no CAP_NET_ADMIN?)";
        cut = Clock::now();
        auto deadline = cut + 10s;
        while (client.state() == State::connected && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - cut);
        EXPECT_NE(client.state(), State::connected) << "still connected after " << took.count() << " ms";
        EXPECT_LE(took, 3s + 2s);  // bound + scheduling slack
        EXPECT_GE(took, 1s);       // no probe can fail before the idle time
        std::printf("half-open link noticed after %lld ms (bound 3000 ms)\n", static_cast<long long>(took.count()));
    }
    client.close_and_wait(2s);
}

}  // namespace
