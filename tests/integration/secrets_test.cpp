// secrets_test.cpp — owns the end-to-end check that no secret of an authenticated Deribit session leaks: the adapter
// against the mock exchange on loopback with a client_secret, an Authorization header, a URL carrying ?token= and a
// fallback URL carrying ?key=, recording on; auth, a private call with params.access_token, a token refresh, a
// failing call, a dropped connection (re-auth), then a connect that times out (the mock's no_101 fault) and one with
// userinfo in the URL. The recording file, every Error text seen (message, explain(), raw), Config::to_string() and
// every observer / handler string are searched for the secret, the header value, the URL token and every access and
// refresh token the mock issued. The real query must still have gone over the wire. (The CLI side of the same
// promise is cli_secrets_test.cpp.)
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "integration/support/adapter_helpers.hpp"
#include "zenws/venues/deribit.hpp"
#include "zenws/client.hpp"
#include "zenws/mock/exchange.hpp"
#include "zenws/telemetry.hpp"

namespace zenws::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* client_secret = "S3CR3T-deribit-7f3a9c";
constexpr const char* header_secret = "HDR-S3CR3T-51d2";
constexpr const char* url_token = "URLTOK-S3CR3T-88e1";
constexpr const char* fallback_key = "FBKEY-S3CR3T-0c4d";
constexpr const char* userinfo_password = "PW-S3CR3T-9b7e";

// Every text the library hands to the application, and every token the mock issued.
struct Artefacts {
    std::mutex mu;
    std::vector<std::string> texts;
    std::set<std::string> tokens;

    void text(std::string s) {
        std::lock_guard lk(mu);
        texts.push_back(std::move(s));
    }
    void error(const Error& e) {
        if (!e) return;
        std::lock_guard lk(mu);
        texts.push_back(e.message);
        texts.push_back(e.explain());
        texts.push_back(e.raw);
        texts.push_back(e.close_reason);
        texts.push_back(e.body_prefix);
    }
    void token(const std::optional<deribit::AuthResult>& t) {
        if (!t) return;
        std::lock_guard lk(mu);
        if (!t->access_token.empty()) tokens.insert(t->access_token);
        if (!t->refresh_token.empty()) tokens.insert(t->refresh_token);
    }
};

class RecordingObserver : public Observer {
public:
    explicit RecordingObserver(Artefacts& a) : a_(a) {}
    void connect_attempt(std::string_view url, int) override { a_.text(std::string(url)); }
    void connected(std::string_view url, std::chrono::microseconds) override { a_.text(std::string(url)); }
    void connect_failed(std::string_view url, const Error& e) override {
        a_.text(std::string(url));
        a_.error(e);
    }
    void disconnected(const CloseInfo& info, const Error& cause) override {
        a_.text(info.reason);
        a_.error(cause);
    }
    void retries_exhausted(const Error& e) override { a_.error(e); }
    void error(const Error& e) override { a_.error(e); }

private:
    Artefacts& a_;
};

