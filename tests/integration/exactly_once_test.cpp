// exactly_once_test.cpp — every send and request completes exactly once, whatever other threads do: three sender
// threads (copying sends, moved sends, requests that are never answered) against a live connection while the main
// thread closes the client, makes it give up, reconnects it, releases its handle or destroys its Runtime. Hundreds
// of rounds (ZENWS_STRESS_ROUNDS, default 200), both send policies; run under ASan and TSan by .ci/run. Also: a
// ClientHandle send while its supervisor restarts the client, and send_balanced in flight while clients are stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
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
using zenws::Errc;
using zenws::Error;
using zenws::State;
using zenws::test::FaultServer;
using Clock = std::chrono::steady_clock;

int rounds() {
    if (const char* v = std::getenv("ZENWS_STRESS_ROUNDS")) {
        int n = std::atoi(v);
        if (n > 0 && n <= 100000) return n;
    }
    return 200;
}

// One slot per issued operation: how often its completion ran.
struct Ledger {
    explicit Ledger(std::size_t n) : counts(n) {}
    std::vector<std::atomic<int>> counts;
    std::atomic<std::size_t> issued{0};
    std::atomic<int> completed{0};
    std::size_t take() { return issued.fetch_add(1); }
    void done(std::size_t id) {
        counts[id].fetch_add(1);
        completed.fetch_add(1);
    }
    // Waits (bounded) until every issued operation completed; then checks each ran exactly once.
    ::testing::AssertionResult settled(std::chrono::milliseconds budget) {
        auto deadline = Clock::now() + budget;
        while (Clock::now() < deadline && static_cast<std::size_t>(completed.load()) < issued.load()) {
            std::this_thread::sleep_for(2ms);
        }
        std::size_t n = issued.load();
        int missing = 0, twice = 0;
        for (std::size_t i = 0; i < n; ++i) {
            int c = counts[i].load();
            if (c == 0) ++missing;
            if (c > 1) ++twice;
        }
        if (missing == 0 && twice == 0) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << missing << " of " << n << " never completed, " << twice
                                             << " completed more than once";
    }
};

enum class Fault { close, give_up, reconnect, release, destroy_runtime };
const char* name(Fault f) {
    switch (f) {
        case Fault::close: return "close";
        case Fault::give_up: return "give_up";
        case Fault::reconnect: return "reconnect";
        case Fault::release: return "release";
        case Fault::destroy_runtime: return "destroy_runtime";
    }
    return "?";
}

constexpr int senders = 3;
constexpr int per_sender = 6000;  // upper bound; the senders stop soon after the fault has played out

// Thread `t` issues operations until `stop` (at most per_sender): copying send, moved send, request (never
// answered), in turn, so that they keep coming while the client closes, gives up or reconnects.
void send_loop(Client client, Ledger& ledger, int t, std::atomic<bool>& go, std::atomic<bool>& stop) {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < per_sender && !stop.load(); ++i) {
        std::size_t id = ledger.take();
        switch ((i + t) % 3) {
            case 0:
                (void)client.send_text(std::string_view("copy-" + std::to_string(id)),
                                       [&ledger, id](const Error&) { ledger.done(id); });
                break;
            case 1:
                (void)client.send_text(std::string("moved-" + std::to_string(id)),
                                       [&ledger, id](const Error&) { ledger.done(id); });
                break;
            default:
                client.request("{\"id\":" + std::to_string(id) + ",\"method\":\"public/test\"}",
                               [&ledger, id](zenws::Result<std::string>) { ledger.done(id); }, 5s);
                break;
        }
        if (i % 16 == 0) std::this_thread::yield();
    }
}

bool terminal(State s) { return s == State::closed || s == State::disconnected; }

void run_round(int round, Fault fault, zenws::SendPolicy policy) {
    SCOPED_TRACE(std::string("round ") + std::to_string(round) + " fault " + name(fault));
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    auto runtime = std::make_unique<zenws::Runtime>(2);
    Config c;
    c.url = server.url();
    c.send_policy = policy;
    c.retry_count = fault == Fault::give_up ? 1 : 50;
    c.retry_delay = 5ms;
    c.max_backoff = 20ms;
    c.min_attempt_interval = 0ms;
    c.stable_after = fault == Fault::give_up ? 10s : 0ms;  // give_up: the flaps continue one outage
    c.close_timeout = 200ms;
    auto r = Client::connect(c, {}, runtime.get());
    ASSERT_TRUE(r.ok()) << r.error().explain();
    std::optional<Client> client(std::move(r).value());
    Client observer = *client;  // only for state(); dropped before a release fault

    Ledger ledger(senders * per_sender);
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back(send_loop, *client, std::ref(ledger), t, std::ref(go), std::ref(stop));
    }
    go = true;
    // Let some traffic out, then inject the fault while the senders keep going, and stop them only once it has
    // played out (terminal state, or a moment after a reconnect/release), so sends race every step of it.
    while (ledger.issued.load() < 200) std::this_thread::yield();
    auto settle_deadline = Clock::now() + 3s;
    switch (fault) {
        case Fault::close:
            client->close();
            while (!terminal(observer.state()) && Clock::now() < settle_deadline) std::this_thread::yield();
            break;
        case Fault::give_up:
            server.set_mode(FaultServer::Mode::drop_fin);
            server.drop_all();
            while (!terminal(observer.state()) && Clock::now() < settle_deadline) std::this_thread::yield();
            EXPECT_EQ(observer.state(), State::disconnected);
            break;
        case Fault::reconnect:
            client->reconnect();
            server.drop_all();
            std::this_thread::sleep_for(20ms);
            break;
        case Fault::release:
            observer = Client();
            client.reset();  // the senders hold the last handles
            std::this_thread::sleep_for(5ms);
            break;
        case Fault::destroy_runtime:
            runtime.reset();
            break;
    }
    std::this_thread::sleep_for(2ms);
    stop = true;
    for (auto& th : threads) th.join();
    if (fault == Fault::reconnect) {
        // Back to connected: whatever was buffered during the reconnect has been flushed (requests sent after it
        // stay pending, unanswered, until the close below).
        auto deadline = Clock::now() + 3s;
        while (observer.state() != State::connected && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
        EXPECT_EQ(observer.state(), State::connected);
        EXPECT_EQ(observer.metrics().send_queue_depth, 0u);
        EXPECT_TRUE(client->close_and_wait(3s));
    }
    // Nothing else may rescue a stranded send: no close of ours before this check (a later close would drain a
    // queue the fault left behind, hiding the bug this test exists for).
    EXPECT_TRUE(ledger.settled(5s));
    if (client) {
        auto m = client->metrics();
        EXPECT_EQ(m.send_queue_depth, 0u);
        EXPECT_EQ(m.pending_requests, 0u);
        EXPECT_TRUE(client->close_and_wait(3s));
    }
    observer = Client();
    client.reset();
    runtime.reset();
}

