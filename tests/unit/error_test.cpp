// error_test.cpp — owns the unit tests of zenws::Error (zenws/error.hpp): the category and retryable table for
// every Errc, names, config_error() and the facts explain() must mention.
#include "zenws/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace {

using zenws::Errc;
using zenws::Error;
using zenws::ErrorCategory;
namespace zen = zenws;

struct Row {
    Errc code;
    ErrorCategory category;
    bool retryable;  // with no extra facts (http_status 0, close_code 0)
};

// The expected classification of every code, from the contracts in error.hpp.
const std::vector<Row>& table() {
    using C = ErrorCategory;
    static const std::vector<Row> rows{
        {Errc::ok, C::none, false},
        {Errc::invalid_config, C::config, false},
        {Errc::dns_failure, C::transport, true},
        {Errc::connection_refused, C::transport, true},
        {Errc::connection_reset, C::transport, true},
        {Errc::network_unreachable, C::transport, true},
        {Errc::eof_without_close, C::transport, true},
        {Errc::transport_error, C::transport, true},
        {Errc::tls_handshake_failed, C::tls, true},
        {Errc::tls_certificate_rejected, C::tls, false},
        {Errc::tls_setup_failed, C::tls, false},
        {Errc::http_status, C::handshake, false},  // depends on the status, see below
        {Errc::bad_accept, C::handshake, false},
        {Errc::missing_upgrade, C::handshake, false},
        {Errc::missing_connection, C::handshake, false},
        {Errc::unexpected_extension, C::handshake, false},
        {Errc::unexpected_subprotocol, C::handshake, false},
        {Errc::malformed_response, C::handshake, true},
        {Errc::response_too_large, C::handshake, false},
        // Raised when the server broke RFC 6455: a fresh connection is tried (under the flap guard).
        {Errc::protocol_violation, C::protocol, true},
        {Errc::invalid_utf8, C::protocol, true},
        {Errc::message_too_big, C::protocol, true},
        {Errc::connect_timeout, C::timeout, true},
        {Errc::request_timeout, C::timeout, true},
        {Errc::close_timeout, C::timeout, true},
        {Errc::heartbeat_timeout, C::timeout, true},
        {Errc::closed_by_peer, C::closed, true},  // no close code (0): the link just ended
        {Errc::closed_by_user, C::closed, false},
        {Errc::not_connected, C::not_connected, true},
        {Errc::queue_full, C::not_connected, true},
        {Errc::rate_limited, C::rate_limited, true},
        {Errc::auth_failed, C::auth, false},
        {Errc::disconnected, C::request, true},
        {Errc::duplicate_request_id, C::request, false},
        {Errc::rpc_error, C::request, false},
        {Errc::no_connections, C::pool, false},
        {Errc::retries_exhausted, C::pool, false},
        {Errc::not_found, C::pool, false},
        // A user callback threw while handling a message or a request completion.
        {Errc::handler_exception, C::request, false},
        {Errc::invalid_request, C::request, false},
        {Errc::runtime_stopped, C::not_connected, false},
    };
    return rows;
}

constexpr auto last_code = static_cast<std::uint16_t>(Errc::runtime_stopped);

TEST(Error, TableCoversEveryCode) {
    ASSERT_EQ(table().size(), static_cast<std::size_t>(last_code) + 1);
    for (std::size_t i = 0; i < table().size(); ++i)
        EXPECT_EQ(static_cast<std::size_t>(table()[i].code), i) << "table out of order at " << i;
    // A code added after runtime_stopped without updating to_string() / this table shows up here.
    EXPECT_EQ(zen::to_string(static_cast<Errc>(last_code + 1)), "unknown")
        << "a new Errc was added: extend error_test's table";
}

TEST(Error, CategoryOfEveryCode) {
    for (const auto& row : table()) {
        Error e(row.code, "x");
        EXPECT_EQ(e.category(), row.category)
            << zen::to_string(row.code) << " is " << zen::to_string(e.category()) << ", expected "
            << zen::to_string(row.category);
    }
}

TEST(Error, RetryableOfEveryCode) {
    for (const auto& row : table()) {
        Error e(row.code, "x");
        EXPECT_EQ(e.retryable(), row.retryable) << zen::to_string(row.code);
    }
}

TEST(Error, NamesAreUniqueAndMatchTheEnumerator) {
    std::set<std::string_view> seen;
    for (const auto& row : table()) {
        Error e(row.code, "");
        auto n = e.name();
        EXPECT_NE(n, "unknown");
        EXPECT_EQ(n, zen::to_string(row.code));
        EXPECT_TRUE(seen.insert(n).second) << "duplicate name " << n;
    }
    EXPECT_EQ(zen::to_string(Errc::connection_refused), "connection_refused");
    EXPECT_EQ(zen::to_string(Errc::closed_by_peer), "closed_by_peer");
}

TEST(Error, CategoryNames) {
    std::set<std::string_view> seen;
    for (int i = 0; i <= static_cast<int>(ErrorCategory::pool); ++i) {
        auto n = zen::to_string(static_cast<ErrorCategory>(i));
        EXPECT_NE(n, "unknown") << i;
        EXPECT_TRUE(seen.insert(n).second) << n;
    }
    EXPECT_EQ(zen::to_string(ErrorCategory::tls), "tls");
    EXPECT_EQ(zen::to_string(ErrorCategory::config), "config");
}

