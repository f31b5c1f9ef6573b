// client_supervisor_test.cpp — owns the tests of ClientSupervisor, send_balanced and ProcessGroups against real
// servers on 127.0.0.1: start/list/stop semantics and stable handles, on_connect/on_disconnect on every
// (re)connection (server connection dropped, server process killed and restarted on the same port), throwing
// callbacks and handlers isolated to their client, a dead endpoint beside healthy clients over many restart windows,
// send_balanced failover (a server that dies on requests, a silent server that never answers), no_connections,
// discovery through a process group, concurrent start/stop/send_balanced from several threads, and permanent
// failures (auth_failed, invalid_config: parked or removed, never restarted; also under the generic Supervisor).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/mock/exchange.hpp"
#include "zenws/process_group.hpp"
#include "zenws/runtime.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <class P>
bool poll_until(P pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

// Tiny inline servers (python-websockets). "silent": accepts and never answers anything. "dying": aborts the TCP
// connection when any message arrives. Both exit when stdin (a pipe) closes.
const char* kInlineServer = R"PY(
import asyncio, os, sys, threading, logging
import websockets
logging.getLogger("websockets").setLevel(logging.CRITICAL)
mode = sys.argv[1]
async def handler(ws, path=None):
    try:
        async for _ in ws:
            if mode == "dying":
                ws.transport.abort()
                return
    except Exception:
        pass
async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
def watch():
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
asyncio.run(main())
)PY";

struct Server {
    std::unique_ptr<ChildProcess> proc;
    std::uint16_t port = 0;
    std::string url() const { return "ws://127.0.0.1:" + std::to_string(port) + "/"; }
    bool start_script(const std::string& script, std::vector<std::string> args = {}) {
        std::string err;
        proc = start_python_server(script, args, &err);
        if (!proc) {
            ADD_FAILURE() << script << ": " << err;
            return false;
        }
        port = proc->port();
        return true;
    }
    bool start_inline(const std::string& mode) {
        std::string py = python3_path();
        if (py.empty()) {
            ADD_FAILURE() << "python3 not found";
            return false;
        }
        std::string err;
        proc = ChildProcess::spawn({py, "-c", kInlineServer, mode}, {}, 15s, &err);
        if (!proc) {
            ADD_FAILURE() << "inline server: " << err;
            return false;
        }
        port = proc->port();
        return true;
    }
    void kill() { proc.reset(); }
};

// A port with nothing listening (bound, then closed).
std::uint16_t closed_port() {
    Server s;
    if (!s.start_inline("silent")) return 1;
    auto p = s.port;
    s.kill();
    return p;
}

Config quick(const std::string& url, int retries = 1) {
    Config c;
    c.url = url;
    c.timeout = 2s;
    c.retry_count = retries;
    c.retry_delay = 50ms;
    c.max_backoff = 200ms;
    c.request_timeout = 5s;
    return c;
}

struct PoolLog final : PoolObserver {
    std::mutex mu;
    std::vector<std::uint64_t> routes;
    std::vector<std::pair<std::uint64_t, Errc>> failovers;
    std::map<std::uint64_t, int> failed, crashed, started;
    std::vector<std::string> callback_errors;
    int no_conn = 0;
    void route(std::uint64_t id, int, std::size_t) override {
        std::lock_guard lk(mu);
        routes.push_back(id);
    }
    void failover(int, std::uint64_t id, const Error& e) override {
        std::lock_guard lk(mu);
        failovers.emplace_back(id, e.code);
    }
    void no_connections(std::size_t) override {
        std::lock_guard lk(mu);
        ++no_conn;
    }
    void child_started(std::uint64_t id, int) override {
        std::lock_guard lk(mu);
        ++started[id];
    }
    void child_crashed(std::uint64_t id, const Error&) override {
        std::lock_guard lk(mu);
        ++crashed[id];
    }
    void child_failed(std::uint64_t id, const Error&, std::chrono::milliseconds) override {
        std::lock_guard lk(mu);
        ++failed[id];
    }
    void callback_error(std::uint64_t, const Error& e) override {
        std::lock_guard lk(mu);
        callback_errors.push_back(e.message);
    }
};

