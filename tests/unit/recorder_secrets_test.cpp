// recorder_secrets_test.cpp — owns the tests of what RecordWriter keeps private: secret JSON members redacted in text
// frames before they reach the file (both record() overloads, default and custom redact_fields, an empty list
// recording verbatim, binary frames untouched) and the recording file's mode 0600 whatever the umask.
#include "zenws/recorder.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "zenws/json_scan.hpp"

namespace {

using zenws::RecordDirection;
using zenws::RecordEntry;
using zenws::RecordType;
namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        dir_ = fs::temp_directory_path() /
               ("zenws_recsec_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)));
        fs::create_directories(dir_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string file(const std::string& name) const { return (dir_ / name).string(); }

private:
    fs::path dir_;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<RecordEntry> entries(const std::string& path) {
    std::vector<RecordEntry> got;
    auto r = zenws::replay_recording(path, [&](const RecordEntry& e) { got.push_back(e); });
    EXPECT_TRUE(r.ok());
    if (r.ok()) EXPECT_EQ(r.value().skipped, 0u);
    return got;
}

// Restores the umask on scope exit.
struct UmaskGuard {
    explicit UmaskGuard(mode_t m) : old(::umask(m)) {}
    ~UmaskGuard() { ::umask(old); }
    mode_t old;
};

const std::string auth_request =
    R"({"jsonrpc":"2.0","id":1,"method":"public/auth","params":{"grant_type":"client_credentials",)"
    R"("client_id":"cid","client_secret":"S3CR3T-unit-1"}})";
const std::string auth_reply =
    R"({"jsonrpc":"2.0","id":1,"result":{"access_token":"AT-unit-2","expires_in":900,"refresh_token":"RT-unit-3"}})";

TEST(RecordWriterSecrets, SecretFieldsAreRedactedBeforeTheFile) {
    TempDir dir;
    const auto path = dir.file("s.jsonl");
    {
        zenws::RecordWriter w;
        ASSERT_TRUE(w.open(path).ok());
        w.record(RecordDirection::out, RecordType::text, auth_request);
        w.record(RecordDirection::in, RecordType::text, auth_reply);
        RecordEntry e;
        e.ts = std::chrono::system_clock::now();
        e.dir = RecordDirection::out;
        e.type = RecordType::text;
        e.data = R"({"method":"private/buy","params":{"access_token":"AT-unit-4","amount":10}})";
        w.record(e);
        w.record(RecordDirection::in, RecordType::text, R"({"method":"subscription","params":{"data":[1]}})");
        ASSERT_TRUE(w.close().ok());
    }
    const std::string file = read_all(path);
    for (const char* secret : {"S3CR3T-unit-1", "AT-unit-2", "RT-unit-3", "AT-unit-4"})
        EXPECT_EQ(file.find(secret), std::string::npos) << secret << " leaked:\n" << file;
    const auto got = entries(path);
    ASSERT_EQ(got.size(), 4u);
    for (const auto& e : got) EXPECT_TRUE(zenws::is_valid_json(e.data)) << e.data;
    EXPECT_NE(got[0].data.find(R"("client_secret":"[REDACTED]")"), std::string::npos) << got[0].data;
    EXPECT_NE(got[0].data.find(R"("client_id":"cid")"), std::string::npos) << got[0].data;
    EXPECT_NE(got[1].data.find(R"("access_token":"[REDACTED]")"), std::string::npos) << got[1].data;
    EXPECT_NE(got[1].data.find(R"("expires_in":900)"), std::string::npos) << got[1].data;
    EXPECT_NE(got[2].data.find(R"("amount":10)"), std::string::npos) << got[2].data;
    EXPECT_EQ(got[3].data, R"({"method":"subscription","params":{"data":[1]}})");  // no secret: verbatim
}

TEST(RecordWriterSecrets, RedactFieldsAreConfigurable) {
    TempDir dir;
    const auto custom_path = dir.file("custom.jsonl");
    const auto verbatim_path = dir.file("verbatim.jsonl");
    const std::string text = R"({"otp":"998877","client_secret":"S3CR3T-unit-5"})";
    {
        zenws::RecordWriterOptions o;
        o.redact_fields = {"otp"};
        zenws::RecordWriter w(o);
        ASSERT_TRUE(w.open(custom_path).ok());
        w.record(RecordDirection::out, RecordType::text, text);
        ASSERT_TRUE(w.close().ok());
    }
    {
        zenws::RecordWriterOptions o;
        o.redact_fields.clear();  // record everything as sent
        zenws::RecordWriter w(o);
        ASSERT_TRUE(w.open(verbatim_path).ok());
        w.record(RecordDirection::out, RecordType::text, text);
        ASSERT_TRUE(w.close().ok());
    }
    auto custom = entries(custom_path);
    ASSERT_EQ(custom.size(), 1u);
    EXPECT_EQ(custom[0].data, R"({"otp":"[REDACTED]","client_secret":"S3CR3T-unit-5"})");
    auto verbatim = entries(verbatim_path);
    ASSERT_EQ(verbatim.size(), 1u);
    EXPECT_EQ(verbatim[0].data, text);
}

TEST(RecordWriterSecrets, BinaryFramesAreRecordedAsSent) {
    TempDir dir;
    const auto path = dir.file("bin.jsonl");
    const std::string bytes = R"({"password":"raw"})";
    {
        zenws::RecordWriter w;
        ASSERT_TRUE(w.open(path).ok());
        w.record(RecordDirection::in, RecordType::binary, bytes);
        ASSERT_TRUE(w.close().ok());
    }
    auto got = entries(path);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].data, bytes);  // binary payloads are opaque: not parsed, not altered
}

TEST(RecordWriterSecrets, RecordingFileHasMode0600WhateverTheUmask) {
    TempDir dir;
    UmaskGuard permissive(0);  // would give 0666 to a file created with the usual 0666/0644
    const auto fresh = dir.file("fresh.jsonl");
    {
        zenws::RecordWriter w;
        ASSERT_TRUE(w.open(fresh).ok());
        w.record(RecordDirection::out, RecordType::text, "x");
        ASSERT_TRUE(w.close().ok());
    }
    struct stat st {};
    ASSERT_EQ(::stat(fresh.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);

    // An existing world-readable file is truncated AND tightened.
    const auto existing = dir.file("existing.jsonl");
    { std::ofstream(existing) << "old\n"; }
    ASSERT_EQ(::chmod(existing.c_str(), 0644), 0);
    {
        zenws::RecordWriter w;
        ASSERT_TRUE(w.open(existing).ok());
        ASSERT_TRUE(w.close().ok());
    }
    ASSERT_EQ(::stat(existing.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
    EXPECT_EQ(read_all(existing), "");
}

}  // namespace
