// redact_test.cpp — owns the unit tests of JsonRedactor (zenws/redact.hpp): the default secret fields, nested
// objects (Deribit params / result), escaped quotes, non-string values, embedded JSON strings, the pre-check that
// leaves messages without a secret field alone, custom and empty field lists, and that the output stays valid JSON.
#include "zenws/redact.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "zenws/json_scan.hpp"

namespace {

using zenws::JsonRedactor;

bool contains(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

TEST(JsonRedactor, DeribitAuthRequestAndReplyLoseTheirSecrets) {
    const JsonRedactor r;
    const std::string request =
        R"({"jsonrpc":"2.0","id":7,"method":"public/auth","params":{"grant_type":"client_credentials",)"
        R"("client_id":"my_client","client_secret":"S3CR3T-abc"}})";
    const std::string out = r.redacted(request);
    EXPECT_FALSE(contains(out, "S3CR3T")) << out;
    EXPECT_EQ(out, R"({"jsonrpc":"2.0","id":7,"method":"public/auth","params":{"grant_type":"client_credentials",)"
                   R"("client_id":"my_client","client_secret":"[REDACTED]"}})");
    EXPECT_TRUE(zenws::is_valid_json(out));

    const std::string reply =
        R"({"jsonrpc":"2.0","id":7,"result":{"access_token":"AT-123","expires_in":900,)"
        R"("refresh_token":"RT-456","scope":"session:x","token_type":"bearer"}})";
    const std::string out2 = r.redacted(reply);
    EXPECT_FALSE(contains(out2, "AT-123")) << out2;
    EXPECT_FALSE(contains(out2, "RT-456")) << out2;
    EXPECT_TRUE(contains(out2, R"("expires_in":900)")) << out2;      // not a secret
    EXPECT_TRUE(contains(out2, R"("token_type":"bearer")")) << out2;  // names match exactly, not by prefix
    EXPECT_TRUE(zenws::is_valid_json(out2));

    const std::string signature =
        R"({"method":"public/auth","params":{"grant_type":"client_signature","client_id":"c","timestamp":1,)"
        R"("signature":"deadbeef","nonce":"n"}})";
    EXPECT_FALSE(contains(r.redacted(signature), "deadbeef"));
    const std::string refresh =
        R"({"method":"public/auth","params":{"grant_type":"refresh_token","refresh_token":"RT-9"}})";
    const std::string out3 = r.redacted(refresh);
    EXPECT_FALSE(contains(out3, "RT-9")) << out3;
    EXPECT_TRUE(contains(out3, R"("grant_type":"refresh_token")")) << out3;  // a value equal to a field name stays
}

TEST(JsonRedactor, EveryDefaultFieldIsRedacted) {
    const JsonRedactor r;
    for (const auto& f : zenws::default_redact_fields()) {
        SCOPED_TRACE(f);
        const std::string text = R"({"a":{"b":[{")" + f + R"(":"VALUE-xyz"}]}})";
        const std::string out = r.redacted(text);
        EXPECT_FALSE(contains(out, "VALUE-xyz")) << out;
        EXPECT_TRUE(zenws::is_valid_json(out)) << out;
    }
    // The ones the brief names, spelled as exchanges do.
    for (const char* f : {"client_secret", "access_token", "refresh_token", "signature", "password", "api_key",
                          "apiKey", "secret", "token", "listenKey", "listen_key", "passphrase", "key"}) {
        SCOPED_TRACE(f);
        EXPECT_FALSE(contains(r.redacted(std::string(R"({")") + f + R"(":"V-1"})"), "V-1"));
    }
}

TEST(JsonRedactor, NamesCompareCaseInsensitively) {
    const JsonRedactor r;
    EXPECT_EQ(r.redacted(R"({"APIKEY":"k1","Password":"p1","X":"keep"})"),
              R"({"APIKEY":"[REDACTED]","Password":"[REDACTED]","X":"keep"})");
}

TEST(JsonRedactor, EscapedQuotesInsideValuesDoNotConfuseTheScanner) {
    const JsonRedactor r;
    // A value with escaped quotes around a field name (not a member: no ':' follows), then a secret with escapes.
    const std::string text = R"({"note":"say \"password\" twice","password":"p\"w\\d","after":"kept"})";
    const std::string out = r.redacted(text);
    EXPECT_EQ(out, R"({"note":"say \"password\" twice","password":"[REDACTED]","after":"kept"})");
    EXPECT_TRUE(zenws::is_valid_json(out));
    // The secret value itself holds an escaped quote then a comma: the whole string goes.
    EXPECT_EQ(r.redacted(R"({"secret":"a\",\"b","x":1})"), R"({"secret":"[REDACTED]","x":1})");
}

