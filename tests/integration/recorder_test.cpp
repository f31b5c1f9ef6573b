// recorder_test.cpp — owns the integration tests of Config::record_to through a real connection to the JSON-RPC
// test server (tests/servers/jsonrpc_server.py): the recorded out/in frames equal exactly what was sent and
// received (text, UTF-8, binary, request replies, notifications, the close), recording_metadata() counts them,
// subscription confirmations and unmatched replies are recorded once each, and the crash flush: a forked child
// connects, sends, and abort()s; the parent reads the file and finds everything.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/rpc_helpers.hpp"
#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/error.hpp"
#include "zenws/json_scan.hpp"
#include "zenws/recorder.hpp"
#include "zenws/runtime.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A fresh directory under /tmp, removed with its files at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/zenws-rec-XXXXXX";
        if (char* p = ::mkdtemp(tmpl)) path = p;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

Config rec_config(std::string url, std::string record_to) {
    Config cfg = rpc_single_shot_config(std::move(url), 5s);
    cfg.record_to = std::move(record_to);
    return cfg;
}

std::vector<RecordEntry> read_all(const std::string& path, ReplaySummary* summary = nullptr) {
    std::vector<RecordEntry> out;
    auto r = replay_recording(path, [&](const RecordEntry& e) { out.push_back(e); });
    if (r.ok() && summary) *summary = r.value();
    return out;
}

// The recording is written by a background flusher: poll (bounded) until it holds `n` entries.
std::vector<RecordEntry> wait_entries(const std::string& path, std::size_t n, std::chrono::milliseconds timeout = 5s) {
    auto until = Clock::now() + timeout;
    auto v = read_all(path);
    while (v.size() < n && Clock::now() < until) {
        std::this_thread::sleep_for(20ms);
        v = read_all(path);
    }
    return v;
}

std::vector<std::string> data_of(const std::vector<RecordEntry>& v, RecordDirection dir, RecordType type) {
    std::vector<std::string> out;
    for (const auto& e : v) {
        if (e.dir == dir && e.type == type) out.push_back(e.data);
    }
    return out;
}

struct MessageSink {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> texts;
    Handlers handlers() {
        Handlers h;
        h.on_message = [this](MessageView m) {
            std::lock_guard lk(mu);
            texts.emplace_back(m.data);
            cv.notify_all();
        };
        return h;
    }
    bool wait_size(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return texts.size() >= n; });
    }
};

// ---- tests -----------------------------------------------------------------------------------------------------

TEST(RpcRecorder, RecordedFramesEqualWhatWentOverTheWire) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    TempDir dir;
    ASSERT_FALSE(dir.path.empty());
    const std::string path = dir.file("session.jsonl");
    MessageSink sink;
    auto c = Client::connect(rec_config(srv.url(), path), sink.handlers());
    ASSERT_TRUE(c.ok()) << c.error().explain();

    const std::string m1 = R"({"method":"test/never","params":{"n":1}})";
    const std::string q1 = R"({"jsonrpc":"2.0","id":1,"method":"test/echo","params":{"k":"v \"quoted\" \\ back"}})";
    const std::string q2 = R"({"jsonrpc":"2.0","id":"t2","method":"test/tick","params":{"channels":["rec.x"],"n":2}})";
    const std::string bin("\x00\x01\xfe\xff zen", 8);
    const std::string m5 = "{\"method\":\"test/never\",\"params\":{\"u\":\"h\xc3\xa9llo \xe2\x82\xac\"}}";

    ASSERT_TRUE(c->send_text(m1).ok());
    auto r1 = c->request_blocking(q1, 5s);
    ASSERT_TRUE(r1.ok()) << r1.error().explain();
    auto r2 = c->request_blocking(q2, 5s);
    ASSERT_TRUE(r2.ok()) << r2.error().explain();
    ASSERT_TRUE(sink.wait_size(2, 5s));
    ASSERT_TRUE(c->send_binary(bin).ok());
    ASSERT_TRUE(c->send_text(m5).ok());
    // A round trip after the last sends so they are on the wire before the close.
    const std::string q3 = R"({"jsonrpc":"2.0","id":3,"method":"test/echo","params":{}})";
    auto r3 = c->request_blocking(q3, 5s);
    ASSERT_TRUE(r3.ok());
    ASSERT_TRUE(c->close_and_wait(3s));

    std::vector<std::string> received;
    {
        std::lock_guard lk(sink.mu);
        received = {r1.value(), sink.texts[0], sink.texts[1], r2.value(), r3.value()};
    }
    const std::size_t expected_entries = 6 /*out*/ + 5 /*in*/ + 1 /*close, out: we closed*/;
    auto entries = wait_entries(path, expected_entries);
    EXPECT_EQ(entries.size(), expected_entries);
    EXPECT_EQ(data_of(entries, RecordDirection::out, RecordType::text), (std::vector<std::string>{m1, q1, q2, m5, q3}));
    EXPECT_EQ(data_of(entries, RecordDirection::out, RecordType::binary), (std::vector<std::string>{bin}));
    EXPECT_EQ(data_of(entries, RecordDirection::in, RecordType::text), received);
    // Order of out frames as sent (binary between q2 and m5).
    std::vector<std::string> outs;
    for (const auto& e : entries) {
        if (e.dir == RecordDirection::out && e.type != RecordType::close) outs.push_back(e.data);
    }
    EXPECT_EQ(outs, (std::vector<std::string>{m1, q1, q2, bin, m5, q3}));
    // One close entry with the code the connection was closed with.
    std::vector<RecordEntry> closes;
    for (const auto& e : entries) {
        if (e.type == RecordType::close) closes.push_back(e);
    }
    ASSERT_EQ(closes.size(), 1u);
    EXPECT_EQ(closes[0].close_code, close_code::normal) << "close entry data: " << closes[0].data;
    EXPECT_EQ(closes[0].dir, RecordDirection::out) << "we initiated the close";
    // Timestamps are in file order.
    for (std::size_t i = 1; i < entries.size(); ++i) EXPECT_LE(entries[i - 1].ts, entries[i].ts);

    auto meta = recording_metadata(path);
    ASSERT_TRUE(meta.ok());
    EXPECT_EQ(meta->count, expected_entries);
    EXPECT_EQ(meta->outbound, 7u);  // 5 text + 1 binary + our close
    EXPECT_EQ(meta->inbound, 5u);
    EXPECT_EQ(meta->skipped, 0u);
    ASSERT_TRUE(meta->first_ts && meta->last_ts);
    EXPECT_GE(meta->duration.count(), 0);
}

