// supervisor_test.cpp — owns the tests of the generic Supervisor: strategies and their stop/start ordering
// (user components, no sockets), restart types, restart intensity and escalation (root callback, nested
// supervisor restarted by its parent), restart backoff growth, failed starts, and client_child() with a real
// python-websockets echo server (throwing handler = crash + restart, user close = normal exit, stable handle).
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/runtime.hpp"
#include "zenws/supervisor.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Everything the user components did, in order, plus a way to crash one.
struct World {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> log;
    std::map<std::string, ExitCallback> exits;          // running children
    std::map<std::string, int> fail_starts;             // how many next starts of an id fail
    std::vector<std::pair<std::string, Clock::time_point>> starts;

    void note(std::string s) {
        {
            std::lock_guard lk(mu);
            log.push_back(std::move(s));
        }
        cv.notify_all();
    }
    // Crashes a running child; false if it is not running.
    bool exit(const std::string& id, ExitReason r = ExitReason::abnormal(Error(Errc::transport_error, "boom"))) {
        ExitCallback cb;
        {
            std::lock_guard lk(mu);
            auto it = exits.find(id);
            if (it == exits.end()) return false;
            cb = std::move(it->second);
            exits.erase(it);
        }
        cb(std::move(r));
        return true;
    }
    template <class P>
    bool wait(P pred, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return pred(); });
    }
    int count(const std::string& entry) {
        return static_cast<int>(std::count(log.begin(), log.end(), entry));
    }
    std::vector<std::string> take() {
        std::lock_guard lk(mu);
        auto out = log;
        log.clear();
        return out;
    }
};

class TestChild final : public Child {
public:
    TestChild(std::shared_ptr<World> w, std::string id) : w_(std::move(w)), id_(std::move(id)) {}
    Status start(ExitCallback exited) override {
        {
            std::lock_guard lk(w_->mu);
            auto& f = w_->fail_starts[id_];
            if (f > 0) {
                --f;
                w_->log.push_back("fail:" + id_);
                w_->cv.notify_all();
                return Error(Errc::connection_refused, "start of " + id_ + " refused");
            }
            w_->exits[id_] = std::move(exited);
            w_->log.push_back("start:" + id_);
            w_->starts.emplace_back(id_, Clock::now());
        }
        w_->cv.notify_all();
        return {};
    }
    void stop(std::chrono::milliseconds) override {
        {
            std::lock_guard lk(w_->mu);
            w_->exits.erase(id_);
            w_->log.push_back("stop:" + id_);
        }
        w_->cv.notify_all();
    }

private:
    std::shared_ptr<World> w_;
    std::string id_;
};

ChildSpec spec(const std::shared_ptr<World>& w, const std::string& id, RestartType r = RestartType::permanent) {
    ChildSpec s;
    s.id = id;
    s.restart = r;
    s.shutdown = 1s;
    s.start = [w, id] { return std::make_shared<TestChild>(w, id); };
    return s;
}

SupervisorOptions fast(Strategy strategy = Strategy::one_for_one) {
    SupervisorOptions o;
    o.strategy = strategy;
    o.backoff.enabled = false;
    return o;
}

using Log = std::vector<std::string>;

TEST(Supervisor, StartsInOrderAndStopsInReverse) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    {
        Supervisor sup(rt, fast());
        ASSERT_TRUE(sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c")}).ok());
        EXPECT_EQ(sup.state(), SupervisorState::running);
        EXPECT_EQ(w->take(), (Log{"start:a", "start:b", "start:c"}));
        auto kids = sup.which_children();
        ASSERT_EQ(kids.size(), 3u);
        EXPECT_TRUE(kids[1].running);
        sup.stop();
        EXPECT_EQ(w->take(), (Log{"stop:c", "stop:b", "stop:a"}));
        EXPECT_EQ(sup.state(), SupervisorState::stopped);
    }
    EXPECT_TRUE(w->take().empty());  // the destructor does not stop twice
}

TEST(Supervisor, FailedStartStopsTheStartedOnesInReverse) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    w->fail_starts["c"] = 1;
    Supervisor sup(rt, fast());
    Status st = sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c"), spec(w, "d")});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::connection_refused);
    EXPECT_EQ(w->take(), (Log{"start:a", "start:b", "fail:c", "stop:b", "stop:a"}));
    EXPECT_TRUE(sup.which_children().empty());
    // Duplicate ids are rejected.
    Status dup = sup.start({spec(w, "x"), spec(w, "x")});
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::invalid_config);
}

