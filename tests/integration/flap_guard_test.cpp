// flap_guard_test.cpp — a venue is never hammered: against servers that accept the upgrade and drop at once (FIN, or
// close 1001 / 1011 / 4000 then TCP close) for 30 s, a client with the default Config, and a ClientSupervisor with its
// defaults, make no more attempts than the reconnect ladder allows (docs/resilience.md states the bound per minute);
// a 429/503 answer's Retry-After sets the floor of the next delay.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "integration/support/fault_server.hpp"
#include "zenws/client.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/runtime.hpp"

namespace {

using namespace std::chrono_literals;
using zenws::Client;
using zenws::Config;
using zenws::State;
using zenws::test::FaultServer;

constexpr auto window = 30s;

const FaultServer::Mode drop_modes[] = {FaultServer::Mode::drop_fin, FaultServer::Mode::drop_close_1001,
                                        FaultServer::Mode::drop_close_1011, FaultServer::Mode::drop_close_4000};

// Waits until `done()` or the deadline, polling every 50 ms (bounded).
template <class F>
void wait_until(std::chrono::steady_clock::time_point deadline, F done) {
    while (std::chrono::steady_clock::now() < deadline && !done()) std::this_thread::sleep_for(50ms);
}

// The plain client: default Config (retry_count 3, retry_delay 1 s, stable_after 10 s). The first connection is
// made, every later one drops before it is stable, so the whole run is one outage: 1 + retry_count attempts with the
// 1, 2, 4 s ladder between them (jitter shortens each by up to a quarter), then `disconnected` for good.
TEST(FlapGuard, DefaultClientAgainstAcceptThenDropServersFollowsTheLadderFor30Seconds) {
    std::vector<std::unique_ptr<FaultServer>> servers;
    for (auto m : drop_modes) {
        servers.push_back(std::make_unique<FaultServer>(m));
        ASSERT_TRUE(servers.back()->ok());
    }
    zenws::Runtime runtime(1);
    std::vector<Client> clients;
    std::atomic<int> connects{0};
    for (auto& s : servers) {
        Config c;
        c.url = s->url();
        zenws::Handlers h;
        h.on_state = [&](State, State to, const zenws::Error&) {
            if (to == State::connected) connects.fetch_add(1);
        };
        auto r = Client::connect(c, h, &runtime);
        ASSERT_TRUE(r.ok()) << r.error().explain();
        clients.push_back(std::move(r).value());
    }
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(window);
    const int expected = 1 + Config{}.retry_count;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const auto& s = *servers[i];
        SCOPED_TRACE(FaultServer::name(s.mode_for_trace()));
        EXPECT_EQ(s.attempts(), expected);
        EXPECT_EQ(clients[i].state(), State::disconnected) << clients[i].last_error().explain();
        // The gaps follow the ladder: >= 0.75 x 1 s, 2 s, 4 s.
        auto times = s.attempt_times();
        const long floors[] = {750, 1500, 3000};
        for (std::size_t k = 1; k < times.size() && k <= 3; ++k) {
            auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[k] - times[k - 1]).count();
            EXPECT_GE(gap, floors[k - 1] - 20) << "gap before attempt " << k + 1;
        }
        (void)start;
    }
    // Upgrades that completed (each one a connected state, whatever the client later did with it).
    EXPECT_LE(connects.load(), static_cast<int>(servers.size()) * expected);
}

// Under a ClientSupervisor with its defaults (10 restarts in 60 s per client, restart backoff 0, 100 ms, ... up to
// 10 s): each instance makes its 1 + retry_count attempts, gives up, and is restarted with backoff; on_connect and
// on_disconnect fire once per upgrade. Bound in 30 s: at most (1 + restarts) x (1 + retry_count) attempts with
// restarts <= 10.
TEST(FlapGuard, SupervisedClientAgainstAnAcceptThenDropServerIsBoundedByLadderAndIntensity) {
    FaultServer server(FaultServer::Mode::drop_close_1011);
    ASSERT_TRUE(server.ok());
    zenws::Runtime runtime(1);
    std::atomic<int> on_connect{0}, on_disconnect{0}, restarts{0};
    zenws::ClientSupervisorOptions so;
    so.on_event = [&](const zenws::SupervisorEvent& e) {
        if (e.kind == zenws::SupervisorEvent::Kind::restart_scheduled) restarts.fetch_add(1);
    };
    {
        zenws::ClientSupervisor pool(runtime, so);
        zenws::ClientOptions o;
        o.on_connect = [&](zenws::ClientHandle) { on_connect.fetch_add(1); };
        o.on_disconnect = [&](zenws::ClientHandle) { on_disconnect.fetch_add(1); };
        Config c;
        c.url = server.url();
        auto h = pool.start_client(c, o);
        ASSERT_TRUE(h.ok()) << h.error().explain();
        std::this_thread::sleep_for(window);
        pool.stop_all();
    }
    const int per_instance = 1 + Config{}.retry_count;
    const int attempts = server.attempts();
    RecordProperty("attempts_in_30s", attempts);
    EXPECT_GE(attempts, per_instance);  // it did run into the fault
    EXPECT_LE(restarts.load(), 10);
    EXPECT_LE(attempts, (1 + restarts.load()) * per_instance);
    EXPECT_LE(attempts, 11 * per_instance);
    EXPECT_LE(on_connect.load(), server.upgrades());
    EXPECT_LE(on_disconnect.load(), on_connect.load());
    std::printf("supervised accept-then-drop: %d attempts, %d restarts, %d on_connect in 30 s\n", attempts,
                restarts.load(), on_connect.load());
}