std::string rpc(int id, const std::string& method = "test/echo", const std::string& params = "{\"x\":1}") {
    return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"" + method +
           "\",\"params\":" + params + "}";
}

TEST(ClientSupervisor, StartListStopWithStableHandles) {
    Server echo;
    ASSERT_TRUE(echo.start_script("echo_python.py"));
    Runtime rt(2);
    ClientSupervisor sup(rt);
    auto a = sup.start_client(echo.url());
    ASSERT_TRUE(a.ok()) << a.error().explain();
    auto b = sup.start_client(quick(echo.url()));
    ASSERT_TRUE(b.ok());
    EXPECT_NE(a->id(), b->id());
    EXPECT_EQ(a->state(), State::connected);
    auto list = sup.list_clients();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0], a.value());
    EXPECT_EQ(list[1], b.value());
    ASSERT_TRUE(a->send_text("hi").ok());

    ASSERT_TRUE(sup.stop_client(a.value()).ok());
    EXPECT_EQ(sup.stop_client(a.value()).error().code, Errc::not_found);
    EXPECT_EQ(sup.stop_client(ClientHandle()).error().code, Errc::not_found);
    EXPECT_EQ(a->status(), ChildStatus::stopped);
    EXPECT_FALSE(a->client().valid());
    EXPECT_EQ(a->send_text("x").error().code, Errc::not_connected);
    ASSERT_EQ(sup.list_clients().size(), 1u);
    EXPECT_EQ(sup.list_clients()[0], b.value());
    std::this_thread::sleep_for(300ms);  // a stopped client is not restarted
    EXPECT_EQ(a->status(), ChildStatus::stopped);
    EXPECT_EQ(sup.size(), 1u);
}

TEST(ClientSupervisor, FirstConnectFailureReturnsTheErrorAndKeepsNothing) {
    Runtime rt(2);
    ClientSupervisor sup(rt);
    auto r = sup.start_client(quick("ws://127.0.0.1:" + std::to_string(closed_port()) + "/", 0));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::connection_refused);
    EXPECT_EQ(sup.size(), 0u);
    auto bad = sup.start_client(std::string("http://nope"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::invalid_config);
}

TEST(ClientSupervisor, CallbacksOnEveryConnectionIncludingRestartsAndThrowsAreIsolated) {
    std::atomic<int> connects{0}, disconnects{0};
    auto log = std::make_shared<PoolLog>();
    Server echo;
    ASSERT_TRUE(echo.start_script("echo_python.py"));
    std::uint16_t port = echo.port;
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    so.backoff.base = 50ms;
    so.backoff.cap = 300ms;
    ClientSupervisor sup(rt, so);
    ClientOptions o;
    o.on_connect = [&](ClientHandle h) {
        EXPECT_TRUE(h.client().valid());
        if (++connects == 1) throw std::runtime_error("on_connect failed");
    };
    o.on_disconnect = [&](ClientHandle) {
        if (++disconnects == 1) throw std::runtime_error("on_disconnect failed");
    };
    auto h = sup.start_client(quick(echo.url(), 1), o);
    ASSERT_TRUE(h.ok()) << h.error().explain();
    EXPECT_EQ(connects.load(), 1);

    // 1. The server drops the connection: the client reconnects on its own -> on_disconnect, on_connect.
    ASSERT_TRUE(h->send_text("!drop").ok());
    ASSERT_TRUE(poll_until([&] { return connects.load() == 2 && h->state() == State::connected; }));
    EXPECT_EQ(disconnects.load(), 1);
    EXPECT_EQ(h->restarts(), 0);

    // 2. The server dies: the client gives up, the supervisor restarts it until the server is back on that port.
    echo.kill();
    ASSERT_TRUE(poll_until([&] { return disconnects.load() == 2; }));
    ASSERT_TRUE(poll_until([&] { return h->restarts() >= 1; }));
    EXPECT_NE(h->status(), ChildStatus::running);
    ASSERT_TRUE(echo.start_script("echo_python.py", {"--port", std::to_string(port)}));
    ASSERT_TRUE(poll_until([&] { return connects.load() == 3 && h->state() == State::connected; }, 15s));
    EXPECT_EQ(disconnects.load(), 2);
    EXPECT_TRUE(h->send_text("still here").ok());  // the same handle addresses the restarted client
    EXPECT_EQ(sup.list_clients().size(), 1u);

    // 3. Stopping it runs on_disconnect for the live connection once more.
    ASSERT_TRUE(sup.stop_client(h.value()).ok());
    ASSERT_TRUE(poll_until([&] { return disconnects.load() == 3; }));
    std::lock_guard lk(log->mu);
    EXPECT_EQ(log->callback_errors.size(), 2u);  // both throws reported, nothing crashed
}