TEST(Supervisor, OneForOneRestartsOnlyTheCrashedChild) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    Supervisor sup(rt, fast(Strategy::one_for_one));
    ASSERT_TRUE(sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c")}).ok());
    w->take();
    ASSERT_TRUE(w->exit("b"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:b") == 1; }));
    sup.stop();
    EXPECT_EQ(w->take(), (Log{"start:b", "stop:c", "stop:b", "stop:a"}));
}

TEST(Supervisor, OneForAllStopsOthersInReverseThenRestartsAllInOrder) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    Supervisor sup(rt, fast(Strategy::one_for_all));
    ASSERT_TRUE(sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c"), spec(w, "d")}).ok());
    w->take();
    ASSERT_TRUE(w->exit("b"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:d") == 1; }));
    EXPECT_EQ(w->take(), (Log{"stop:d", "stop:c", "stop:a", "start:a", "start:b", "start:c", "start:d"}));
    for (auto& k : sup.which_children()) EXPECT_TRUE(k.running) << k.id;
}

TEST(Supervisor, RestForOneRestartsTheCrashedAndLaterChildren) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    Supervisor sup(rt, fast(Strategy::rest_for_one));
    ASSERT_TRUE(sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c"), spec(w, "d")}).ok());
    w->take();
    ASSERT_TRUE(w->exit("b"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:d") == 1; }));
    EXPECT_EQ(w->take(), (Log{"stop:d", "stop:c", "start:b", "start:c", "start:d"}));
    // The last child crashing restarts only itself.
    ASSERT_TRUE(w->exit("d"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:d") == 1; }));
    EXPECT_EQ(w->take(), (Log{"start:d"}));
}

TEST(Supervisor, RestartTypes) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    Supervisor sup(rt, fast());
    ASSERT_TRUE(sup.start({spec(w, "perm", RestartType::permanent), spec(w, "trans", RestartType::transient),
                           spec(w, "temp", RestartType::temporary), spec(w, "temp2", RestartType::temporary)})
                    .ok());
    w->take();
    // Normal exits: permanent restarts, transient does not, temporary is removed.
    ASSERT_TRUE(w->exit("perm", ExitReason::normal()));
    ASSERT_TRUE(w->exit("trans", ExitReason::normal()));
    ASSERT_TRUE(w->exit("temp", ExitReason::normal()));
    ASSERT_TRUE(w->wait([&] { return w->count("start:perm") == 1; }));
    auto kids = sup.which_children();
    ASSERT_EQ(kids.size(), 3u);  // temp removed
    EXPECT_EQ(kids[0].id, "perm");
    EXPECT_TRUE(kids[0].running);
    EXPECT_EQ(kids[0].restarts, 1);
    EXPECT_EQ(kids[1].id, "trans");
    EXPECT_FALSE(kids[1].running);
    EXPECT_EQ(kids[2].id, "temp2");
    // Abnormal exits: transient restarts (after restart_child), temporary is removed and not restarted.
    ASSERT_TRUE(sup.restart_child("trans").ok());
    w->take();
    ASSERT_TRUE(w->exit("trans"));
    ASSERT_TRUE(w->exit("temp2"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:trans") == 1; }));
    kids = sup.which_children();
    ASSERT_EQ(kids.size(), 2u);
    EXPECT_TRUE(kids[1].running);
    EXPECT_EQ(w->count("start:temp2"), 0);
    // terminate_child: stopped and not restarted; unknown ids are not_found.
    ASSERT_TRUE(sup.terminate_child("perm").ok());
    EXPECT_FALSE(w->exit("perm"));
    EXPECT_EQ(sup.terminate_child("nope").error().code, Errc::not_found);
    EXPECT_EQ(sup.delete_child("trans").error().code, Errc::invalid_config);  // running
    ASSERT_TRUE(sup.delete_child("perm").ok());
    EXPECT_EQ(sup.which_children().size(), 1u);
}

// Crashes `id` n times, waiting for each restart; false if a restart did not come.
bool crash_times(World& w, const std::string& id, int n) {
    for (int i = 0; i < n; ++i) {
        int before;
        {
            std::lock_guard lk(w.mu);
            before = w.count("start:" + id);
        }
        if (!w.wait([&] { return w.exits.count(id) > 0; })) return false;
        if (!w.exit(id)) return false;
        if (!w.wait([&] { return w.count("start:" + id) > before; })) return false;
    }
    return true;
}

TEST(Supervisor, TenCrashesInTheWindowAreToleratedTheEleventhEscalates) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Error> failure;
    SupervisorOptions o = fast();
    o.max_restarts = 10;
    o.max_time = 60s;
    o.on_failure = [&](const Error& e) {
        std::lock_guard lk(mu);
        failure = e;
        cv.notify_all();
    };
    Supervisor sup(rt, o);
    ASSERT_TRUE(sup.start({spec(w, "a"), spec(w, "b"), spec(w, "c")}).ok());
    ASSERT_TRUE(crash_times(*w, "b", 10));
    EXPECT_EQ(sup.state(), SupervisorState::running);
    {
        std::lock_guard lk(mu);
        EXPECT_FALSE(failure.has_value());
    }
    w->take();
    ASSERT_TRUE(w->exit("b"));  // the 11th
    {
        std::unique_lock lk(mu);
        ASSERT_TRUE(cv.wait_for(lk, 5s, [&] { return failure.has_value(); }));
        EXPECT_EQ(failure->code, Errc::retries_exhausted);
    }
    EXPECT_EQ(sup.state(), SupervisorState::failed);
    // Every child stopped in reverse start order (b had already exited), nothing restarted.
    EXPECT_EQ(w->take(), (Log{"stop:c", "stop:a"}));
    EXPECT_FALSE(sup.start_child(spec(w, "late")).ok());
}

TEST(Supervisor, NestedSupervisorEscalatesToItsParent) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    std::vector<SupervisorEvent> events;
    std::mutex evmu;
    SupervisorOptions parent = fast();
    parent.on_event = [&](const SupervisorEvent& e) {
        std::lock_guard lk(evmu);
        events.push_back(e);
    };
    SupervisorOptions inner = fast();
    inner.max_restarts = 1;
    Supervisor sup(rt, parent);
    ASSERT_TRUE(sup.start({spec(w, "top"), Supervisor::child_spec("sub", inner, {spec(w, "x"), spec(w, "y")}),
                           spec(w, "last")})
                    .ok());
    EXPECT_EQ(w->take(), (Log{"start:top", "start:x", "start:y", "start:last"}));
    ASSERT_TRUE(crash_times(*w, "x", 1));  // within the sub's intensity
    w->take();
    ASSERT_TRUE(w->exit("x"));  // exceeds it: the sub stops y and exits abnormally; the parent restarts the sub
    ASSERT_TRUE(w->wait([&] { return w->count("start:y") == 1; }));
    EXPECT_EQ(w->take(), (Log{"stop:y", "start:x", "start:y"}));
    EXPECT_EQ(sup.state(), SupervisorState::running);
    auto kids = sup.which_children();
    ASSERT_EQ(kids.size(), 3u);
    EXPECT_EQ(kids[1].id, "sub");
    EXPECT_EQ(kids[1].restarts, 1);
    std::lock_guard lk(evmu);
    bool saw = false;
    for (auto& e : events) {
        if (e.kind == SupervisorEvent::Kind::child_exited && e.child_id == "sub") {
            saw = true;
            EXPECT_TRUE(e.exit.is_abnormal());
            EXPECT_EQ(e.exit.error.code, Errc::retries_exhausted);
        }
    }
    EXPECT_TRUE(saw);
}

TEST(Supervisor, RestartBackoffFirstImmediateThenGrowing) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    SupervisorOptions o;
    o.backoff.enabled = true;
    o.backoff.base = 100ms;
    o.backoff.cap = 400ms;
    o.backoff.jitter = false;
    o.backoff.reset_after = 60s;
    Supervisor sup(rt, o);
    ASSERT_TRUE(sup.start({spec(w, "a")}).ok());
    std::vector<std::chrono::milliseconds> gaps;
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(w->wait([&] { return w->exits.count("a") > 0; }));
        auto crashed_at = Clock::now();
        std::size_t n;
        {
            std::lock_guard lk(w->mu);
            n = w->starts.size();
        }
        ASSERT_TRUE(w->exit("a"));
        ASSERT_TRUE(w->wait([&] { return w->starts.size() > n; }));
        std::lock_guard lk(w->mu);
        gaps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(w->starts.back().second - crashed_at));
    }
    // Expected 0, 100, 200, 400, 400 ms; only generous bounds are asserted.
    EXPECT_LT(gaps[0], 1000ms);
    EXPECT_GE(gaps[1], 90ms);
    EXPECT_GE(gaps[2], 190ms);
    EXPECT_GE(gaps[3], 390ms);
    EXPECT_GE(gaps[4], 390ms);
    for (auto g : gaps) EXPECT_LT(g, 5000ms);
}

TEST(Supervisor, FailedRestartsCountAndRetry) {
    Runtime rt(2);
    auto w = std::make_shared<World>();
    Supervisor sup(rt, fast());
    ASSERT_TRUE(sup.start({spec(w, "a")}).ok());
    {
        std::lock_guard lk(w->mu);
        w->fail_starts["a"] = 3;
    }
    w->take();
    ASSERT_TRUE(w->exit("a"));
    ASSERT_TRUE(w->wait([&] { return w->count("start:a") == 1; }));
    EXPECT_EQ(w->take(), (Log{"fail:a", "fail:a", "fail:a", "start:a"}));
    EXPECT_EQ(sup.state(), SupervisorState::running);
}

// ---- client_child with a real server -------------------------------------------------------------------------

struct EchoServer {
    std::unique_ptr<ChildProcess> proc;
    std::string url;
    bool start() {
        std::string err;
        proc = start_python_server("echo_python.py", {}, &err);
        if (!proc) {
            ADD_FAILURE() << "echo server: " << err;
            return false;
        }
        url = "ws://127.0.0.1:" + std::to_string(proc->port()) + "/";
        return true;
    }
};

template <class P>
bool poll_until(P pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

TEST(Supervisor, ClientChildRestartsAfterAThrowingHandlerAndStopsOnUserClose) {
    EchoServer server;
    ASSERT_TRUE(server.start());
    std::atomic<int> echoes{0};
    Runtime rt(2);
    Handlers h;
    h.on_message = [&](MessageView m) {
        if (m.data == "boom") throw std::runtime_error("handler failure");
        ++echoes;
    };
    Config cfg;
    cfg.url = server.url;
    cfg.retry_count = 1;
    cfg.retry_delay = 50ms;
    ClientHandle handle;
    SupervisorOptions o;
    o.backoff.base = 50ms;
    Supervisor sup(rt, o);
    ASSERT_TRUE(sup.start({client_child("venue", cfg, h, &handle, RestartType::transient, &rt)}).ok());
    ASSERT_TRUE(handle.valid());
    ASSERT_TRUE(poll_until([&] { return handle.state() == State::connected; }));
    Client first = handle.client();
    ASSERT_TRUE(handle.send_text("hello").ok());
    ASSERT_TRUE(poll_until([&] { return echoes.load() == 1; }));

    ASSERT_TRUE(handle.send_text("boom").ok());  // echoed back: the handler throws, the client crashes
    ASSERT_TRUE(poll_until([&] { return handle.restarts() == 1 && handle.state() == State::connected; }));
    Client second = handle.client();
    EXPECT_TRUE(second.valid());
    EXPECT_EQ(first.state(), State::disconnected);
    EXPECT_EQ(first.last_error().code, Errc::handler_exception);
    ASSERT_TRUE(handle.send_text("again").ok());  // the same handle reaches the new client
    ASSERT_TRUE(poll_until([&] { return echoes.load() == 2; }));

    second.close();  // a close by the user is a normal exit: a transient child is not restarted
    ASSERT_TRUE(poll_until([&] { return handle.status() == ChildStatus::stopped; }));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(handle.status(), ChildStatus::stopped);
    EXPECT_EQ(handle.restarts(), 1);
    auto kids = sup.which_children();
    ASSERT_EQ(kids.size(), 1u);
    EXPECT_FALSE(kids[0].running);
    EXPECT_EQ(handle.send_text("x").error().code, Errc::not_connected);
}

TEST(Supervisor, ClientChildWithInvalidConfigFailsToStart) {
    Runtime rt(2);
    Config cfg;
    cfg.url = "http://not-a-websocket";
    Supervisor sup(rt);
    Status st = sup.start({client_child("bad", cfg, {}, nullptr, RestartType::permanent, &rt)});
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::invalid_config);
}

}  // namespace
}  // namespace zenws::test