// Config::low_latency retries every <= 250 ms; a 429 with Retry-After: 1 must space the attempts >= 1 s apart.
TEST(FlapGuard, RetryAfterOnA429IsHonouredEvenByTheLowLatencyProfile) {
    for (auto mode : {FaultServer::Mode::status_429, FaultServer::Mode::status_503}) {
        SCOPED_TRACE(FaultServer::name(mode));
        FaultServer server(mode);
        ASSERT_TRUE(server.ok());
        server.set_retry_after("1");
        zenws::Runtime runtime(1);
        Config c = Config::low_latency(server.url());
        c.retry_count = 3;
        auto r = Client::connect(c, {}, &runtime);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().http_status, mode == FaultServer::Mode::status_429 ? 429 : 503);
        auto times = server.attempt_times();
        ASSERT_EQ(times.size(), 4u);
        for (std::size_t k = 1; k < times.size(); ++k) {
            auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[k] - times[k - 1]).count();
            EXPECT_GE(gap, 990) << "gap before attempt " << k + 1;
            EXPECT_LT(gap, 3000) << "gap before attempt " << k + 1;
        }
    }
}

// The floors outlive the Client instance that gave up: the supervisor's next instance waits out the Retry-After
// too (it used to restart at once, and the new client's fresh ladder knew nothing of the 429).
TEST(FlapGuard, SupervisorRestartsHonourRetryAfterAcrossInstances) {
    FaultServer server(FaultServer::Mode::status_429);
    ASSERT_TRUE(server.ok());
    server.set_retry_after("1");
    zenws::Runtime runtime(1);
    {
        zenws::ClientSupervisor pool(runtime);
        zenws::ClientOptions o;
        o.await_connection = false;
        Config c;
        c.url = server.url();
        c.retry_count = 0;  // every 429 ends the instance: only the supervisor retries
        auto h = pool.start_client(c, o);
        ASSERT_TRUE(h.ok()) << h.error().explain();
        auto deadline = std::chrono::steady_clock::now() + 5s;
        wait_until(deadline, [&] { return server.attempts() >= 4; });
        pool.stop_all();
    }
    auto times = server.attempt_times();
    ASSERT_GE(times.size(), 3u);
    for (std::size_t k = 1; k < times.size(); ++k) {
        auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[k] - times[k - 1]).count();
        EXPECT_GE(gap, 990) << "gap before attempt " << k + 1;
    }
}

// An HTTP-date Retry-After (RFC 9110) counts too; a huge one is capped by max_retry_after.
TEST(FlapGuard, RetryAfterAsHttpDateAndTheCap) {
    FaultServer server(FaultServer::Mode::status_503);
    ASSERT_TRUE(server.ok());
    server.set_retry_after("Fri, 31 Dec 2100 23:59:59 GMT");  // decades away: the cap decides
    zenws::Runtime runtime(1);
    Config c = Config::low_latency(server.url());
    c.retry_count = 2;
    c.max_retry_after = 700ms;
    auto r = Client::connect(c, {}, &runtime);
    ASSERT_FALSE(r.ok());
    ASSERT_TRUE(r.error().retry_after.has_value());
    EXPECT_GT(*r.error().retry_after, 1'000'000);
    auto times = server.attempt_times();
    ASSERT_EQ(times.size(), 3u);
    for (std::size_t k = 1; k < times.size(); ++k) {
        auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(times[k] - times[k - 1]).count();
        EXPECT_GE(gap, 690);
        EXPECT_LT(gap, 2500);
    }
}

}  // namespace