TEST(ClientSupervisor, ThrowingHandlerCrashesOnlyItsClient) {
    Server echo;
    ASSERT_TRUE(echo.start_script("echo_python.py"));
    std::atomic<int> good_msgs{0};
    Runtime rt(2);
    ClientSupervisor sup(rt);
    ClientOptions bad;
    bad.handlers.on_message = [](MessageView m) {
        if (m.data == "boom") throw std::runtime_error("bad handler");
    };
    ClientOptions good;
    good.handlers.on_message = [&](MessageView) { ++good_msgs; };
    auto a = sup.start_client(quick(echo.url()), bad);
    auto b = sup.start_client(quick(echo.url()), good);
    ASSERT_TRUE(a.ok() && b.ok());
    Client b_client = b->client();
    Client a_first = a->client();
    ASSERT_TRUE(a->send_text("boom").ok());
    ASSERT_TRUE(poll_until([&] { return a->restarts() == 1 && a->state() == State::connected; }));
    EXPECT_EQ(a_first.last_error().code, Errc::handler_exception);
    EXPECT_NE(a->client().last_error().code, Errc::handler_exception);
    // The sibling was untouched: same client, never restarted, still serving.
    EXPECT_EQ(b->restarts(), 0);
    EXPECT_EQ(b->state(), State::connected);
    ASSERT_TRUE(b->send_text("ping").ok());
    ASSERT_TRUE(poll_until([&] { return good_msgs.load() == 1; }));
    EXPECT_EQ(b->client().counters().reconnects, b_client.counters().reconnects);
    sup.stop_all();
    EXPECT_EQ(sup.size(), 0u);
}

TEST(ClientSupervisor, DeadEndpointIsParkedAndNeverTakesDownHealthySiblings) {
    auto log = std::make_shared<PoolLog>();
    Server rpc_server;
    ASSERT_TRUE(rpc_server.start_script("jsonrpc_server.py"));
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.max_restarts = 3;  // short windows: many of them in a few seconds
    so.max_time = 2s;
    so.backoff.base = 20ms;
    so.backoff.cap = 100ms;
    so.failed_retry_after = 400ms;
    so.observer = log;
    ClientSupervisor sup(rt, so);
    auto h1 = sup.start_client(quick(rpc_server.url()));
    auto h2 = sup.start_client(quick(rpc_server.url()));
    ASSERT_TRUE(h1.ok() && h2.ok());
    ClientOptions lazy;
    lazy.await_connection = false;
    Config dead_cfg = quick("ws://127.0.0.1:" + std::to_string(closed_port()) + "/", 0);
    auto dead = sup.start_client(dead_cfg, lazy);
    ASSERT_TRUE(dead.ok());

    auto until = Clock::now() + 6s;
    int served = 0, rounds = 0;
    while (Clock::now() < until) {
        ++rounds;
        for (auto* h : {&h1.value(), &h2.value()}) {
            auto r = h->request_blocking(rpc(1000 + rounds), 3s);
            EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().explain());
            if (r.ok()) ++served;
        }
        auto b = sup.send_balanced(rpc(5000 + rounds), BalancedOptions{});
        EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().explain());
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(served, rounds * 2);
    EXPECT_EQ(h1->restarts(), 0);
    EXPECT_EQ(h2->restarts(), 0);
    EXPECT_EQ(h1->state(), State::connected);
    EXPECT_EQ(h2->state(), State::connected);
    EXPECT_EQ(sup.size(), 3u);  // the dead one is parked or restarting, not removed, and nobody else died
    EXPECT_NE(dead->status(), ChildStatus::running);
    EXPECT_NE(dead->status(), ChildStatus::stopped);
    std::lock_guard lk(log->mu);
    EXPECT_GE(log->failed[dead->id()], 2) << "parked in several windows";
    EXPECT_GE(log->crashed[dead->id()], 6);
    EXPECT_EQ(log->crashed[h1->id()], 0);
    for (auto id : log->routes) EXPECT_NE(id, dead->id());
}

