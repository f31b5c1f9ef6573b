// cli_test.cpp — owns the end-to-end tests of the zenws command-line tool (the built binary, ZENWS_TOOL_PATH): connect
// against the node and python echo servers, --echo, exit codes and error messages, --jsonl events, --record then
// replay, pool over two echo servers, the offline demo, and mock-exchange's READY / stdin-EOF lifecycle. Running the
// tool is support/tool_runner.hpp; what the tool must never print (secrets) is cli_secrets_test.cpp.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/tool_runner.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string temp_path(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/zenws_cli_" + std::to_string(::getpid()) + "_" + name;
}

// A port nothing listens on (bound then released).
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

std::string url_of(const ChildProcess& p, const std::string& path = "/") {
    return "ws://127.0.0.1:" + std::to_string(p.port()) + path;
}

class Cli : public ::testing::Test {
protected:
    void SetUp() override {
        if (tool_path().empty() || ::access(tool_path().c_str(), X_OK) != 0) GTEST_SKIP() << "zenws tool not built";
    }
};

std::unique_ptr<ChildProcess> node_echo() {
    std::string err;
    auto p = start_node_server("echo_node.js", {}, &err);
    if (!p) ADD_FAILURE() << "node echo server: " << err;
    return p;
}

std::unique_ptr<ChildProcess> python_server(const std::string& script) {
    std::string err;
    auto p = start_python_server(script, {}, &err);
    if (!p) ADD_FAILURE() << script << ": " << err;
    return p;
}

TEST_F(Cli, ConnectSendsStdinLinesAndPrintsEchoesNode) {
    auto server = node_echo();
    ASSERT_TRUE(server);
    auto r = run_tool({"connect", url_of(*server)}, "hello\nworld with spaces\n", 20s, 800ms);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "hello\nworld with spaces\n") << r.err;
}

TEST_F(Cli, ConnectSendsStdinLinesAndPrintsEchoesPython) {
    auto server = python_server("echo_python.py");
    ASSERT_TRUE(server);
    auto r = run_tool({"connect", url_of(*server)}, "one\n{\"json\":true}\n", 20s, 800ms);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "one\n{\"json\":true}\n") << r.err;
}

// --echo: the JSON-RPC test server pushes two text messages (test/push without an id is never answered, and it
// ignores non-JSON text, so echoing cannot loop); the tool sends them back unchanged as text frames. test/drop then
// ends the connection (1006; --retry 0: exit 3). The recording and the server's own log show the echoes.
TEST_F(Cli, ConnectEchoSendsReceivedMessagesBackUnchanged) {
    auto server = python_server("jsonrpc_server.py");
    ASSERT_TRUE(server);
    std::string rec = temp_path("echo.jsonl");
    std::remove(rec.c_str());
    std::string input =
        "{\"jsonrpc\":\"2.0\",\"method\":\"test/push\",\"params\":{\"messages\":[\"alpha\",\"beta gamma\"]}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"test/drop\",\"params\":{\"ms\":700}}\n";
    auto r = run_tool({"connect", "--echo", "--retry", "0", "--record", rec, url_of(*server)}, input, 20s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 3) << r.err;  // the server dropped the link and no reconnect was allowed
    EXPECT_EQ(r.out, "alpha\nbeta gamma\n") << r.err;

    auto replay = run_tool({"replay", "--jsonl", rec});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_TRUE(contains(replay.out, R"("dir":"out","type":"text","data":"alpha")")) << replay.out;
    EXPECT_TRUE(contains(replay.out, R"("dir":"out","type":"text","data":"beta gamma")")) << replay.out;

    // The server received the echoes on connection 1.
    auto log = run_tool({"connect", url_of(*server)},
                        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"test/log\",\"params\":{\"conn\":1}}\n", 20s, 1500ms);
    EXPECT_EQ(log.exit_code, 0) << log.err;
    EXPECT_TRUE(contains(log.out, "\"alpha\"") && contains(log.out, "\"beta gamma\"")) << log.out;
    std::remove(rec.c_str());
}