Handlers capturing_handlers(Artefacts& a) {
    Handlers h;
    h.on_state = [&a](State, State, const Error& cause) { a.error(cause); };
    h.on_close = [&a](const CloseInfo& info) { a.text(info.reason); };
    h.on_error = [&a](const Error& e) { a.error(e); };
    h.observer = std::make_shared<RecordingObserver>(a);
    return h;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string temp_file(const std::string& name) {
    return "/tmp/zenws_secrets_" + std::to_string(::getpid()) + "_" + name;
}

// Fails the test for every secret found in `text`, saying where.
void expect_clean(const std::string& where, const std::string& text, const std::vector<std::string>& secrets) {
    for (const auto& s : secrets)
        EXPECT_EQ(text.find(s), std::string::npos) << s << " leaked in " << where << ":\n" << text;
}

TEST(Secrets, NothingOfAnAuthenticatedDeribitSessionLeaks) {
    MockExchangeOptions mo;
    mo.dialect = mock::DialectKind::deribit;
    mo.deribit.accounts = {{"secret_client", client_secret}};
    mo.deribit.min_heartbeat_interval_ms = 100;
    mo.deribit.notification_interval = 0ms;
    MockExchange server(mo);
    ASSERT_TRUE(server.start());

    const std::string record = temp_file("session.jsonl");
    std::remove(record.c_str());
    Artefacts seen;

    deribit::AdapterOptions o;
    o.config.url = server.url() + "?token=" + url_token + "&v=2";
    o.config.fallback_urls = {std::string("ws://127.0.0.1:1/ws?key=") + fallback_key};
    o.config.headers = {{"Authorization", std::string("Bearer ") + header_secret}};
    o.config.record_to = record;
    o.config.retry_delay = 50ms;
    o.config.max_backoff = 200ms;
    o.config.retry_count = 6;
    o.config.request_timeout = 3000ms;
    o.config.send_policy = SendPolicy::buffer;
    o.credentials = deribit::Credentials{"secret_client", client_secret};
    o.heartbeat_seconds = 0.2;
    o.handlers = capturing_handlers(seen);
    std::shared_ptr<deribit::Adapter> adapter;
    std::mutex adapter_mu;
    o.on_event = [&](const deribit::AdapterEvent& ev) {
        seen.error(ev.error);
        std::shared_ptr<deribit::Adapter> a;
        {
            std::lock_guard lk(adapter_mu);
            a = adapter;
        }
        if (a) seen.token(a->token());  // every token the mock issues passes through an auth event
    };
    {
        auto created = deribit::Adapter::create(o);
        std::lock_guard lk(adapter_mu);
        adapter = created;
    }
    seen.text(adapter->client_setup().first.to_string());

    // 1. connect + auth (client_secret on the wire, tokens in the reply).
    auto st = adapter->connect();
    ASSERT_TRUE(st) << st.error().explain();
    ASSERT_TRUE(adapter->authenticated());
    seen.token(adapter->token());
    const std::string access = adapter->token()->access_token;
    ASSERT_FALSE(access.empty());
    seen.text(adapter->client().config().to_string());

    // 2. a private call carrying the token in its params (Deribit accepts params.access_token).
    auto orders = adapter->call("private/get_open_orders_by_currency",
                                R"({"currency":"BTC","access_token":")" + access + R"("})");
    ASSERT_TRUE(orders) << orders.error().explain();

    // 3. refresh (refresh_token out, new tokens in), 4. a call that fails (an rpc_error with its raw reply).
    auto refreshed = adapter->refresh();
    ASSERT_TRUE(refreshed) << refreshed.error().explain();
    seen.token(adapter->token());
    auto bad = adapter->cancel("no-such-order");
    ASSERT_FALSE(bad);
    seen.error(bad.error());

    // 5. the link drops: reconnect (the fallback first, refused) and authenticate again with the secret.
    const auto auths = adapter->stats().authentications;
    ASSERT_EQ(server.drop(), 1u);
    ASSERT_TRUE(eventually([&] { return adapter->stats().authentications > auths && adapter->authenticated(); }, 10s));
    seen.token(adapter->token());
    seen.error(adapter->last_error());
    // The real query went over the wire on every connection: redaction is for display only.
    auto status = server.status();
    ASSERT_FALSE(status.connections.empty());
    EXPECT_EQ(status.connections[0].path, std::string("/ws/api/v2?token=") + url_token + "&v=2");
    adapter->close();

    // 6. a connect that times out (the mock reads the upgrade and never answers): its error names the URL.
    server.set_handshake_fault(mock::HandshakeFault::no_101);
    Config timeout_config = adapter->client_setup().first;
    timeout_config.record_to.clear();
    timeout_config.timeout = 300ms;
    timeout_config.retry_count = 1;  // primary (times out), then the fallback (refused)
    timeout_config.retry_delay = 20ms;
    auto timed_out = Client::connect(timeout_config, capturing_handlers(seen));
    ASSERT_FALSE(timed_out);
    seen.error(timed_out.error());
    bool saw_timeout_text = false;
    {
        std::lock_guard lk(seen.mu);
        for (const auto& t : seen.texts)
            if (t.find("no WebSocket connection to") != std::string::npos) saw_timeout_text = true;
    }
    EXPECT_TRUE(saw_timeout_text) << "the connect_timeout error (which names the URL) was not seen";
    server.set_handshake_fault(mock::HandshakeFault::none);

    // 7. userinfo in the URL: rejected, without the password.
    Config userinfo = timeout_config;
    userinfo.url = "ws://secret_client:" + std::string(userinfo_password) + "@127.0.0.1:" +
                   std::to_string(server.port()) + "/ws/api/v2";
    auto rejected = Client::connect(userinfo, capturing_handlers(seen));
    ASSERT_FALSE(rejected);
    EXPECT_EQ(rejected.error().code, Errc::invalid_config);
    seen.error(rejected.error());
    seen.text(userinfo.to_string());

    // ---- the search ----
    std::vector<std::string> secrets{client_secret, header_secret, url_token, fallback_key, userinfo_password};
    {
        std::lock_guard lk(seen.mu);
        EXPECT_GE(seen.tokens.size(), 4u) << "expected the tokens of the first auth, the refresh and the re-auth";
        secrets.insert(secrets.end(), seen.tokens.begin(), seen.tokens.end());
    }
    const std::string file = read_file(record);
    ASSERT_FALSE(file.empty()) << "nothing was recorded";
    // The recording holds the auth traffic, redacted (so the search below is not vacuous).
    EXPECT_NE(file.find("public/auth"), std::string::npos) << file;
    EXPECT_NE(file.find(R"(\"client_secret\":\"[REDACTED]\")"), std::string::npos) << file;
    EXPECT_NE(file.find(R"(\"access_token\":\"[REDACTED]\")"), std::string::npos) << file;
    EXPECT_NE(file.find(R"(\"refresh_token\":\"[REDACTED]\")"), std::string::npos) << file;
    expect_clean("the recording " + record, file, secrets);
    struct stat sb {};
    ASSERT_EQ(::stat(record.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);

    std::lock_guard lk(seen.mu);
    ASSERT_FALSE(seen.texts.empty());
    bool saw_redacted_url = false;
    for (const auto& t : seen.texts) {
        expect_clean("an error / observer / to_string text", t, secrets);
        if (t.find("?token=[REDACTED]&v=[REDACTED]") != std::string::npos) saw_redacted_url = true;
    }
    EXPECT_TRUE(saw_redacted_url) << "the URL was never shown (redacted) to the observer or in an error";
    std::remove(record.c_str());
}

}  // namespace
}  // namespace zenws::test