TEST(ClientSupervisor, ParkingCanRemoveInstead) {
    ProcessGroups groups;
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.max_restarts = 2;
    so.max_time = 5s;
    so.backoff.enabled = false;
    so.failed_retry_after = 0ms;  // remove
    ClientSupervisor sup(rt, so);
    ClientOptions lazy;
    lazy.await_connection = false;
    auto dead = sup.start_client(quick("ws://127.0.0.1:" + std::to_string(closed_port()) + "/", 0), lazy);
    ASSERT_TRUE(dead.ok());
    ASSERT_TRUE(groups.join("g", dead.value()).ok());
    ASSERT_TRUE(poll_until([&] { return dead->status() == ChildStatus::stopped; }));
    EXPECT_EQ(sup.size(), 0u);
    EXPECT_TRUE(groups.members("g").empty());  // left automatically
    EXPECT_EQ(groups.join("g", dead.value()).error().code, Errc::not_found);
}

TEST(ClientSupervisor, SendBalancedBasics) {
    auto log = std::make_shared<PoolLog>();
    Server rpc_server;
    ASSERT_TRUE(rpc_server.start_script("jsonrpc_server.py"));
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    ClientSupervisor sup(rt, so);
    EXPECT_EQ(sup.send_balanced(rpc(1)).error().code, Errc::no_connections);
    auto a = sup.start_client(quick(rpc_server.url()));
    auto b = sup.start_client(quick(rpc_server.url()));
    ASSERT_TRUE(a.ok() && b.ok());
    auto r = sup.send_balanced(rpc(2, "test/echo", "{\"v\":42}"));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    EXPECT_NE(r->find("42"), std::string::npos) << *r;
    auto plain = sup.send_balanced("not json: written, no reply expected");
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(plain.value(), "");
    // A JSON-RPC error reply is the venue's answer: returned as is, no failover.
    auto err = sup.send_balanced(rpc(3, "test/error", "{\"code\":-32000,\"message\":\"nope\"}"));
    ASSERT_FALSE(err.ok());
    EXPECT_EQ(err.error().code, Errc::rpc_error);
    // Equal health: round-robin over both.
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(sup.send_balanced(rpc(10 + i)).ok());
    {
        std::lock_guard lk(log->mu);
        EXPECT_TRUE(log->failovers.empty());
        std::set<std::uint64_t> used(log->routes.begin(), log->routes.end());
        EXPECT_EQ(used.size(), 2u);
    }
    // Discovery yielding nothing live.
    BalancedOptions none;
    none.client_discovery = [] { return std::vector<ClientHandle>{}; };
    EXPECT_EQ(sup.send_balanced(rpc(30), none).error().code, Errc::no_connections);
    BalancedOptions throwing;
    throwing.client_discovery = []() -> std::vector<ClientHandle> { throw std::runtime_error("discovery broke"); };
    EXPECT_EQ(sup.send_balanced(rpc(31), throwing).error().code, Errc::handler_exception);
    ASSERT_TRUE(sup.stop_client(a.value()).ok());
    BalancedOptions stale;
    stale.client_discovery = [&] { return std::vector<ClientHandle>{a.value()}; };
    EXPECT_EQ(sup.send_balanced(rpc(32), stale).error().code, Errc::no_connections);
    // Callback form.
    std::promise<Result<std::string>> p;
    sup.send_balanced_async(rpc(33), {}, [&](Result<std::string> res) { p.set_value(std::move(res)); });
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(f.get().ok());
}