TEST(JsonRedactor, NonStringValuesAreRedactedToo) {
    const JsonRedactor r;
    EXPECT_EQ(r.redacted(R"({"key":123456,"id":1})"), R"({"key":"[REDACTED]","id":1})");
    EXPECT_EQ(r.redacted(R"({"key":-1.5e3})"), R"({"key":"[REDACTED]"})");
    EXPECT_EQ(r.redacted(R"({"token":{"a":"x","b":[1,"}"]},"id":2})"), R"({"token":"[REDACTED]","id":2})");
    EXPECT_EQ(r.redacted(R"({"token":["t1","t2"]})"), R"({"token":"[REDACTED]"})");
    // null / booleans carry no secret and stay as they are.
    EXPECT_EQ(r.redacted(R"({"token":null,"secret":false})"), R"({"token":null,"secret":false})");
    // Whitespace around ':' and values.
    const std::string spaced = "{ \"password\" :\n \"pw\" , \"x\" : 1 }";
    EXPECT_EQ(r.redacted(spaced), "{ \"password\" :\n \"[REDACTED]\" , \"x\" : 1 }");
}

TEST(JsonRedactor, SecretsInsideEmbeddedJsonStringsAreRedacted) {
    const JsonRedactor r;
    const std::string text = R"({"payload":"{\"op\":\"login\",\"password\":\"hunter2\"}","id":3})";
    const std::string out = r.redacted(text);
    EXPECT_FALSE(contains(out, "hunter2")) << out;
    EXPECT_TRUE(contains(out, R"(\"op\":\"login\")")) << out;
    EXPECT_TRUE(zenws::is_valid_json(out)) << out;
}

TEST(JsonRedactor, TopLevelArraysAndMalformedTextAreHandled) {
    const JsonRedactor r;
    EXPECT_EQ(r.redacted(R"([{"token":"a"},{"token":"b"}])"), R"([{"token":"[REDACTED]"},{"token":"[REDACTED]"}])");
    // Not valid JSON (truncated): the secret still goes.
    EXPECT_FALSE(contains(r.redacted(R"({"params":{"client_secret":"S3CR3T-cut)"), "S3CR3T"));
    EXPECT_FALSE(contains(r.redacted(R"({"password":unquoted-secret,"x":1})"), "unquoted-secret"));
}

TEST(JsonRedactor, MessagesWithoutASecretFieldAreLeftAlone) {
    const JsonRedactor r;
    const std::string plain = R"({"jsonrpc":"2.0","method":"subscription","params":{"channel":"book","data":[1,2]}})";
    EXPECT_FALSE(r.may_contain_secret(plain));
    std::string out = "untouched";
    EXPECT_FALSE(r.redact(plain, out));
    EXPECT_EQ(out, "untouched");  // nothing copied
    // A field name as a mere substring of another name does not count, and non-JSON text passes.
    EXPECT_FALSE(r.may_contain_secret(R"({"keyboard":1,"tokens_left":2})"));
    EXPECT_FALSE(r.redact("hello key token", out));
    // The name appears but only as a value: pre-check says maybe, the scan finds nothing to change.
    const std::string value_only = R"({"grant_type":"refresh_token"})";
    EXPECT_TRUE(r.may_contain_secret(value_only));
    EXPECT_FALSE(r.redact(value_only, out));
    EXPECT_EQ(r.redacted(value_only), value_only);
}

TEST(JsonRedactor, CustomAndEmptyFieldLists) {
    const JsonRedactor custom({"otp"});
    EXPECT_EQ(custom.redacted(R"({"otp":"123456","password":"pw"})"), R"({"otp":"[REDACTED]","password":"pw"})");
    const JsonRedactor none(std::vector<std::string>{});
    EXPECT_TRUE(none.empty());
    const std::string text = R"({"password":"pw"})";
    EXPECT_FALSE(none.may_contain_secret(text));
    EXPECT_EQ(none.redacted(text), text);
}

}  // namespace