TEST_F(Cli, RefusedPortExitsOneWithAnExplanation) {
    int port = free_port();
    auto r = run_tool({"connect", "--retry", "0", "ws://127.0.0.1:" + std::to_string(port) + "/"}, "", 20s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    auto err_lines = lines_of(r.err);
    ASSERT_FALSE(err_lines.empty());
    const std::string& last = err_lines.back();
    EXPECT_TRUE(contains(last, "refused")) << r.err;
    EXPECT_TRUE(contains(last, "check")) << r.err;  // a suggestion
    EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Cli, BadUrlIsAUsageErrorNamingTheUrl) {
    auto r = run_tool({"connect", "http://example.invalid/x"}, "", 20s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(contains(r.err, "url")) << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;

    auto p = run_tool({"pool", "not a url"}, "", 20s);
    EXPECT_EQ(p.exit_code, 2) << p.err;
    EXPECT_TRUE(contains(p.err, "not a url")) << p.err;
}

TEST_F(Cli, BadHeartbeatIsAUsageError) {
    auto r = run_tool({"connect", "--heartbeat", "bogus", "ws://127.0.0.1:1/"}, "", 20s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(contains(r.err, "heartbeat")) << r.err;
    auto r2 = run_tool({"connect", "--heartbeat", "ping_pong:abc", "ws://127.0.0.1:1/"}, "", 20s);
    EXPECT_EQ(r2.exit_code, 2) << r2.err;
    EXPECT_TRUE(contains(r2.err, "heartbeat")) << r2.err;
    auto r3 = run_tool({"connect"}, "", 20s);  // missing URL
    EXPECT_EQ(r3.exit_code, 2) << r3.err;
}

TEST_F(Cli, JsonlEventStreamInOrder) {
    auto server = node_echo();
    ASSERT_TRUE(server);
    auto r = run_tool({"connect", "--jsonl", url_of(*server)}, "ping me\n", 20s, 800ms);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    auto index_of = [&](const std::string& needle) -> int {
        for (std::size_t i = 0; i < lines.size(); ++i)
            if (contains(lines[i], needle)) return static_cast<int>(i);
        return -1;
    };
    int connected = index_of("\"event\":\"connected\"");
    int message = index_of(R"("event":"message","type":"text","data":"ping me")");
    int close = index_of("\"event\":\"close\"");
    int closed = index_of("\"event\":\"closed\"");
    ASSERT_GE(connected, 0) << r.out;
    ASSERT_GE(message, 0) << r.out;
    ASSERT_GE(closed, 0) << r.out;
    EXPECT_LT(connected, message) << r.out;
    EXPECT_LT(message, closed) << r.out;
    if (close >= 0) {
        EXPECT_LT(message, close) << r.out;
        EXPECT_LE(close, closed + 1) << r.out;
    }
    for (const auto& l : lines) EXPECT_TRUE(!l.empty() && l.front() == '{' && l.back() == '}') << l;
}

TEST_F(Cli, RecordThenReplayShowsTheSameFrames) {
    auto server = node_echo();
    ASSERT_TRUE(server);
    std::string rec = temp_path("rec.jsonl");
    std::remove(rec.c_str());
    auto r = run_tool({"connect", "--record", rec, url_of(*server)}, "first\nsecond\n", 20s, 800ms);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto replay = run_tool({"replay", rec});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    std::vector<std::string> frames;
    for (const auto& l : lines_of(replay.out)) {
        // "<ts> <dir> <type> <data>"
        std::istringstream in(l);
        std::string ts, dir, type, data;
        in >> ts >> dir >> type;
        std::getline(in, data);
        data.erase(0, data.find_first_not_of(' '));
        if (type == "text") frames.push_back(dir + " " + data);
    }
    std::vector<std::string> expected{"out first", "out second", "in first", "in second"};
    std::vector<std::string> outs, ins;
    for (const auto& f : frames) (f.rfind("out ", 0) == 0 ? outs : ins).push_back(f);
    EXPECT_EQ(outs, (std::vector<std::string>{"out first", "out second"})) << replay.out;
    EXPECT_EQ(ins, (std::vector<std::string>{"in first", "in second"})) << replay.out;
    EXPECT_TRUE(contains(replay.err, "replayed")) << replay.err;
    std::remove(rec.c_str());
}

// Two JSON-RPC servers (test/echo answers with its params): an echo server cannot answer a request, since the echo
// of {"id":..,"method":..} is not a reply. Lines without an id are plain messages ("ok").
TEST_F(Cli, PoolOverTwoServersAnswersRequestLines) {
    auto a = python_server("jsonrpc_server.py");
    auto b = python_server("jsonrpc_server.py");
    ASSERT_TRUE(a && b);
    std::string input =
        "{\"jsonrpc\":\"2.0\",\"id\":101,\"method\":\"test/echo\",\"params\":{\"n\":1}}\n"
        "just text\n"
        "{\"jsonrpc\":\"2.0\",\"id\":102,\"method\":\"test/echo\",\"params\":{\"n\":2}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":103,\"method\":\"test/echo\",\"params\":{\"n\":3}}\n";
    auto r = run_tool({"pool", "--size", "2", "--request-timeout", "3000", url_of(*a), url_of(*b)}, input, 30s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);  // in input order
    ASSERT_EQ(lines.size(), 4u) << r.out << r.err;
    EXPECT_TRUE(contains(lines[0], "\"id\":101") && contains(lines[0], "\"result\"")) << lines[0];
    EXPECT_EQ(lines[1], "ok");
    EXPECT_TRUE(contains(lines[2], "\"id\":102")) << lines[2];
    EXPECT_TRUE(contains(lines[3], "\"id\":103")) << lines[3];
}

TEST_F(Cli, PoolOverTwoEchoServersSendsPlainLines) {
    auto a = node_echo();
    auto b = python_server("echo_python.py");
    ASSERT_TRUE(a && b);
    auto r = run_tool({"pool", url_of(*a), url_of(*b)}, "x\ny\nz\n", 30s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\nok\nok\n") << r.err;
}

TEST_F(Cli, PoolWithNothingToConnectToExitsOne) {
    int port = free_port();
    auto r = run_tool({"pool", "--retry", "0", "ws://127.0.0.1:" + std::to_string(port) + "/"}, "", 20s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "refused")) << r.err;
}

TEST_F(Cli, DemoPassesEveryInvariant) {
    auto r = run_tool({"demo", "--duration", "8"}, "", 45s);
    EXPECT_FALSE(r.timed_out) << r.out << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "zenws demo summary")) << r.out;
    EXPECT_TRUE(contains(r.out, "PASS every request accounted for exactly once")) << r.out;
    EXPECT_TRUE(contains(r.out, "result: PASS")) << r.out;
    EXPECT_FALSE(contains(r.out, "FAIL ")) << r.out;
    for (const char* fault : {"dropped_connection", "silent_server", "handler_throws", "exchange_down",
                              "rate_limit_10028", "binance_rotation"}) {
        EXPECT_TRUE(contains(r.out, fault)) << fault;
    }
}

TEST_F(Cli, MockExchangePrintsReadyAndExitsOnStdinEof) {
    auto r = run_tool({"mock-exchange", "--dialect", "deribit"}, "", 20s, 300ms);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto lines = lines_of(r.out);
    ASSERT_FALSE(lines.empty()) << r.err;
    EXPECT_EQ(lines[0].rfind("READY ", 0), 0u) << r.out;
    unsigned port = 0, control = 0;
    EXPECT_EQ(std::sscanf(lines[0].c_str(), "READY %u %u", &port, &control), 2) << lines[0];
    EXPECT_GT(port, 0u);
}

}  // namespace
}  // namespace zenws::test