// Records on_event for assertions.
struct EventLog {
    std::mutex mu;
    std::vector<SupervisorEvent> events;
    std::function<void(const SupervisorEvent&)> sink() {
        return [this](const SupervisorEvent& e) {
            std::lock_guard lk(mu);
            events.push_back(e);
        };
    }
    int count(SupervisorEvent::Kind k, Errc code = Errc::ok) {
        std::lock_guard lk(mu);
        int n = 0;
        for (auto& e : events) n += e.kind == k && (code == Errc::ok || e.error.code == code) ? 1 : 0;
        return n;
    }
};

mock::MockExchangeOptions deribit_mock() {
    mock::MockExchangeOptions o;
    o.dialect = mock::DialectKind::deribit;
    return o;
}

// Deribit answers bad credentials with 13004 (fatal, stop): the client's on_reconnect hook reports auth_failed, the
// client gives up at once (not retryable) and ends `disconnected`. The supervisor must park it, not restart it.
TEST(ClientSupervisor, AuthFailureIsPermanentParkedAndNeverRestarted) {
    mock::MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    auto log = std::make_shared<PoolLog>();
    EventLog events;
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    so.on_event = events.sink();
    so.backoff.enabled = false;         // a restart would be immediate: easy to see
    so.failed_retry_after = 200ms;      // and a parked-for-retry one would come back quickly
    ClientSupervisor sup(rt, so);
    std::atomic<bool> reject{false};
    std::atomic<int> hooks{0};
    ClientOptions o;
    o.handlers.on_reconnect = [&](Client&, std::function<void(Status)> done) {
        ++hooks;
        if (reject.load()) return done(Error(Errc::auth_failed, "13004 invalid_credentials"));
        done({});
    };
    auto h = sup.start_client(quick(server.url(), 5), o);
    ASSERT_TRUE(h.ok()) << h.error().explain();
    Client first = h->client();
    ASSERT_TRUE(first.valid());
    EXPECT_EQ(hooks.load(), 1);

    // The credentials are revoked, then the link drops: the reconnection's authentication fails.
    reject = true;
    ASSERT_EQ(server.drop(), 1u);
    ASSERT_TRUE(poll_until([&] { return h->status() == ChildStatus::failed; }, 10s)) << to_string(h->status());
    EXPECT_EQ(first.state(), State::disconnected);
    EXPECT_EQ(first.last_error().code, Errc::auth_failed) << first.last_error().explain();
    EXPECT_EQ(hooks.load(), 2);  // the client's own reconnect, then it gave up (auth is not retryable)

    std::this_thread::sleep_for(600ms);  // three failed_retry_after periods: still not restarted
    EXPECT_EQ(h->status(), ChildStatus::failed);
    EXPECT_EQ(h->state(), State::disconnected);
    EXPECT_FALSE(h->client().valid());
    EXPECT_EQ(h->restarts(), 0);
    EXPECT_EQ(hooks.load(), 2);
    EXPECT_EQ(server.status().connections_total, 2u);
    EXPECT_EQ(sup.size(), 1u);  // parked: still listed, skipped by send_balanced
    EXPECT_EQ(sup.send_balanced(rpc(1)).error().code, Errc::no_connections);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::child_exited, Errc::auth_failed), 1);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::permanent_failure, Errc::auth_failed), 1);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::restart_scheduled), 0);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::intensity_exceeded), 0);
    {
        std::lock_guard lk(log->mu);
        EXPECT_EQ(log->failed[h->id()], 1);
        EXPECT_EQ(log->crashed[h->id()], 1);
        EXPECT_EQ(log->started[h->id()], 1);
    }
    // The user can still remove it.
    ASSERT_TRUE(sup.stop_client(h.value()).ok());
    EXPECT_EQ(h->status(), ChildStatus::stopped);
    EXPECT_EQ(sup.size(), 0u);
}