TEST(RpcRecorder, SubscriptionTrafficIsRecordedBothWays) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    TempDir dir;
    const std::string path = dir.file("subs.jsonl");
    auto c = Client::connect(rec_config(srv.url(), path));
    ASSERT_TRUE(c.ok()) << c.error().explain();
    ASSERT_TRUE(c->subscribe({"rec.chan"}).ok());
    for (int i = 0; i < 500 && c->subscriptions().confirmed.empty(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(c->subscriptions().confirmed.size(), 1u);
    ASSERT_TRUE(c->close_and_wait(3s));
    auto entries = wait_entries(path, 3, 1500ms);  // out subscribe, in confirmation, close
    auto outs = data_of(entries, RecordDirection::out, RecordType::text);
    auto ins = data_of(entries, RecordDirection::in, RecordType::text);
    ASSERT_EQ(outs.size(), 1u);
    EXPECT_EQ(scan_json(outs[0]).method, "public/subscribe");
    ASSERT_EQ(ins.size(), 1u) << "the subscribe confirmation (an inbound application frame) is missing from the "
                                 "recording";
    EXPECT_EQ(scan_json(ins[0]).id.key(), scan_json(outs[0]).id.key());
}

TEST(RpcRecorder, UnmatchedReplyIsRecordedOnce) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    TempDir dir;
    const std::string path = dir.file("unmatched.jsonl");
    auto c = Client::connect(rec_config(srv.url(), path));  // no on_unmatched_response: goes to receive()
    ASSERT_TRUE(c.ok()) << c.error().explain();
    auto r = c->request_blocking(R"({"jsonrpc":"2.0","id":56,"method":"test/reply_twice","params":{}})", 5s);
    ASSERT_TRUE(r.ok());
    auto dup = c->receive(3s);
    ASSERT_TRUE(dup.has_value());
    ASSERT_TRUE(c->close_and_wait(3s));
    auto entries = wait_entries(path, 4);
    auto ins = data_of(entries, RecordDirection::in, RecordType::text);
    EXPECT_EQ(ins, (std::vector<std::string>{r.value(), dup->data}))
        << "2 frames were received; the recording holds " << ins.size();
}

// The child: its own Runtime (the parent's runtime threads do not exist after fork), connect, record, abort().
[[noreturn]] void crash_child(const std::string& url, const std::string& path, int messages) {
    ::alarm(15);  // never outlive a stuck parent
    {
        Runtime rt(1);
        Config cfg = rec_config(url, path);
        cfg.record_crash_handlers = true;  // opt-in: the client never installs process-wide handlers unasked
        auto c = Client::connect(cfg, {}, &rt);
        if (!c.ok()) ::_exit(3);
        for (int i = 0; i < messages; ++i) {
            if (!c->send_text("{\"method\":\"test/never\",\"params\":{\"crash\":" + std::to_string(i) + "}}").ok()) {
                ::_exit(4);
            }
        }
        auto r = c->request_blocking(R"({"jsonrpc":"2.0","id":"last","method":"test/echo","params":{"end":1}})", 5s);
        if (!r.ok()) ::_exit(5);
        std::abort();  // with ~1 ms of data pending in the writer's buffer (flush interval 200 ms)
    }
}

TEST(RpcRecorder, CrashFlushAfterAbortKeepsEverything) {
    RpcServer srv;
    REQUIRE_SERVER(srv);
    TempDir dir;
    const std::string path = dir.file("crash.jsonl");
    constexpr int messages = 50;
    const std::string url = srv.url();
    ::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) crash_child(url, path, messages);

    int status = 0;
    pid_t got = 0;
    auto until = Clock::now() + 20s;
    while ((got = ::waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < until) std::this_thread::sleep_for(10ms);
    if (got == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        FAIL() << "the crashing child did not finish";
    }
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    EXPECT_EQ(WTERMSIG(status), SIGABRT);

    ReplaySummary summary;
    auto entries = read_all(path, &summary);
    EXPECT_EQ(summary.skipped, 0u);
    auto outs = data_of(entries, RecordDirection::out, RecordType::text);
    ASSERT_EQ(outs.size(), static_cast<std::size_t>(messages + 1)) << "lost in the crash";
    for (int i = 0; i < messages; ++i) {
        EXPECT_EQ(outs[i], "{\"method\":\"test/never\",\"params\":{\"crash\":" + std::to_string(i) + "}}");
    }
    auto ins = data_of(entries, RecordDirection::in, RecordType::text);
    ASSERT_EQ(ins.size(), 1u);
    EXPECT_EQ(ins[0], R"({"jsonrpc":"2.0","id":"last","result":{"end":1}})");
    auto meta = recording_metadata(path);
    ASSERT_TRUE(meta.ok());
    EXPECT_EQ(meta->outbound, static_cast<std::size_t>(messages + 1));
    EXPECT_EQ(meta->inbound, 1u);
}

}  // namespace
}  // namespace zenws::test
