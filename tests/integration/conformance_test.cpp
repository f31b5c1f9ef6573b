// conformance_test.cpp — owns the RFC 6455 conformance suite: one test per case of tests/servers/conformance_server.py
// (Autobahn client groups 1-7, 9 re-created, plus extras). Our Client echoes every message against /case/<name>; the
// test waits (bounded) for on_close, then asserts the server's verdict (/verdict/<name>) is PASS and that on_close
// reported what the case expects: 1000 by the peer for echo cases, the server's code by the peer for close cases,
// or the client's own failure code (1002/1007) with by_peer=false.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "integration/support/process.hpp"
#include "integration/support/ws_helpers.hpp"
#include "zenws/client.hpp"

namespace zenws::test {
namespace {

struct CaseSpec {
    std::string name;    // e.g. "5.6"
    std::string expect;  // "echo", "peer_close" or a close code ("1002")
    int code = 0;        // peer_close: the code the server sends (1005 = empty close frame)
    int timeout = 10;    // seconds the server allows for the case
    std::string desc;
};

// gtest prints parameters of failing tests: show the case, not its bytes.
void PrintTo(const CaseSpec& c, std::ostream* os) { *os << c.name << " (" << c.desc << ", expect " << c.expect << ")"; }

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The case list comes from the server itself (--list-lines), so the tests never drift from the cases.
std::vector<CaseSpec> load_cases() {
    std::vector<CaseSpec> cases;
    std::string py = python3_path();
    if (py.empty()) return cases;
    std::string cmd = shell_quote(py) + " " + shell_quote(servers_dir() + "/conformance_server.py") + " --list-lines";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return cases;
    char line[1024];
    while (std::fgets(line, sizeof line, f)) {
        std::string s(line);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        std::vector<std::string> parts;
        std::istringstream in(s);
        for (std::string p; std::getline(in, p, '\t');) parts.push_back(p);
        if (parts.size() < 5) continue;
        CaseSpec c;
        c.name = parts[0];
        c.expect = parts[1];
        c.code = std::atoi(parts[2].c_str());
        c.timeout = std::atoi(parts[3].c_str());
        c.desc = parts[4];
        cases.push_back(std::move(c));
    }
    ::pclose(f);
    return cases;
}

const std::vector<CaseSpec>& all_cases() {
    static const std::vector<CaseSpec> cases = load_cases();
    return cases;
}

std::string json_string_field(const std::string& json, const std::string& field) {
    std::string key = "\"" + field + "\": \"";
    auto p = json.find(key);
    if (p == std::string::npos) return {};
    p += key.size();
    auto e = json.find('"', p);
    return e == std::string::npos ? std::string() : json.substr(p, e - p);
}

class Conformance : public ::testing::TestWithParam<CaseSpec> {
public:
    static void SetUpTestSuite() {
        std::string err;
        server_ = start_python_server("conformance_server.py", {}, &err);
        if (!server_) start_error_ = err;
    }
    static void TearDownTestSuite() { server_.reset(); }

protected:
    static std::string base() { return "ws://127.0.0.1:" + std::to_string(server_->port()); }
    static inline std::unique_ptr<ChildProcess> server_;
    static inline std::string start_error_;
};

TEST_P(Conformance, Case) {
    const CaseSpec& spec = GetParam();
    ASSERT_TRUE(server_) << "conformance server did not start: " << start_error_;
    SCOPED_TRACE("case " + spec.name + ": " + spec.desc + " (expect " + spec.expect + ")");

    auto rec = std::make_shared<Recorder>();
    rec->echo = true;
    Config cfg = single_shot_config(base() + "/case/" + spec.name);
    ASSERT_TRUE(rec->start(cfg)) << "connect failed: "
                                 << (rec->connect_error ? rec->connect_error->explain() : std::string("timed out"));

    const bool closed = rec->wait_close(std::chrono::seconds(spec.timeout + 10));
    std::optional<CloseInfo> close;
    std::vector<std::string> errors;
    {
        std::lock_guard lk(rec->mu);
        close = rec->close;
        errors = rec->errors;
    }
    rec->detach();

    std::string err;
    auto verdict_json = fetch_one_text(base() + "/verdict/" + spec.name, &err);
    ASSERT_TRUE(verdict_json) << err;
    EXPECT_EQ(json_string_field(*verdict_json, "verdict"), "PASS") << "server verdict: " << *verdict_json;

    ASSERT_TRUE(closed) << "on_close was not called within " << spec.timeout + 10 << " s";
    ASSERT_TRUE(close.has_value());
    if (spec.expect == "echo") {
        EXPECT_EQ(close->code, 1000) << "reason: " << close->reason;
        EXPECT_TRUE(close->by_peer) << "the server initiated the close";
    } else if (spec.expect == "peer_close") {
        EXPECT_EQ(close->code, spec.code) << "reason: " << close->reason;
        EXPECT_TRUE(close->by_peer) << "the server initiated the close";
    } else {
        EXPECT_EQ(close->code, std::atoi(spec.expect.c_str())) << "reason: " << close->reason;
        EXPECT_FALSE(close->by_peer) << "the client must be the one failing the connection";
    }
    for (const auto& e : errors) ADD_FAILURE() << "on_error: " << e;
}

std::string case_test_name(const ::testing::TestParamInfo<CaseSpec>& info) {
    std::string n = "c" + info.param.name;
    for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
}

INSTANTIATE_TEST_SUITE_P(Autobahn, Conformance, ::testing::ValuesIn(all_cases()), case_test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

// The /cases endpoint and --list-lines describe the same cases.
TEST(ConformanceServer, CaseListEndpointMatches) {
    std::string err;
    auto server = start_python_server("conformance_server.py", {}, &err);
    ASSERT_TRUE(server) << err;
    ASSERT_FALSE(all_cases().empty()) << "could not load the case list";
    auto json = fetch_one_text("ws://127.0.0.1:" + std::to_string(server->port()) + "/cases", &err);
    ASSERT_TRUE(json) << err;
    std::size_t n = 0;
    for (auto p = json->find("\"case\":"); p != std::string::npos; p = json->find("\"case\":", p + 1)) ++n;
    EXPECT_EQ(n, all_cases().size());
}

}  // namespace
}  // namespace zenws::test
