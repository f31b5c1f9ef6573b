// cli_secrets_test.cpp — owns what the zenws tool must never print and the CLI texts that used to mislead: a
// malformed -H is not echoed; `zenws connect` with --record, an Authorization header and a URL carrying ?token=
// against the mock exchange (an auth request with a client_secret typed on stdin) shows none of them on stderr, none
// on stdout beyond the server's own reply, and the recording holds neither the secret nor the issued tokens; a URL
// with userinfo is refused without the password; a connect timeout (the mock's no_101 fault) names the URL
// redacted, for connect and pool. Texts: --timeout 0 names the real range in one short line, replay of a missing file
// says it cannot be opened, and a --retry 0 failure does not promise a reconnect.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/adapter_helpers.hpp"
#include "integration/support/tool_runner.hpp"
#include "zenws/mock/exchange.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* client_secret = "S3CR3T-cli-a41f07";
constexpr const char* header_secret = "HDR-S3CR3T-cli-93";
constexpr const char* url_token = "URLTOK-S3CR3T-cli-5e";
constexpr const char* userinfo_password = "PW-S3CR3T-cli-c2";

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string temp_file(const std::string& name) {
    return "/tmp/zenws_cli_secrets_" + std::to_string(::getpid()) + "_" + name;
}

// The string value of the first "name":"..." in text (no escapes expected: the mock's tokens are plain).
std::string json_string_value(const std::string& text, const std::string& name) {
    const std::string key = "\"" + name + "\":\"";
    const auto at = text.find(key);
    if (at == std::string::npos) return {};
    const auto start = at + key.size();
    const auto end = text.find('"', start);
    return end == std::string::npos ? std::string() : text.substr(start, end - start);
}

void expect_clean(const std::string& where, const std::string& text, const std::vector<std::string>& secrets) {
    for (const auto& s : secrets)
        if (!s.empty()) EXPECT_FALSE(contains(text, s)) << s << " leaked in " << where << ":\n" << text;
}

MockExchangeOptions deribit_mock() {
    MockExchangeOptions o;
    o.dialect = mock::DialectKind::deribit;
    o.deribit.accounts = {{"cli_client", client_secret}};
    o.deribit.notification_interval = 0ms;
    return o;
}

class CliSecrets : public ::testing::Test {
protected:
    void SetUp() override {
        if (tool_path().empty() || ::access(tool_path().c_str(), X_OK) != 0) GTEST_SKIP() << "zenws tool not built";
    }
};

TEST_F(CliSecrets, MalformedHeaderIsNeverEchoed) {
    for (const char* bad : {"Authorization secretvalue", "Authorization secretvalue: x", ": secretvalue"}) {
        SCOPED_TRACE(bad);
        auto r = run_tool({"connect", "-H", "X-Ok: 1", "-H", bad, "ws://127.0.0.1:1/"}, "", 20s);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_FALSE(contains(r.err, "secretvalue")) << r.err;
        EXPECT_FALSE(contains(r.out, "secretvalue")) << r.out;
        EXPECT_TRUE(contains(r.err, "-H/--header #2")) << r.err;  // says which one and what is wrong
        EXPECT_TRUE(contains(r.err, "Name: value")) << r.err;
    }
}

TEST_F(CliSecrets, ConnectWithRecordShowsNoSecret) {
    MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    const std::string record = temp_file("connect.jsonl");
    std::remove(record.c_str());
    const std::string url = server.url() + "?token=" + url_token;
    const std::string input =
        std::string(R"({"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials",)") +
        R"("client_id":"cli_client","client_secret":")" + client_secret + "\"}}\n" +
        R"({"jsonrpc":"2.0","id":2,"method":"public/test","params":{}})" + "\n";
    auto r = run_tool({"connect", "--retry", "0", "--record", record, "-H",
                       std::string("Authorization: Bearer ") + header_secret, url},
                      input, 20s, 1500ms);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // The server's reply is the application's data and is printed as received: it carries the issued tokens.
    const std::string access = json_string_value(r.out, "access_token");
    const std::string refresh = json_string_value(r.out, "refresh_token");
    ASSERT_FALSE(access.empty()) << "no auth reply on stdout:\n" << r.out << r.err;
    ASSERT_FALSE(refresh.empty()) << r.out;
    // The real query went over the wire.
    auto status = server.status();
    ASSERT_FALSE(status.ended.empty());
    EXPECT_EQ(status.ended.back().path, std::string("/ws/api/v2?token=") + url_token);

    expect_clean("stderr", r.err, {client_secret, header_secret, url_token, access, refresh});
    expect_clean("stdout", r.out, {client_secret, header_secret, url_token});
    const std::string file = read_file(record);
    ASSERT_TRUE(contains(file, "public/auth")) << file;
    EXPECT_TRUE(contains(file, R"(\"client_secret\":\"[REDACTED]\")")) << file;
    EXPECT_TRUE(contains(file, R"(\"access_token\":\"[REDACTED]\")")) << file;
    expect_clean("the recording", file, {client_secret, header_secret, url_token, access, refresh});
    struct stat sb {};
    ASSERT_EQ(::stat(record.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);

    // replay prints the recording: still nothing to see.
    auto replay = run_tool({"replay", record}, "", 20s);
    EXPECT_EQ(replay.exit_code, 0) << replay.err;
    expect_clean("replay output", replay.out + replay.err, {client_secret, access, refresh});
    std::remove(record.c_str());
}