TEST(ExactlyOnce, SendsAndRequestsFromThreeThreadsWhileFaultsAreInjected) {
    const Fault faults[] = {Fault::close, Fault::give_up, Fault::reconnect, Fault::release, Fault::destroy_runtime};
    const int n = rounds();
    for (int round = 0; round < n && !HasFailure(); ++round) {
        Fault f = faults[round % 5];
        auto policy = (round / 5) % 2 == 0 ? zenws::SendPolicy::buffer : zenws::SendPolicy::fail_fast;
        run_round(round, f, policy);
    }
}

// A ClientHandle send while the supervisor is between two instances of the client: it fails, and its completion
// is called (once) — it used to return the error and never call it.
TEST(ExactlyOnce, ClientHandleSendWhileTheSupervisorRestartsCompletesOnce) {
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    zenws::Runtime runtime(1);
    zenws::ClientSupervisorOptions so;
    so.backoff.base = 200ms;  // leave a window between instances
    zenws::ClientSupervisor pool(runtime, so);
    Config c;
    c.url = server.url();
    c.retry_count = 0;
    c.min_attempt_interval = 0ms;  // restart at once: this test is about the window between instances
    auto h = pool.start_client(c);
    ASSERT_TRUE(h.ok()) << h.error().explain();
    Ledger ledger(20000);
    std::atomic<bool> stop{false};
    std::thread sender([&] {
        for (int i = 0; i < 20000 && !stop.load(); ++i) {
            std::size_t id = ledger.take();
            (void)h.value().send_text("x", [&ledger, id](const Error&) { ledger.done(id); });
            if (i % 64 == 0) std::this_thread::sleep_for(1ms);
        }
    });
    for (int k = 0; k < 3; ++k) {
        std::this_thread::sleep_for(50ms);
        server.drop_all();  // retry_count 0: the client gives up, the supervisor restarts it
    }
    std::this_thread::sleep_for(100ms);
    stop = true;
    sender.join();
    EXPECT_GE(h.value().restarts(), 1);
    EXPECT_TRUE(ledger.settled(5s));
}

// send_balanced in flight (requests never answered, plain messages) from three threads while clients are stopped
// and the supervisor goes away: every call resolves exactly once.
TEST(ExactlyOnce, SendBalancedInFlightWhileClientsStopResolvesOnce) {
    FaultServer server(FaultServer::Mode::hold);
    ASSERT_TRUE(server.ok());
    zenws::Runtime runtime(2);
    Ledger ledger(3 * 300);
    {
        zenws::ClientSupervisor pool(runtime);
        std::vector<zenws::ClientHandle> handles;
        for (int i = 0; i < 3; ++i) {
            Config c;
            c.url = server.url();
            c.request_timeout = 300ms;
            auto h = pool.start_client(c);
            ASSERT_TRUE(h.ok()) << h.error().explain();
            handles.push_back(h.value());
        }
        std::atomic<bool> go{false};
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
            threads.emplace_back([&, t] {
                while (!go.load()) std::this_thread::yield();
                for (int i = 0; i < 300; ++i) {
                    std::size_t id = ledger.take();
                    std::string msg = (i % 2 == 0) ? "{\"id\":\"b" + std::to_string(id) + "\",\"method\":\"m\"}"
                                                   : std::string("plain ") + std::to_string(t);
                    zenws::BalancedOptions o;
                    o.timeout = 200ms;
                    pool.send_balanced_async(std::move(msg), o,
                                             [&ledger, id](zenws::Result<std::string>) { ledger.done(id); });
                }
            });
        }
        go = true;
        while (ledger.issued.load() < 300) std::this_thread::yield();
        (void)pool.stop_client(handles[0]);
        server.drop_all();
        for (auto& th : threads) th.join();
    }  // the supervisor goes away with calls still in flight
    EXPECT_TRUE(ledger.settled(5s));
}

}  // namespace