TEST(Error, BoolConversion) {
    EXPECT_FALSE(static_cast<bool>(Error{}));
    EXPECT_TRUE(static_cast<bool>(Error(Errc::connection_refused, "refused")));
    EXPECT_EQ(Error{}.category(), ErrorCategory::none);
    EXPECT_FALSE(Error{}.retryable());
}

TEST(Error, HttpStatusRetryableDependsOnTheStatus) {
    for (int status : {500, 502, 503, 504, 429, 408}) {
        Error e(Errc::http_status, "status");
        e.http_status = status;
        EXPECT_TRUE(e.retryable()) << status;
    }
    for (int status : {400, 401, 403, 404, 426, 301, 200}) {
        Error e(Errc::http_status, "status");
        e.http_status = status;
        EXPECT_FALSE(e.retryable()) << status;
    }
}

TEST(Error, ClosedByPeerRetryableDependsOnTheCloseCode) {
    for (int code : {1000, 1001, 1006, 1011, 1012, 1013, 1014, 4000, 4999}) {
        Error e(Errc::closed_by_peer, "closed");
        e.close_code = static_cast<std::uint16_t>(code);
        EXPECT_TRUE(e.retryable()) << code;
    }
    for (int code : {1002, 1003, 1007, 1008, 1009, 1010}) {
        Error e(Errc::closed_by_peer, "closed");
        e.close_code = static_cast<std::uint16_t>(code);
        EXPECT_FALSE(e.retryable()) << code;
    }
}

TEST(Error, ConfigErrorNamesTheField) {
    auto e = zen::config_error("heartbeat.failure_threshold", "must be >= 1, got 0");
    EXPECT_EQ(e.code, Errc::invalid_config);
    EXPECT_EQ(e.field, "heartbeat.failure_threshold");
    EXPECT_EQ(e.category(), ErrorCategory::config);
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(e.message.find("heartbeat.failure_threshold"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("got 0"), std::string::npos) << e.message;
    const auto text = e.explain();
    EXPECT_NE(text.find("heartbeat.failure_threshold"), std::string::npos) << text;
    EXPECT_NE(text.find("got 0"), std::string::npos) << text;
}

TEST(Error, ExplainHttpStatusMentionsStatusAndRetryAfter) {
    for (int status : {429, 503}) {
        Error e(Errc::http_status, "upgrade rejected");
        e.http_status = status;
        e.http_reason = status == 429 ? "Too Many Requests" : "Service Unavailable";
        e.retry_after = 30;
        const auto text = e.explain();
        EXPECT_NE(text.find(std::to_string(status)), std::string::npos) << text;
        EXPECT_NE(text.find("Retry-After"), std::string::npos) << text;
        EXPECT_NE(text.find("30"), std::string::npos) << text;
    }
    Error forbidden(Errc::http_status, "upgrade rejected");
    forbidden.http_status = 403;
    const auto text = forbidden.explain();
    EXPECT_NE(text.find("403"), std::string::npos) << text;
    EXPECT_NE(text.find("credentials"), std::string::npos) << text;
}

TEST(Error, ExplainClosedByPeerMentionsTheCloseCode) {
    Error e(Errc::closed_by_peer, "server closed the connection");
    e.close_code = 1001;
    e.close_reason = "going away";
    const auto text = e.explain();
    EXPECT_NE(text.find("1001"), std::string::npos) << text;
    EXPECT_NE(text.find("going away"), std::string::npos) << text;
}

TEST(Error, ExplainTlsDetailShownOnce) {
    Error e(Errc::tls_certificate_rejected, "certificate verify failed");
    e.tls_detail = "self-signed certificate";
    auto text = e.explain();
    EXPECT_NE(text.find("self-signed certificate"), std::string::npos) << text;
    EXPECT_NE(text.find("tls.ca_file"), std::string::npos) << text;
    Error twice(Errc::tls_handshake_failed, "handshake failed: wrong version number");
    twice.tls_detail = "wrong version number";
    text = twice.explain();
    EXPECT_EQ(text.find("wrong version number"), text.rfind("wrong version number")) << text;
}

TEST(Error, ExplainIsNeverEmptyAndStartsWithTheMessage) {
    for (const auto& row : table()) {
        Error e(row.code, "the-message");
        const auto text = e.explain();
        EXPECT_FALSE(text.empty()) << zen::to_string(row.code);
        if (row.code != Errc::ok) EXPECT_EQ(text.rfind("the-message", 0), 0u) << text;
        // Without a message the code's name stands in.
        Error bare(row.code, "");
        if (row.code != Errc::ok)
            EXPECT_NE(bare.explain().find(zen::to_string(row.code)), std::string::npos) << bare.explain();
    }
    EXPECT_EQ(Error{}.explain(), "no error");
}

TEST(Error, ResultCarriesValueOrError) {
    zen::Result<int> good(5);
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(good.value(), 5);
    zen::Result<int> bad(Error(Errc::not_connected, "down"));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::not_connected);
    zen::Status ok;
    EXPECT_TRUE(ok.ok());
    zen::Status failed(Error(Errc::queue_full, "full"));
    EXPECT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().category(), ErrorCategory::not_connected);
}

}  // namespace