TEST_F(CliSecrets, UserinfoUrlIsRefusedWithoutThePassword) {
    const std::string url = std::string("ws://cli_client:") + userinfo_password + "@127.0.0.1:1/ws?token=" + url_token;
    for (const char* command : {"connect", "pool"}) {
        SCOPED_TRACE(command);
        auto r = run_tool({command, "--retry", "0", url}, "", 20s);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_TRUE(contains(r.err, "userinfo")) << r.err;
        expect_clean("stderr", r.err, {userinfo_password, url_token});
        expect_clean("stdout", r.out, {userinfo_password, url_token});
    }
}

// The mock reads the upgrade and never answers: the connect times out, and that error names the URL (redacted).
TEST_F(CliSecrets, ConnectTimeoutNamesTheUrlRedacted) {
    MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    server.set_handshake_fault(mock::HandshakeFault::no_101);
    const std::string url = server.url() + "?token=" + url_token;

    auto r = run_tool({"connect", "--jsonl", "--retry", "0", "--timeout", "400", url}, "", 20s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.out, "connect_timeout")) << r.out << r.err;  // not an HTTP status: no answer at all
    EXPECT_TRUE(contains(r.err, "?token=[REDACTED]")) << r.err;
    expect_clean("stderr", r.err, {url_token});
    expect_clean("stdout", r.out, {url_token});

    auto p = run_tool({"pool", "--retry", "0", "--timeout", "400", url}, "", 30s);
    EXPECT_EQ(p.exit_code, 1) << p.err;
    EXPECT_TRUE(contains(p.err, "?token=[REDACTED]")) << p.err;
    expect_clean("pool stderr", p.err, {url_token});
    expect_clean("pool stdout", p.out, {url_token});
    EXPECT_GE(server.status().handshakes_rejected, 2u);
}

// ---- texts that used to mislead ------------------------------------------------------------------------------------

TEST_F(CliSecrets, TimeoutZeroNamesTheRealRangeInOneShortLine) {
    for (const char* command : {"connect", "pool"}) {
        SCOPED_TRACE(command);
        auto r = run_tool({command, "--timeout", "0", "ws://127.0.0.1:1/"}, "", 20s);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        const std::string first = r.err.substr(0, r.err.find('\n'));
        EXPECT_TRUE(contains(first, "--timeout")) << first;
        EXPECT_TRUE(contains(first, "1..")) << first;
        EXPECT_TRUE(contains(first, "got '0'")) << first;
        EXPECT_LT(first.size(), 120u) << first;
    }
    auto retry = run_tool({"connect", "--retry", "-1", "ws://127.0.0.1:1/"}, "", 20s);
    EXPECT_EQ(retry.exit_code, 2) << retry.err;
    EXPECT_TRUE(contains(retry.err, "0..")) << retry.err;
    EXPECT_LT(retry.err.find('\n'), 120u) << retry.err;
}

TEST_F(CliSecrets, ReplayOfAMissingFileSaysItCannotBeOpened) {
    const std::string missing = temp_file("does-not-exist.jsonl");
    std::remove(missing.c_str());
    for (bool metadata : {false, true}) {
        auto r = metadata ? run_tool({"replay", "--metadata", missing}, "", 20s)
                          : run_tool({"replay", missing}, "", 20s);
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_TRUE(contains(r.err, "cannot open recording " + missing)) << r.err;
        EXPECT_TRUE(contains(r.err, "No such file or directory")) << r.err;
        EXPECT_FALSE(contains(r.err, "handle")) << r.err;
    }
}

// --retry 0 and the link drops after the connection was established: no promise of an automatic reconnect.
TEST_F(CliSecrets, RetryZeroFailureDoesNotPromiseAReconnect) {
    MockExchange server(deribit_mock());
    ASSERT_TRUE(server.start());
    std::thread dropper([&] {
        if (server.wait_until([](const MockStatus& s) { return s.connections.size() == 1; }, 10s)) server.drop();
    });
    // --echo: the tool keeps the connection after stdin's EOF, until the server ends it.
    auto r = run_tool({"connect", "--echo", "--retry", "0", server.url()}, "", 20s);
    dropper.join();
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_FALSE(contains(r.err, "reconnects automatically")) << r.err;
    EXPECT_TRUE(contains(r.err, "(--retry 0: no reconnect was attempted")) << r.err;
}

}  // namespace
}  // namespace zenws::test