TEST(ClientSupervisor, AuthFailureRemovesTheClientWhenParkingIsOff) {
    mock::MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    EventLog events;
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.on_event = events.sink();
    so.backoff.enabled = false;
    so.failed_retry_after = 0ms;  // remove instead of parking
    ClientSupervisor sup(rt, so);
    std::atomic<int> hooks{0};
    ClientOptions o;
    o.await_connection = false;  // the first connection's failure goes to the supervisor, not to start_client
    o.handlers.on_reconnect = [&](Client&, std::function<void(Status)> done) {
        ++hooks;
        done(Error(Errc::auth_failed, "13004 invalid_credentials"));
    };
    auto h = sup.start_client(quick(server.url(), 5), o);
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(poll_until([&] { return h->status() == ChildStatus::stopped; }, 10s)) << to_string(h->status());
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(hooks.load(), 1);  // neither the client nor the supervisor tried again
    EXPECT_EQ(server.status().connections_total, 1u);
    EXPECT_EQ(h->restarts(), 0);
    EXPECT_EQ(sup.size(), 0u);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::permanent_failure, Errc::auth_failed), 1);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::restart_scheduled), 0);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::child_stopped), 1);

    // With await_connection (the default) the error is returned and nothing is kept, as for any first failure.
    ClientOptions awaiting = o;
    awaiting.await_connection = true;
    auto awaited = sup.start_client(quick(server.url(), 5), awaiting);
    ASSERT_FALSE(awaited.ok());
    EXPECT_EQ(awaited.error().code, Errc::auth_failed);
    EXPECT_EQ(sup.size(), 0u);
}

// The generic Supervisor: a client child whose authentication is rejected is not restarted (even a permanent one),
// nor counted toward the intensity; a child that exits with invalid_config neither. restart_child brings them back.
TEST(ClientSupervisor, GenericSupervisorDoesNotRestartPermanentFailures) {
    mock::MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    EventLog events;
    Runtime rt(2);
    SupervisorOptions so;
    so.max_restarts = 1;  // a restart loop would exceed this and fail the supervisor
    so.max_time = 10s;
    so.backoff.enabled = false;
    so.on_event = events.sink();
    std::atomic<bool> failed{false};
    so.on_failure = [&](const Error&) { failed = true; };
    Supervisor sup(rt, so);
    std::atomic<bool> reject{true};
    std::atomic<int> hooks{0};
    Handlers hs;
    hs.on_reconnect = [&](Client&, std::function<void(Status)> done) {
        ++hooks;
        if (reject.load()) return done(Error(Errc::auth_failed, "13004 invalid_credentials"));
        done({});
    };

    // A component that ends on its own with invalid_config, once.
    struct BadConfig final : Child {
        std::atomic<int>* starts;
        explicit BadConfig(std::atomic<int>* s) : starts(s) {}
        Status start(ExitCallback exited) override {
            ++*starts;
            exited(ExitReason::abnormal(Error(Errc::invalid_config, "bad symbol list")));
            return {};
        }
        void stop(std::chrono::milliseconds) override {}
    };
    std::atomic<int> bad_starts{0};
    ChildSpec bad;
    bad.id = "bad";
    bad.start = [&bad_starts] { return std::make_shared<BadConfig>(&bad_starts); };

    ClientHandle handle;
    ASSERT_TRUE(sup.start({client_child("deribit", quick(server.url(), 5), hs, &handle, RestartType::permanent, &rt),
                           bad})
                    .ok());
    ASSERT_TRUE(poll_until([&] {
        return events.count(SupervisorEvent::Kind::permanent_failure) == 2;
    }, 10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(hooks.load(), 1);
    EXPECT_EQ(bad_starts.load(), 1);
    EXPECT_EQ(handle.status(), ChildStatus::failed);
    EXPECT_EQ(handle.restarts(), 0);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::permanent_failure, Errc::auth_failed), 1);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::permanent_failure, Errc::invalid_config), 1);
    EXPECT_EQ(events.count(SupervisorEvent::Kind::restart_scheduled), 0);
    EXPECT_EQ(sup.state(), SupervisorState::running);
    EXPECT_FALSE(failed.load());
    for (auto& c : sup.which_children()) {
        EXPECT_FALSE(c.running) << c.id;
        EXPECT_FALSE(c.restart_pending) << c.id;
    }
    // Fixed credentials: the operator restarts it explicitly.
    reject = false;
    ASSERT_TRUE(sup.restart_child("deribit").ok());
    ASSERT_TRUE(poll_until([&] { return handle.state() == State::connected; }, 10s));
    EXPECT_EQ(hooks.load(), 2);
    sup.stop();
}

