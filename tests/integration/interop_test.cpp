// interop_test.cpp — owns interoperability tests against real peers and the failure paths of connecting:
//   * echo of text and binary messages (0 B .. 16 MiB) against node ws (echo_node.js) and python websockets
//     (echo_python.py), each over ws and wss (test CA given as ca_file); server-fragmented messages; peer close
//     and dropped link
//   * opening-handshake failures from conformance_server.py /handshake/* asserting the typed Errc
//   * TLS: wrong host, untrusted CA, insecure_skip_verify, host name "localhost"
//   * DNS failure speed (skipped unless the resolver is on loopback: tests never leave 127.0.0.1)
//   * fault_proxy smoke tests (sliced/delayed link, reset, refused connections)
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "integration/support/process.hpp"
#include "integration/support/proxy.hpp"
#include "integration/support/ws_helpers.hpp"
#include "zenws/client.hpp"
#include "zenws/error.hpp"
#include "zenws/mock/certificate.hpp"

namespace zenws::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::string_view_literals;

// ---- TLS material (made with the mock library's certificate maker), once per process ------------------------
// A test CA and a localhost / 127.0.0.1 server certificate it signed; a certificate signed by the same CA for the
// WRONG host (wrong.example); an UNTRUSTED CA (never given to the client) and a localhost certificate it signed.
// PEM files in a temp dir (the node and python servers read files), removed at exit.

struct TestCerts {
    bool ok = false;
    std::string error;        // why generation failed
    std::string dir;
    std::string ca_cert;      // give this to the client as TlsOptions::ca_file
    std::string server_cert, server_key;              // localhost / 127.0.0.1, signed by ca_cert
    std::string wrong_host_cert, wrong_host_key;      // wrong.example, signed by ca_cert
    std::string untrusted_ca_cert;                    // a CA the client does not trust
    std::string untrusted_cert, untrusted_key;        // localhost / 127.0.0.1, signed by untrusted_ca_cert

    ~TestCerts() {
        std::error_code ec;
        if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
};

bool generate(TestCerts& c) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zenws-certs-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
        c.error = "mkdtemp failed";
        return false;
    }
    c.dir = tmpl;
    auto make = [&](const char* name, mock::CertificateKind kind, const char* cn, const char* sans,
                    const mock::Certificate* issuer, mock::Certificate* out, std::string* cert_path,
                    std::string* key_path) {
        mock::CertificateOptions o;
        o.kind = kind;
        o.common_name = cn;
        o.organization.clear();
        o.subject_alt_names = sans;
        o.valid_for = std::chrono::hours(72);
        auto made = mock::make_certificate(o, issuer);
        if (!made) {
            c.error = made.error().message;
            return false;
        }
        *out = std::move(made.value());
        std::string key_file = c.dir + "/" + name + ".key";
        *cert_path = c.dir + "/" + name + ".pem";
        if (auto st = mock::write_pem_files(*out, *cert_path, key_file); !st) {
            c.error = st.error().message;
            return false;
        }
        if (key_path) *key_path = key_file;
        return true;
    };
    using mock::CertificateKind;
    const char* local = "DNS:localhost,IP:127.0.0.1";
    mock::Certificate ca, untrusted_ca, leaf;
    return make("ca", CertificateKind::ca, "zenws test CA", "", nullptr, &ca, &c.ca_cert, nullptr) &&
           make("untrusted-ca", CertificateKind::ca, "zenws UNTRUSTED test CA", "", nullptr, &untrusted_ca,
                &c.untrusted_ca_cert, nullptr) &&
           make("server", CertificateKind::server, "localhost", local, &ca, &leaf, &c.server_cert, &c.server_key) &&
           make("wrong", CertificateKind::server, "wrong.example", "DNS:wrong.example", &ca, &leaf,
                &c.wrong_host_cert, &c.wrong_host_key) &&
           make("untrusted", CertificateKind::server, "localhost", local, &untrusted_ca, &leaf, &c.untrusted_cert,
                &c.untrusted_key);
}

// The process-wide certificates (generated on first call; thread-safe).
const TestCerts& test_certs() {
    static TestCerts certs;
    static std::once_flag once;
    std::call_once(once, [] { certs.ok = generate(certs); });
    return certs;
}

// ---- servers, started once per process on first use ----------------------------------------------------------

enum class Kind { node_ws, node_wss, python_ws, python_wss, conformance_ws, wrong_host_wss, untrusted_wss };

