// error_texts_test.cpp — owns the tests of error texts that used to mislead: a 1009 caused by our own
// max_message_size (decoder reason and explain() name the limit, not a server fault), a missing recording file
// (a file, not a client handle), and transport suggestions that do not promise a reconnect retry_count may forbid.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "zenws/error.hpp"
#include "zenws/frame.hpp"
#include "zenws/recorder.hpp"

namespace {

using zenws::Errc;
using zenws::Error;

struct NoEvents : zenws::FrameEvents {
    void on_message(zenws::Opcode, std::string_view) override {}
    void on_ping(std::string_view) override {}
    void on_pong(std::string_view) override {}
    void on_close(std::uint16_t, std::string_view) override {}
};

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

TEST(ErrorTexts, DecoderReasonFor1009NamesOurLimitAndTheSize) {
    zenws::FrameDecoder decoder(zenws::DecoderLimits{100});
    NoEvents events;
    const std::uint8_t header[] = {0x82, 126, 0x01, 0x2c};  // FIN binary, 16-bit length 300
    decoder.feed(header, sizeof header, events);
    ASSERT_TRUE(decoder.failed());
    EXPECT_EQ(decoder.fail_code(), 1009);
    EXPECT_EQ(decoder.fail_reason(), "message of 300 bytes exceeds max_message_size (100 bytes)");
    EXPECT_LE(decoder.fail_reason().size(), 123u) << "it is also the close reason";
}

TEST(ErrorTexts, MessageTooBigBlamesTheConfiguredLimitNotTheServer) {
    // As the connection builds it (session.cpp fail_protocol): a generic lead-in plus the decoder's reason.
    const std::string reason = "message of 300 bytes exceeds max_message_size (100 bytes)";
    Error e(Errc::message_too_big, "server violated RFC 6455: " + reason);
    e.close_code = 1009;
    e.close_reason = reason;
    const std::string text = e.explain();
    EXPECT_FALSE(contains(text, "violated")) << text;
    EXPECT_TRUE(contains(text, "max_message_size (100 bytes)")) << text;
    EXPECT_TRUE(contains(text, "1009")) << text;
    EXPECT_EQ(text.find(reason), text.rfind(reason)) << "the reason is shown once: " << text;
    // Protocol violations that ARE the server's stay attributed to it.
    Error p(Errc::protocol_violation, "server violated RFC 6455: masked frame from the server");
    EXPECT_TRUE(contains(p.explain(), "server")) << p.explain();
}

TEST(ErrorTexts, MissingRecordingSaysTheFileCannotBeOpened) {
    auto r = zenws::replay_recording("/nonexistent-dir-zenws/missing.jsonl", nullptr);
    ASSERT_FALSE(r.ok());
    const std::string text = r.error().explain();
    EXPECT_TRUE(contains(text, "cannot open recording /nonexistent-dir-zenws/missing.jsonl")) << text;
    EXPECT_TRUE(contains(text, "No such file or directory")) << text;
    EXPECT_FALSE(contains(text, "handle")) << text;
    EXPECT_FALSE(contains(text, "client")) << text;
    // A client-handle not_found keeps its own suggestion.
    EXPECT_TRUE(contains(Error(Errc::not_found, "client 3 is not supervised here").explain(), "handle"));
}

TEST(ErrorTexts, TransportSuggestionsDoNotPromiseAReconnect) {
    for (Errc code :
         {Errc::eof_without_close, Errc::connection_reset, Errc::transport_error, Errc::heartbeat_timeout}) {
        const std::string text = Error(code, "lost").explain();
        SCOPED_TRACE(text);
        EXPECT_FALSE(contains(text, "reconnects automatically"));
        EXPECT_FALSE(contains(text, "the error is retried"));
        EXPECT_FALSE(contains(text, "closes and reconnects"));
    }
    EXPECT_TRUE(contains(Error(Errc::eof_without_close, "lost").explain(), "retry_count"));
}

}  // namespace