// Runs send_balanced `n` times; every call must be answered; returns the failovers seen.
std::vector<std::pair<std::uint64_t, Errc>> balanced_rounds(ClientSupervisor& sup, PoolLog& log, int n,
                                                            std::chrono::milliseconds timeout) {
    for (int i = 0; i < n; ++i) {
        BalancedOptions o;
        o.timeout = timeout;
        auto start = Clock::now();
        auto r = sup.send_balanced(rpc(100 + i), o);
        EXPECT_TRUE(r.ok()) << "round " << i << ": " << (r.ok() ? "" : r.error().explain());
        EXPECT_LT(Clock::now() - start, 10s);
    }
    std::lock_guard lk(log.mu);
    return log.failovers;
}

TEST(ClientSupervisor, SendBalancedFailsOverFromAServerThatDies) {
    auto log = std::make_shared<PoolLog>();
    Server good, dying;
    ASSERT_TRUE(good.start_script("jsonrpc_server.py"));
    ASSERT_TRUE(dying.start_inline("dying"));
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    ClientSupervisor sup(rt, so);
    auto bad = sup.start_client(quick(dying.url(), 3));
    auto ok = sup.start_client(quick(good.url()));
    ASSERT_TRUE(bad.ok() && ok.ok());
    auto failovers = balanced_rounds(sup, *log, 4, 3s);
    ASSERT_GE(failovers.size(), 1u);
    for (auto& [id, code] : failovers) {
        EXPECT_EQ(id, bad->id());
        EXPECT_EQ(code, Errc::disconnected);
    }
    EXPECT_LE(failovers.size(), 2u);  // the failed client's score drops: it is not picked again right away
}

TEST(ClientSupervisor, SendBalancedFailsOverFromASilentStuckServer) {
    auto log = std::make_shared<PoolLog>();
    Server good, silent;
    ASSERT_TRUE(good.start_script("jsonrpc_server.py"));
    ASSERT_TRUE(silent.start_inline("silent"));
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    ClientSupervisor sup(rt, so);
    auto stuck = sup.start_client(quick(silent.url()));
    auto ok = sup.start_client(quick(good.url()));
    ASSERT_TRUE(stuck.ok() && ok.ok());
    auto failovers = balanced_rounds(sup, *log, 4, 500ms);
    ASSERT_GE(failovers.size(), 1u);
    for (auto& [id, code] : failovers) {
        EXPECT_EQ(id, stuck->id());
        EXPECT_EQ(code, Errc::request_timeout);
    }
    EXPECT_LE(failovers.size(), 2u);
    EXPECT_EQ(stuck->state(), State::connected);  // a slow venue is scored down, not killed
    // max_attempts 1: no failover, the timeout comes back if the stuck one is picked; scoring now avoids it.
    BalancedOptions one;
    one.max_attempts = 1;
    one.timeout = 500ms;
    EXPECT_TRUE(sup.send_balanced(rpc(900), one).ok());
}