struct Servers {
    std::mutex mu;
    std::map<Kind, std::unique_ptr<ChildProcess>> procs;
    std::map<Kind, std::string> errors;
};

Servers& servers() {
    static Servers s;
    return s;
}

// Port of the server of this kind (0 + `error` when it cannot start).
std::uint16_t server_port(Kind kind, std::string* error) {
    auto& s = servers();
    std::lock_guard lk(s.mu);
    if (auto it = s.procs.find(kind); it != s.procs.end() && it->second) return it->second->port();
    if (auto it = s.errors.find(kind); it != s.errors.end()) {
        *error = it->second;
        return 0;
    }
    const TestCerts* certs = nullptr;
    if (kind == Kind::node_wss || kind == Kind::python_wss || kind == Kind::wrong_host_wss ||
        kind == Kind::untrusted_wss) {
        certs = &test_certs();
        if (!certs->ok) {
            s.errors[kind] = *error = "certificates: " + certs->error;
            return 0;
        }
    }
    std::string err;
    std::unique_ptr<ChildProcess> p;
    switch (kind) {
        case Kind::node_ws: p = start_node_server("echo_node.js", {}, &err); break;
        case Kind::node_wss:
            p = start_node_server("echo_node.js", {"--tls", certs->server_cert, certs->server_key}, &err);
            break;
        case Kind::python_ws: p = start_python_server("echo_python.py", {}, &err); break;
        case Kind::python_wss:
            p = start_python_server("echo_python.py", {"--tls", certs->server_cert, certs->server_key}, &err);
            break;
        case Kind::conformance_ws: p = start_python_server("conformance_server.py", {}, &err); break;
        case Kind::wrong_host_wss:
            p = start_python_server("conformance_server.py", {"--tls", certs->wrong_host_cert, certs->wrong_host_key},
                                    &err);
            break;
        case Kind::untrusted_wss:
            p = start_python_server("conformance_server.py", {"--tls", certs->untrusted_cert, certs->untrusted_key},
                                    &err);
            break;
    }
    if (!p) {
        s.errors[kind] = *error = err;
        return 0;
    }
    auto port = p->port();
    s.procs[kind] = std::move(p);
    return port;
}

// ---- echo against real peers ---------------------------------------------------------------------------------

struct Peer {
    const char* name;
    Kind kind;
    bool tls;
    bool node;
};

void PrintTo(const Peer& p, std::ostream* os) { *os << p.name; }

class Echo : public ::testing::TestWithParam<Peer> {
protected:
    std::string url(const std::string& path = "/") {
        std::string err;
        auto port = server_port(GetParam().kind, &err);
        if (port == 0) return "error: " + err;
        return std::string(GetParam().tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port) + path;
    }
    Config config() {
        Config cfg = single_shot_config(url());
        if (GetParam().tls) cfg.tls.ca_file = test_certs().ca_cert;
        return cfg;
    }
};

std::string text_payload(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i % 26));
    return s;
}
std::string binary_payload(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) & 0xFF);
    return s;
}

TEST_P(Echo, TextAndBinaryAllSizes) {
    Config cfg = config();
    ASSERT_EQ(cfg.url.rfind("error", 0), std::string::npos) << cfg.url;
    auto r = Client::connect(cfg);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    for (std::size_t n : {0ul, 1ul, 125ul, 126ul, 65535ul, 65536ul, 1ul << 20, 16ul << 20}) {
        for (bool text : {true, false}) {
            SCOPED_TRACE(std::string(text ? "text " : "binary ") + std::to_string(n) + " bytes");
            std::string payload = text ? text_payload(n) : binary_payload(n);
            auto st = text ? c.send_text(payload) : c.send_binary(payload);
            ASSERT_TRUE(st.ok()) << st.error().explain();
            auto m = c.receive(std::chrono::seconds(n > (1u << 20) ? 60 : 10));
            ASSERT_TRUE(m.has_value()) << "no echo; state " << to_string(c.state()) << ", last error "
                                       << c.last_error().explain();
            EXPECT_EQ(m->opcode, text ? Opcode::text : Opcode::binary);
            ASSERT_EQ(m->data.size(), payload.size());
            EXPECT_TRUE(m->data == payload) << "payload differs";
        }
    }
    EXPECT_TRUE(c.close_and_wait(std::chrono::seconds(3)));
}

TEST_P(Echo, FragmentedMessagesFromServer) {
    auto r = Client::connect(config());
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(c.send_text("!frag"sv).ok());
    auto m = c.receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->opcode, Opcode::text);
    EXPECT_EQ(m->data, "Hello, World");
    if (GetParam().node) {
        ASSERT_TRUE(c.send_text("!fragbin"sv).ok());
        m = c.receive(std::chrono::seconds(5));
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ(m->opcode, Opcode::binary);
        EXPECT_EQ(m->data, std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10));
    }
    c.close_and_wait(std::chrono::seconds(3));
}

TEST_P(Echo, PeerCloseWithCodeAndReason) {
    auto rec = std::make_shared<Recorder>();
    ASSERT_TRUE(rec->start(config())) << (rec->connect_error ? rec->connect_error->explain() : "timeout");
    {
        std::lock_guard lk(rec->mu);
        ASSERT_TRUE(rec->client->send_text("!close 4001 bye now"sv).ok());
    }
    ASSERT_TRUE(rec->wait_close(std::chrono::seconds(5)));
    EXPECT_EQ(rec->close->code, 4001);
    EXPECT_EQ(rec->close->reason, "bye now");
    EXPECT_TRUE(rec->close->by_peer);
    rec->detach();
}

TEST_P(Echo, DroppedLinkReports1006) {
    auto rec = std::make_shared<Recorder>();
    ASSERT_TRUE(rec->start(config())) << (rec->connect_error ? rec->connect_error->explain() : "timeout");
    {
        std::lock_guard lk(rec->mu);
        ASSERT_TRUE(rec->client->send_text("!drop"sv).ok());
    }
    ASSERT_TRUE(rec->wait_close(std::chrono::seconds(5)));
    EXPECT_EQ(rec->close->code, close_code::abnormal);
    rec->detach();
}

INSTANTIATE_TEST_SUITE_P(Peers, Echo,
                         ::testing::Values(Peer{"node_ws", Kind::node_ws, false, true},
                                           Peer{"node_wss", Kind::node_wss, true, true},
                                           Peer{"python_ws", Kind::python_ws, false, false},
                                           Peer{"python_wss", Kind::python_wss, true, false}),
                         [](const ::testing::TestParamInfo<Peer>& i) { return std::string(i.param.name); });

// ---- opening-handshake failures ------------------------------------------------------------------------------

class Handshake : public ::testing::Test {
protected:
    std::string url(const std::string& path) {
        std::string err;
        auto port = server_port(Kind::conformance_ws, &err);
        EXPECT_NE(port, 0) << err;
        return "ws://127.0.0.1:" + std::to_string(port) + path;
    }
    Error connect_error(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                        std::vector<std::string> subprotocols = {}) {
        Config cfg = single_shot_config(url(path), timeout);
        cfg.subprotocols = std::move(subprotocols);
        auto r = Client::connect(cfg);
        if (r.ok()) {
            r.value().close();
            return Error{};
        }
        return r.error();
    }
};

TEST_F(Handshake, Status503WithRetryAfterAndBody) {
    Error e = connect_error("/handshake/503");
    EXPECT_EQ(e.code, Errc::http_status) << e.explain();
    EXPECT_EQ(e.http_status, 503);
    ASSERT_TRUE(e.retry_after.has_value());
    EXPECT_EQ(*e.retry_after, 7);
    EXPECT_EQ(e.body_prefix.rfind("maintenance", 0), 0u) << "body prefix: " << e.body_prefix;
    EXPECT_TRUE(e.retryable());
}

TEST_F(Handshake, Status429) {
    Error e = connect_error("/handshake/429");
    EXPECT_EQ(e.code, Errc::http_status) << e.explain();
    EXPECT_EQ(e.http_status, 429);
    ASSERT_TRUE(e.retry_after.has_value());
    EXPECT_EQ(*e.retry_after, 3);
}

TEST_F(Handshake, BadAccept) {
    Error e = connect_error("/handshake/bad_accept");
    EXPECT_EQ(e.code, Errc::bad_accept) << e.explain();
}

TEST_F(Handshake, MissingUpgrade) {
    Error e = connect_error("/handshake/no_upgrade");
    EXPECT_EQ(e.code, Errc::missing_upgrade) << e.explain();
}

TEST_F(Handshake, MissingConnection) {
    Error e = connect_error("/handshake/no_connection");
    EXPECT_EQ(e.code, Errc::missing_connection) << e.explain();
}

TEST_F(Handshake, UnexpectedExtension) {
    Error e = connect_error("/handshake/extension");
    EXPECT_EQ(e.code, Errc::unexpected_extension) << e.explain();
}