TEST(ClientSupervisor, DiscoveryThroughAProcessGroup) {
    auto log = std::make_shared<PoolLog>();
    Server rpc_server;
    ASSERT_TRUE(rpc_server.start_script("jsonrpc_server.py"));
    ProcessGroups groups;  // outlives the runtime: callbacks may still run until it stops
    Runtime rt(2);
    ClientSupervisorOptions so;
    so.observer = log;
    ClientSupervisor sup(rt, so);
    ClientOptions pooled;
    pooled.on_connect = [&](ClientHandle h) { (void)groups.join("ws_pool", h); };
    pooled.on_disconnect = [&](ClientHandle h) { (void)groups.leave("ws_pool", h); };
    auto a = sup.start_client(quick(rpc_server.url()), pooled);
    auto b = sup.start_client(quick(rpc_server.url()), pooled);
    auto outsider = sup.start_client(quick(rpc_server.url()));
    ASSERT_TRUE(a.ok() && b.ok() && outsider.ok());
    ASSERT_EQ(groups.members("ws_pool").size(), 2u);
    EXPECT_EQ(groups.groups(), std::vector<std::string>{"ws_pool"});
    BalancedOptions o;
    o.client_discovery = groups.discovery("ws_pool");
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(sup.send_balanced(rpc(i), o).ok());
    {
        std::lock_guard lk(log->mu);
        for (auto id : log->routes) EXPECT_NE(id, outsider->id());
    }
    // A member that joined without an on_disconnect still leaves when it terminates.
    ASSERT_TRUE(groups.join("other", outsider.value()).ok());
    ASSERT_TRUE(groups.join("other", outsider.value()).ok());  // idempotent
    EXPECT_EQ(groups.members("other").size(), 1u);
    ASSERT_TRUE(sup.stop_client(outsider.value()).ok());
    EXPECT_TRUE(groups.members("other").empty());
    EXPECT_EQ(groups.leave("other", outsider.value()).error().code, Errc::not_found);
    ASSERT_TRUE(sup.stop_client(a.value()).ok());
    ASSERT_TRUE(poll_until([&] { return groups.members("ws_pool").size() == 1; }));
    ASSERT_TRUE(sup.stop_client(b.value()).ok());
    ASSERT_TRUE(poll_until([&] { return groups.members("ws_pool").empty(); }));
    EXPECT_EQ(sup.send_balanced(rpc(50), o).error().code, Errc::no_connections);
}

TEST(ClientSupervisor, ConcurrentStartStopAndSendBalanced) {
    Server rpc_server;
    ASSERT_TRUE(rpc_server.start_script("jsonrpc_server.py"));
    ProcessGroups groups;  // outlives the runtime: callbacks may still run until it stops
    Runtime rt(2);
    ClientSupervisor sup(rt);
    std::atomic<int> ok_sends{0}, other{0}, unexpected{0};
    std::atomic<int> next_id{1};
    auto worker = [&](int seed) {
        std::vector<ClientHandle> mine;
        for (int i = 0; i < 8; ++i) {
            ClientOptions o;
            o.on_connect = [&](ClientHandle h) { (void)groups.join("all", h); };
            auto h = sup.start_client(quick(rpc_server.url()), o);
            if (h.ok()) mine.push_back(h.value());
            auto r = sup.send_balanced(rpc(next_id++));
            if (r.ok()) {
                ++ok_sends;
            } else if (r.error().code == Errc::no_connections || r.error().code == Errc::not_connected ||
                       r.error().code == Errc::disconnected || r.error().code == Errc::closed_by_user) {
                ++other;
            } else {
                ++unexpected;
                ADD_FAILURE() << r.error().explain();
            }
            BalancedOptions via_group;
            via_group.client_discovery = groups.discovery("all");
            (void)sup.send_balanced(rpc(next_id++), via_group);
            auto list = sup.list_clients();
            std::set<std::uint64_t> ids;
            for (auto& c : list) EXPECT_TRUE(ids.insert(c.id()).second) << "duplicate in list_clients";
            if (!mine.empty() && (i + seed) % 2 == 0) {
                EXPECT_TRUE(sup.stop_client(mine.front()).ok());
                mine.erase(mine.begin());
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t);
    for (auto& t : threads) t.join();
    EXPECT_GT(ok_sends.load(), 0);
    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_EQ(sup.size(), 16u);  // 4 threads x 8 started, 4 stopped each
    sup.stop_all();
    EXPECT_EQ(sup.size(), 0u);
    EXPECT_TRUE(poll_until([&] { return groups.members("all").empty(); }));
}

}  // namespace
}  // namespace zenws::test