TEST_F(Handshake, UnexpectedSubprotocol) {
    Error e = connect_error("/handshake/subprotocol");
    EXPECT_EQ(e.code, Errc::unexpected_subprotocol) << e.explain();
    e = connect_error("/handshake/subprotocol", std::chrono::seconds(5), {"chat1"});
    EXPECT_EQ(e.code, Errc::unexpected_subprotocol) << "offered chat1, server chose chat2: " << e.explain();
}

TEST_F(Handshake, OfferedSubprotocolAccepted) {
    Config cfg = single_shot_config(url("/handshake/subprotocol"));
    cfg.subprotocols = {"chat1", "chat2"};
    auto r = Client::connect(cfg);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    EXPECT_EQ(r.value().subprotocol(), "chat2");
    r.value().close_and_wait(std::chrono::seconds(2));
}

TEST_F(Handshake, Never101TimesOut) {
    auto t0 = Clock::now();
    Error e = connect_error("/handshake/never_101", std::chrono::milliseconds(500));
    auto took = Clock::now() - t0;
    EXPECT_EQ(e.code, Errc::connect_timeout) << e.explain();
    EXPECT_LT(took, std::chrono::seconds(3)) << "timeout was 500 ms";
}

TEST_F(Handshake, PiggybackedFrameDelivered) {
    auto r = Client::connect(single_shot_config(url("/handshake/piggyback")));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    auto m = c.receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value()) << "the text frame sent in the same write as the 101 was lost";
    EXPECT_EQ(m->opcode, Opcode::text);
    EXPECT_EQ(m->data, "hello");
    ASSERT_TRUE(c.send_text("after"sv).ok());
    m = c.receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, "after");
    c.close_and_wait(std::chrono::seconds(2));
}

TEST_F(Handshake, PlainEchoPath) {
    auto r = Client::connect(single_shot_config(url("/echo")));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(c.send_binary(std::string("\x00\xff", 2)).ok());
    auto m = c.receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->opcode, Opcode::binary);
    EXPECT_EQ(m->data, std::string("\x00\xff", 2));
    EXPECT_TRUE(c.close_and_wait(std::chrono::seconds(3)));
}

TEST_F(Handshake, OversizedMessageFailsWith1009) {
    auto rec = std::make_shared<Recorder>();
    Config cfg = single_shot_config(url("/echo"));
    cfg.max_message_size = 1000;
    ASSERT_TRUE(rec->start(cfg)) << (rec->connect_error ? rec->connect_error->explain() : "timeout");
    {
        std::lock_guard lk(rec->mu);
        ASSERT_TRUE(rec->client->send_text(std::string(2000, 'z')).ok());  // the server echoes 2000 bytes back
    }
    ASSERT_TRUE(rec->wait_close(std::chrono::seconds(5)));
    EXPECT_EQ(rec->close->code, close_code::message_too_big) << rec->close->reason;
    EXPECT_FALSE(rec->close->by_peer);
    rec->detach();
}

// ---- TLS -----------------------------------------------------------------------------------------------------

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

Result<Client> connect_tls(Kind kind, const std::string& host, bool with_ca, bool insecure = false) {
    std::string err;
    auto port = server_port(kind, &err);
    if (port == 0) return Error(Errc::transport_error, "server did not start: " + err);
    std::string path = (kind == Kind::node_wss || kind == Kind::python_wss) ? "/" : "/echo";
    Config cfg = single_shot_config("wss://" + host + ":" + std::to_string(port) + path);
    if (with_ca) cfg.tls.ca_file = test_certs().ca_cert;
    cfg.tls.insecure_skip_verify = insecure;
    return Client::connect(cfg);
}

TEST(Tls, WrongHostRejected) {
    ASSERT_TRUE(test_certs().ok) << test_certs().error;
    auto r = connect_tls(Kind::wrong_host_wss, "127.0.0.1", true);
    ASSERT_FALSE(r.ok()) << "a certificate for wrong.example was accepted for 127.0.0.1";
    const Error& e = r.error();
    EXPECT_EQ(e.code, Errc::tls_certificate_rejected) << e.explain();
    EXPECT_FALSE(e.tls_detail.empty()) << "no verification text";
    EXPECT_NE(lower(e.tls_detail + " " + e.message).find("mismatch"), std::string::npos)
        << "tls_detail: " << e.tls_detail << "; message: " << e.message;
    EXPECT_FALSE(e.retryable());
}

TEST(Tls, UntrustedCaRejected) {
    ASSERT_TRUE(test_certs().ok) << test_certs().error;
    auto r = connect_tls(Kind::untrusted_wss, "127.0.0.1", true);
    ASSERT_FALSE(r.ok()) << "a certificate from an untrusted CA was accepted";
    const Error& e = r.error();
    EXPECT_EQ(e.code, Errc::tls_certificate_rejected) << e.explain();
    EXPECT_FALSE(e.tls_detail.empty()) << "no verification text";
    EXPECT_NE(lower(e.tls_detail + " " + e.message).find("issuer"), std::string::npos)
        << "tls_detail: " << e.tls_detail << "; message: " << e.message;
}

TEST(Tls, SystemStoreDoesNotTrustTestCa) {
    ASSERT_TRUE(test_certs().ok) << test_certs().error;
    auto r = connect_tls(Kind::node_wss, "127.0.0.1", false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::tls_certificate_rejected) << r.error().explain();
}

TEST(Tls, InsecureSkipVerifyConnects) {
    ASSERT_TRUE(test_certs().ok) << test_certs().error;
    auto r = connect_tls(Kind::untrusted_wss, "127.0.0.1", false, true);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    ASSERT_TRUE(c.send_text("over tls"sv).ok());
    auto m = c.receive(std::chrono::seconds(5));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, "over tls");
    c.close_and_wait(std::chrono::seconds(2));
}

TEST(Tls, LocalhostNameVerified) {
    ASSERT_TRUE(test_certs().ok) << test_certs().error;
    auto r = connect_tls(Kind::python_wss, "localhost", true);
    ASSERT_TRUE(r.ok()) << r.error().explain();
    r.value().close_and_wait(std::chrono::seconds(2));
}

// DNS failure: see dns_failure_test.cpp (runs in a mount namespace whose resolver is on loopback).

// ---- fault proxy smoke tests ----------------------------------------------------------------------------------

std::unique_ptr<FaultProxy> proxy_to(Kind kind, std::string* err) {
    auto port = server_port(kind, err);
    if (port == 0) return nullptr;
    return FaultProxy::start("127.0.0.1", port, err);
}

TEST(FaultProxyLink, EchoThroughSlicedDelayedLink) {
    std::string err;
    auto proxy = proxy_to(Kind::node_ws, &err);
    ASSERT_TRUE(proxy) << err;
    ASSERT_TRUE(proxy->slice(7));
    ASSERT_TRUE(proxy->latency(50));
    auto r = Client::connect(single_shot_config("ws://127.0.0.1:" + std::to_string(proxy->port()) + "/"));
    ASSERT_TRUE(r.ok()) << r.error().explain();
    Client c = r.value();
    std::string payload = text_payload(70000);
    auto t0 = Clock::now();
    ASSERT_TRUE(c.send_text(payload).ok());
    auto m = c.receive(std::chrono::seconds(20));
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->data == payload);
    EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(100)) << "latency 50 ms each way was not applied";
    EXPECT_EQ(proxy->count(), 1);
    EXPECT_EQ(proxy->active(), 1);
    c.close_and_wait(std::chrono::seconds(3));
}

TEST(FaultProxyLink, ResetReports1006) {
    std::string err;
    auto proxy = proxy_to(Kind::node_ws, &err);
    ASSERT_TRUE(proxy) << err;
    auto rec = std::make_shared<Recorder>();
    ASSERT_TRUE(rec->start(single_shot_config("ws://127.0.0.1:" + std::to_string(proxy->port()) + "/")));
    ASSERT_TRUE(proxy->reset());
    ASSERT_TRUE(rec->wait_close(std::chrono::seconds(5)));
    EXPECT_EQ(rec->close->code, close_code::abnormal);
    rec->detach();
}

TEST(FaultProxyLink, RefusedConnectionFailsConnect) {
    std::string err;
    auto proxy = proxy_to(Kind::node_ws, &err);
    ASSERT_TRUE(proxy) << err;
    ASSERT_TRUE(proxy->refuse(true));
    auto t0 = Clock::now();
    auto r = Client::connect(single_shot_config("ws://127.0.0.1:" + std::to_string(proxy->port()) + "/"));
    ASSERT_FALSE(r.ok());
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(4)) << r.error().explain();
    EXPECT_TRUE(r.error().retryable()) << r.error().explain();
    EXPECT_GE(proxy->count(), 1);
}

}  // namespace
}  // namespace zenws::test
