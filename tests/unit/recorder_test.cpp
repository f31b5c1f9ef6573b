// recorder_test.cpp — owns the tests of the recording format (format/parse, base64, timestamps), the readers
// (replay_recording, recording_metadata), RecordWriter and its crash flush (forked children that die without
// flushing).
#include "zenws/recorder.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using zenws::RecordDirection;
using zenws::RecordEntry;
using zenws::RecordErrc;
using zenws::RecordType;
namespace fs = std::filesystem;

system_clock::time_point at(int y, unsigned mo, unsigned d, int h, int mi, int s, long us) {
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} + microseconds{us};
}

std::string all_bytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
}

// A fresh directory per test, removed afterwards.
class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        dir_ = fs::temp_directory_path() /
               ("zenws_rec_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)));
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

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

RecordEntry round_trip(const RecordEntry& e) {
    auto line = zenws::format_record_line(e);
    EXPECT_EQ(line.find('\n'), std::string::npos) << "a record must be one line";
    auto parsed = zenws::parse_record_line(line);
    EXPECT_TRUE(parsed.ok()) << line << " -> " << parsed.error().message;
    return parsed.ok() ? parsed.value() : RecordEntry{};
}

// ---- base64 ----------------------------------------------------------------------------------------------------

TEST(RecorderBase64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (auto [plain, encoded] : vectors) {
        EXPECT_EQ(zenws::base64_encode(plain), encoded);
        auto back = zenws::base64_decode(encoded);
        ASSERT_TRUE(back.has_value()) << encoded;
        EXPECT_EQ(*back, plain);
    }
}

TEST(RecorderBase64, AllByteValuesRoundTrip) {
    const std::string bytes = all_bytes();
    for (std::size_t len = 0; len <= bytes.size(); len += 37) {
        auto sub = bytes.substr(bytes.size() - len);
        auto back = zenws::base64_decode(zenws::base64_encode(sub));
        ASSERT_TRUE(back.has_value()) << len;
        EXPECT_EQ(*back, sub);
    }
    EXPECT_EQ(*zenws::base64_decode(zenws::base64_encode(bytes)), bytes);
}

TEST(RecorderBase64, RejectsInvalidInput) {
    for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm=v", "Zh==", "Zm9=", "Zm 9v", "===="})
        EXPECT_FALSE(zenws::base64_decode(bad).has_value()) << bad;
}

// ---- timestamps ------------------------------------------------------------------------------------------------

TEST(RecorderTimestamp, FormatsMicrosecondsUtc) {
    EXPECT_EQ(zenws::format_record_timestamp(at(2026, 11, 22, 3, 4, 5, 123456)), "2026-11-22T03:04:05.123456Z");
    EXPECT_EQ(zenws::format_record_timestamp(at(1970, 1, 1, 0, 0, 0, 0)), "1970-01-01T00:00:00.000000Z");
    // Sub-microsecond parts are truncated.
    EXPECT_EQ(zenws::format_record_timestamp(at(2024, 2, 29, 23, 59, 59, 999999) + 999ns),
              "2024-02-29T23:59:59.999999Z");
}

TEST(RecorderTimestamp, ParsesAndRejects) {
    EXPECT_EQ(zenws::parse_record_timestamp("2026-11-22T03:04:05.123456Z"), at(2026, 11, 22, 3, 4, 5, 123456));
    EXPECT_EQ(zenws::parse_record_timestamp("2026-11-22T03:04:05Z"), at(2026, 11, 22, 3, 4, 5, 0));
    EXPECT_EQ(zenws::parse_record_timestamp("2026-11-22T03:04:05.5Z"), at(2026, 11, 22, 3, 4, 5, 500000));
    EXPECT_EQ(zenws::parse_record_timestamp("2026-11-22T03:04:05.123456789Z"), at(2026, 11, 22, 3, 4, 5, 123456));
    for (const char* bad : {"", "2026-11-22", "2026-11-22T03:04:05", "2026-11-22T03:04:05.Z", "2026-02-30T00:00:00Z",
                            "2026-13-01T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T03:60:00Z",
                            "2026-11-22 03:04:05Z", "2026-11-22T03:04:05.1234567890Z", "2026-11-22T03:04:05Zx",
                            "20x6-11-22T03:04:05Z"})
        EXPECT_FALSE(zenws::parse_record_timestamp(bad).has_value()) << bad;
}

// ---- format / parse --------------------------------------------------------------------------------------------

TEST(RecorderFormat, TextWithEscapesAndUtf8RoundTrips) {
    RecordEntry e;
    e.ts = at(2026, 11, 22, 3, 4, 5, 123456);
    e.dir = RecordDirection::out;
    e.type = RecordType::text;
    e.data = std::string("quote \" backslash \\ slash / nl \n cr \r tab \t bs \b ff \f ctl ") + '\x01' + '\x1f' +
             " nul " + std::string(1, '\0') + " utf8 h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E \xE6\x97\xA5";
    const auto line = zenws::format_record_line(e);
    EXPECT_EQ(line.rfind(R"({"ts":"2026-11-22T03:04:05.123456Z","dir":"out","type":"text","data":")", 0), 0u) << line;
    EXPECT_NE(line.find("\\u0001"), std::string::npos);
    EXPECT_NE(line.find("\\u0000"), std::string::npos);
    EXPECT_NE(line.find("\xE2\x82\xAC"), std::string::npos) << "UTF-8 is kept as is";
    EXPECT_EQ(line.find("\"binary\""), std::string::npos);
    EXPECT_EQ(round_trip(e), e);
}

TEST(RecorderFormat, BinaryAllByteValuesRoundTrips) {
    RecordEntry e;
    e.ts = at(2026, 1, 2, 3, 4, 5, 6);
    e.dir = RecordDirection::in;
    e.type = RecordType::binary;
    e.data = all_bytes();
    e.binary = true;
    const auto line = zenws::format_record_line(e);
    EXPECT_NE(line.find(",\"binary\":true}"), std::string::npos) << line;
    EXPECT_NE(line.find(zenws::base64_encode(e.data)), std::string::npos);
    EXPECT_EQ(round_trip(e), e);
}

TEST(RecorderFormat, InvalidUtf8TextIsKeptLosslesslyAsBase64) {
    RecordEntry e;
    e.ts = at(2026, 1, 2, 3, 4, 5, 6);
    e.type = RecordType::text;
    e.data = "ab\xFF\xC3(";
    const auto line = zenws::format_record_line(e);
    EXPECT_NE(line.find("\"binary\":true"), std::string::npos) << line;
    auto back = round_trip(e);
    EXPECT_EQ(back.type, RecordType::text);
    EXPECT_TRUE(back.binary);
    EXPECT_EQ(back.data, e.data);
}

TEST(RecorderFormat, CloseRoundTripsAsJsonString) {
    RecordEntry e;
    e.ts = at(2026, 1, 2, 3, 4, 5, 6);
    e.dir = RecordDirection::in;
    e.type = RecordType::close;
    e.close_code = 1001;
    e.close_reason = "going \"away\" \xC3\xA9";
    e.data = zenws::format_close_data(e.close_code, e.close_reason);
    EXPECT_EQ(e.data, "{\"code\":1001,\"reason\":\"going \\\"away\\\" \xC3\xA9\"}");
    const auto line = zenws::format_record_line(e);
    EXPECT_NE(line.find(R"("type":"close","data":"{\"code\":1001,)"), std::string::npos) << line;
    EXPECT_EQ(round_trip(e), e);
}

TEST(RecorderParse, AcceptsTheOriginalsLinesAndCloseAsObject) {
    auto a = zenws::parse_record_line(
        R"({"ts":"2026-08-01T10:00:00.000001Z","dir":"out","type":"text","data":"{\"jsonrpc\":\"2.0\",\"id\":1}"})");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a.value().data, R"({"jsonrpc":"2.0","id":1})");
    EXPECT_EQ(a.value().dir, RecordDirection::out);
    EXPECT_FALSE(a.value().binary);

    // Whitespace, member order, unknown members, \u escapes with a surrogate pair, CRLF line end.
    auto b = zenws::parse_record_line(
        " { \"extra\" : [1, {\"x\": null}], \"data\" : \"\\u00e9\\ud834\\udd1e\\/\", \"type\":\"text\", "
        "\"dir\":\"in\", \"ts\":\"2026-08-01T10:00:00Z\" }\r\n");
    ASSERT_TRUE(b.ok()) << b.error().message;
    EXPECT_EQ(b.value().data, "\xC3\xA9\xF0\x9D\x84\x9E/");

    auto c = zenws::parse_record_line(
        R"({"ts":"2026-08-01T10:00:00Z","dir":"in","type":"close","data":{"code":4000,"reason":"custom"}})");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c.value().close_code, 4000);
    EXPECT_EQ(c.value().close_reason, "custom");
}

TEST(RecorderParse, ReportsTypedErrors) {
    const std::string ts = R"("ts":"2026-08-01T10:00:00Z")";
    const std::pair<std::string, RecordErrc> cases[] = {
        {"", RecordErrc::empty_line},
        {"   \r", RecordErrc::empty_line},
        {"{", RecordErrc::malformed_json},
        {"[]", RecordErrc::malformed_json},
        {"not json", RecordErrc::malformed_json},
        {"{" + ts + R"(,"dir":"in","type":"text","data":"x"} trailing)", RecordErrc::malformed_json},
        {"{" + ts + R"(,"dir":"in","type":"text","data":"unterminated})", RecordErrc::malformed_json},
        {"{" + ts + R"(,"dir":"in","type":"text","data":"bad \q escape"})", RecordErrc::malformed_json},
        {"{" + ts + R"(,"dir":"in","type":"text","data":"lone \udc00"})", RecordErrc::malformed_json},
        {R"({"dir":"in","type":"text","data":"x"})", RecordErrc::missing_field},
        {"{" + ts + R"(,"type":"text","data":"x"})", RecordErrc::missing_field},
        {"{" + ts + R"(,"dir":"in","data":"x"})", RecordErrc::missing_field},
        {"{" + ts + R"(,"dir":"in","type":"text"})", RecordErrc::missing_field},
        {"{" + ts + R"(,"dir":"in","type":"text","data":42})", RecordErrc::missing_field},
        {R"({"ts":"yesterday","dir":"in","type":"text","data":"x"})", RecordErrc::bad_timestamp},
        {"{" + ts + R"(,"dir":"sideways","type":"text","data":"x"})", RecordErrc::bad_direction},
        {"{" + ts + R"(,"dir":"in","type":"ping","data":"x"})", RecordErrc::bad_type},
        {"{" + ts + R"(,"dir":"in","type":"binary","data":"%%%","binary":true})", RecordErrc::bad_base64},
        {"{" + ts + R"(,"dir":"in","type":"close","data":"not json"})", RecordErrc::bad_close},
        {"{" + ts + R"(,"dir":"in","type":"close","data":"{\"code\":70000}"})", RecordErrc::bad_close},
        {"{" + ts + R"(,"dir":"in","type":"close","data":"{\"reason\":\"no code\"}"})", RecordErrc::bad_close},
        {"{" + ts + R"(,"dir":"in","type":"close","data":"{\"code\":-1}"})", RecordErrc::bad_close},
    };
    for (const auto& [line, code] : cases) {
        auto r = zenws::parse_record_line(line);
        ASSERT_FALSE(r.ok()) << line;
        EXPECT_EQ(r.error().code, code) << line << " -> " << zenws::to_string(r.error().code) << ": "
                                        << r.error().message;
        EXPECT_FALSE(r.error().message.empty());
    }
    auto r = zenws::parse_record_line(R"({"ts":"2026-08-01T10:00:00Z","dir":"in","type":"text"})");
    EXPECT_EQ(r.error().field, "data");
}

// ---- readers ---------------------------------------------------------------------------------------------------

std::string line_for(RecordDirection dir, const std::string& data, system_clock::time_point ts) {
    RecordEntry e;
    e.ts = ts;
    e.dir = dir;
    e.data = data;
    return zenws::format_record_line(e) + "\n";
}

TEST(RecorderReplay, SkipsMalformedLinesAndKeepsOrder) {
    TempDir dir;
    const auto path = dir.file("session.jsonl");
    const auto base = at(2026, 11, 22, 3, 4, 5, 0);
    write_file(path, line_for(RecordDirection::out, "a", base) + "\n" + "{garbage\n" +
                         line_for(RecordDirection::in, "b", base + 10ms) + "   \n" +
                         R"({"ts":"2026-11-22T03:04:05Z","dir":"up","type":"text","data":"x"})" "\n" +
                         line_for(RecordDirection::in, "c", base + 20ms));
    std::vector<std::string> seen;
    auto r = zenws::replay_recording(path, [&](const RecordEntry& e) { seen.push_back(e.data); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(r.value().delivered, 3u);
    EXPECT_EQ(r.value().skipped, 2u);
    EXPECT_EQ(r.value().first_bad_line, 3u);
    EXPECT_EQ(r.value().first_error.code, RecordErrc::malformed_json);
}

TEST(RecorderReplay, RealtimeSleepsTheGapsCappedAtMaxGap) {
    TempDir dir;
    const auto path = dir.file("gaps.jsonl");
    const auto base = at(2026, 11, 22, 3, 4, 5, 0);
    write_file(path, line_for(RecordDirection::in, "1", base) + line_for(RecordDirection::in, "2", base + 250ms) +
                         line_for(RecordDirection::in, "3", base + 250ms) +     // no gap
                         line_for(RecordDirection::in, "4", base + 1h) +        // capped
                         line_for(RecordDirection::in, "5", base + 30min));     // backwards: no sleep
    std::vector<nanoseconds> sleeps;
    zenws::ReplayOptions options;
    options.realtime = true;
    options.max_gap = 2s;
    options.sleep = [&](nanoseconds d) { sleeps.push_back(d); };
    int n = 0;
    auto r = zenws::replay_recording(path, [&](const RecordEntry&) { ++n; }, options);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(n, 5);
    EXPECT_EQ(sleeps, (std::vector<nanoseconds>{250ms, 2s}));

    sleeps.clear();
    options.realtime = false;
    ASSERT_TRUE(zenws::replay_recording(path, nullptr, options).ok());
    EXPECT_TRUE(sleeps.empty());
}

TEST(RecorderReplay, MissingFileIsAnError) {
    auto r = zenws::replay_recording("/nonexistent-dir-zenws/x.jsonl", [](const RecordEntry&) {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, zenws::Errc::not_found);
    EXPECT_EQ(r.error().sys_errno, ENOENT);
    EXPECT_FALSE(zenws::recording_metadata("/nonexistent-dir-zenws/x.jsonl").ok());
}

TEST(RecorderMetadata, CountsDirectionsAndDuration) {
    TempDir dir;
    const auto path = dir.file("meta.jsonl");
    const auto base = at(2026, 11, 22, 3, 4, 5, 100);
    write_file(path, line_for(RecordDirection::out, "sub", base) + line_for(RecordDirection::in, "ack", base + 5ms) +
                         "oops\n" + line_for(RecordDirection::in, "tick", base + 1500ms) +
                         line_for(RecordDirection::in, "tick", base + 2500ms));
    auto m = zenws::recording_metadata(path);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->count, 4u);
    EXPECT_EQ(m->inbound, 3u);
    EXPECT_EQ(m->outbound, 1u);
    EXPECT_EQ(m->skipped, 1u);
    EXPECT_EQ(m->first_ts, base);
    EXPECT_EQ(m->last_ts, base + 2500ms);
    EXPECT_EQ(m->duration, 2500ms);

    write_file(path, "");
    auto empty = zenws::recording_metadata(path);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->count, 0u);
    EXPECT_FALSE(empty->first_ts.has_value());
    EXPECT_EQ(empty->duration, 0us);
}

// ---- writer ----------------------------------------------------------------------------------------------------

TEST(RecordWriter, OpenFailsWhenTheDirectoryIsMissing) {
    TempDir dir;
    zenws::RecordWriter w;
    auto st = w.open(dir.file("no/such/dir/x.jsonl"));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, zenws::Errc::invalid_config);
    EXPECT_EQ(st.error().field, "record_to");
    EXPECT_EQ(st.error().sys_errno, ENOENT);
    EXPECT_FALSE(w.is_open());
    w.record(RecordDirection::in, RecordType::text, "ignored");
    EXPECT_EQ(w.stats().dropped, 1u);
}

TEST(RecordWriter, RoundTripThroughAFileAndTruncates) {
    TempDir dir;
    const auto path = dir.file("rt.jsonl");
    write_file(path, "old content that must disappear\n");
    const auto base = at(2026, 11, 22, 3, 4, 5, 0);
    {
        zenws::RecordWriter w;
        ASSERT_TRUE(w.open(path).ok());
        EXPECT_FALSE(w.open(path).ok()) << "already open";
        EXPECT_TRUE(w.is_open());
        w.record(RecordDirection::out, RecordType::text, R"({"method":"public/subscribe"})", base);
        w.record(RecordDirection::in, RecordType::binary, all_bytes(), base + 1ms);
        const std::string close_payload = std::string("\x03\xE8", 2) + "normal";
        w.record(RecordDirection::in, RecordType::close, close_payload, base + 2ms);
        w.record(RecordDirection::out, RecordType::close, "", base + 3ms);  // no status code
        w.record_close(RecordDirection::out, 4001, "bye", base + 4ms);
        ASSERT_TRUE(w.flush().ok());
        EXPECT_EQ(read_lines(path).size(), 5u) << "flush() is synchronous";
        ASSERT_TRUE(w.close().ok());
        EXPECT_TRUE(w.close().ok()) << "idempotent";
        EXPECT_FALSE(w.is_open());
        const auto s = w.stats();
        EXPECT_EQ(s.entries, 5u);
        EXPECT_EQ(s.written_bytes, s.bytes);
        EXPECT_EQ(s.write_errors, 0u);
        w.record(RecordDirection::in, RecordType::text, "after close");
        EXPECT_EQ(w.stats().dropped, 1u);
    }
    std::vector<RecordEntry> got;
    auto r = zenws::replay_recording(path, [&](const RecordEntry& e) { got.push_back(e); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().skipped, 0u);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0].data, R"({"method":"public/subscribe"})");
    EXPECT_EQ(got[0].ts, base);
    EXPECT_EQ(got[1].data, all_bytes());
    EXPECT_TRUE(got[1].binary);
    EXPECT_EQ(got[2].close_code, 1000);
    EXPECT_EQ(got[2].close_reason, "normal");
    EXPECT_EQ(got[3].close_code, 1005);
    EXPECT_EQ(got[4].close_code, 4001);
    EXPECT_EQ(got[4].dir, RecordDirection::out);
}

TEST(RecordWriter, DestructorFlushes) {
    TempDir dir;
    const auto path = dir.file("dtor.jsonl");
    {
        zenws::RecordWriterOptions o;
        o.flush_interval = 1h;
        zenws::RecordWriter w(o);
        ASSERT_TRUE(w.open(path).ok());
        for (int i = 0; i < 10; ++i) w.record(RecordDirection::in, RecordType::text, "m" + std::to_string(i));
    }
    EXPECT_EQ(read_lines(path).size(), 10u);
}

TEST(RecordWriter, BackgroundThreadFlushesWithoutBeingAsked) {
    TempDir dir;
    const auto path = dir.file("bg.jsonl");
    zenws::RecordWriterOptions o;
    o.flush_interval = 5ms;
    zenws::RecordWriter w(o);
    ASSERT_TRUE(w.open(path).ok());
    w.record(RecordDirection::in, RecordType::text, "hello");
    // Bounded wait for the flusher (no claim about how fast it is).
    for (int i = 0; i < 2000 && read_lines(path).empty(); ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(read_lines(path).size(), 1u);
    ASSERT_TRUE(w.close().ok());
}

TEST(RecordWriter, ThresholdWakesTheFlusher) {
    TempDir dir;
    const auto path = dir.file("thr.jsonl");
    zenws::RecordWriterOptions o;
    o.flush_interval = 1h;  // only the threshold can trigger a write
    o.flush_threshold = 1000;
    zenws::RecordWriter w(o);
    ASSERT_TRUE(w.open(path).ok());
    w.record(RecordDirection::in, RecordType::text, std::string(2000, 'x'));
    for (int i = 0; i < 2000 && read_lines(path).empty(); ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(read_lines(path).size(), 1u);
    EXPECT_EQ(w.stats().sync_flushes, 0u);
}

TEST(RecordWriter, LinesLargerThanTheBufferKeepOrder) {
    TempDir dir;
    const auto path = dir.file("big.jsonl");
    zenws::RecordWriterOptions o;
    o.flush_interval = 1h;
    o.buffer_capacity = 4096;
    o.flush_threshold = 1 << 30;
    zenws::RecordWriter w(o);
    ASSERT_TRUE(w.open(path).ok());
    for (int i = 0; i < 40; ++i) {
        const std::size_t size = (i % 3 == 0) ? 10'000 : 300;  // some lines do not fit in a whole buffer
        w.record(RecordDirection::out, RecordType::text, std::to_string(i) + ":" + std::string(size, 'z'));
    }
    ASSERT_TRUE(w.close().ok());
    EXPECT_GT(w.stats().sync_flushes, 0u);
    std::vector<std::string> got;
    ASSERT_TRUE(zenws::replay_recording(path, [&](const RecordEntry& e) { got.push_back(e.data); }).ok());
    ASSERT_EQ(got.size(), 40u);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(got[i].substr(0, got[i].find(':')), std::to_string(i));
}

TEST(RecordWriter, ConcurrentRecordersLoseNothing) {
    TempDir dir;
    const auto path = dir.file("mt.jsonl");
    zenws::RecordWriterOptions o;
    o.flush_interval = 1ms;
    o.buffer_capacity = 8192;  // small: exercises swaps and synchronous flushes under contention
    o.flush_threshold = 2048;
    zenws::RecordWriter w(o);
    ASSERT_TRUE(w.open(path).ok());
    constexpr int threads = 4;
    constexpr int per_thread = 2000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                w.record(t % 2 ? RecordDirection::in : RecordDirection::out, RecordType::text,
                         std::to_string(t) + ":" + std::to_string(i));
                if (i % 500 == 0) (void)w.flush();
            }
        });
    }
    for (auto& th : pool) th.join();
    ASSERT_TRUE(w.close().ok());
    std::vector<int> next(threads, 0);
    std::size_t total = 0;
    auto r = zenws::replay_recording(path, [&](const RecordEntry& e) {
        const auto colon = e.data.find(':');
        const int t = std::stoi(e.data.substr(0, colon));
        const int i = std::stoi(e.data.substr(colon + 1));
        EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
        next[t] = i + 1;
        ++total;
    });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().skipped, 0u);
    EXPECT_EQ(total, static_cast<std::size_t>(threads * per_thread));
}

// ---- crash flush -----------------------------------------------------------------------------------------------

enum class Death { abort_call, segv, terminate, sigterm };

// Child: opens a writer whose flusher would not run for an hour, records `n` entries, checks nothing reached the
// file yet (exit 3 otherwise: the test would prove nothing), then dies without flushing.
[[noreturn]] void crash_child(const std::string& path, int n, Death death, bool flush_on_crash) {
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    zenws::RecordWriterOptions o;
    o.flush_interval = 1h;
    o.flush_threshold = std::size_t{1} << 30;
    o.buffer_capacity = 4 << 20;
    o.flush_on_crash = flush_on_crash;
    o.install_crash_handlers = flush_on_crash;
    auto* w = new zenws::RecordWriter(o);  // leaked on purpose: no destructor may run
    if (!w->open(path).ok()) ::_exit(2);
    const auto base = at(2026, 11, 22, 3, 4, 5, 0);
    for (int i = 0; i < n; ++i) {
        if (i % 10 == 3) w->record(RecordDirection::in, RecordType::binary, all_bytes(), base + microseconds(i));
        else w->record(RecordDirection::out, RecordType::text, "entry " + std::to_string(i), base + microseconds(i));
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || st.st_size != 0) ::_exit(3);
    switch (death) {
        case Death::abort_call: std::abort();
        case Death::segv: ::raise(SIGSEGV); break;
        case Death::terminate: std::terminate();
        case Death::sigterm:
            // raise() directs the signal at this thread (kill() to the process may pick the flusher thread and let
            // this one reach _exit first); the handler flushes, then re-raises with the default action.
            ::raise(SIGTERM);
            break;
    }
    for (int i = 0; i < 200; ++i) ::usleep(10'000);  // a signal still on its way gets 2 s to arrive
    ::_exit(4);  // not reached when the signal kills us
}

struct ChildOutcome {
    bool signaled = false;
    int signal = 0;
    int exit_code = -1;
};

ChildOutcome run_crash_child(const std::string& path, int n, Death death, bool flush_on_crash) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) crash_child(path, n, death, flush_on_crash);
    ChildOutcome out;
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        out.signaled = true;
        out.signal = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
        out.exit_code = WEXITSTATUS(status);
    }
    return out;
}

void expect_all_entries(const std::string& path, int n) {
    std::vector<RecordEntry> got;
    auto r = zenws::replay_recording(path, [&](const RecordEntry& e) { got.push_back(e); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().skipped, 0u);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        if (i % 10 == 3) EXPECT_EQ(got[i].data, all_bytes()) << i;
        else EXPECT_EQ(got[i].data, "entry " + std::to_string(i)) << i;
    }
}

TEST(RecordWriterCrash, AbortWritesThePendingBuffer) {
    TempDir dir;
    const auto path = dir.file("abort.jsonl");
    auto out = run_crash_child(path, 500, Death::abort_call, true);
    ASSERT_TRUE(out.signaled) << "exit code " << out.exit_code;
    EXPECT_EQ(out.signal, SIGABRT);
    expect_all_entries(path, 500);
}

// ASan/TSan install their own SIGSEGV handler (and abort with their report), so this one runs without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZENWS_SANITIZER_OWNS_SEGV 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ZENWS_SANITIZER_OWNS_SEGV 1
#endif
#endif

TEST(RecordWriterCrash, SegfaultWritesThePendingBuffer) {
#ifdef ZENWS_SANITIZER_OWNS_SEGV
    GTEST_SKIP() << "the sanitizer handles SIGSEGV itself";
#endif
    TempDir dir;
    const auto path = dir.file("segv.jsonl");
    auto out = run_crash_child(path, 300, Death::segv, true);
    ASSERT_TRUE(out.signaled) << "exit code " << out.exit_code;
    EXPECT_EQ(out.signal, SIGSEGV);
    expect_all_entries(path, 300);
}

TEST(RecordWriterCrash, TerminateWritesThePendingBuffer) {
    TempDir dir;
    const auto path = dir.file("terminate.jsonl");
    auto out = run_crash_child(path, 200, Death::terminate, true);
    ASSERT_TRUE(out.signaled) << "exit code " << out.exit_code;
    EXPECT_EQ(out.signal, SIGABRT);
    expect_all_entries(path, 200);
}

TEST(RecordWriterCrash, SigtermWritesThePendingBuffer) {
    TempDir dir;
    const auto path = dir.file("term.jsonl");
    auto out = run_crash_child(path, 200, Death::sigterm, true);
    ASSERT_TRUE(out.signaled) << "exit code " << out.exit_code;
    EXPECT_EQ(out.signal, SIGTERM);
    expect_all_entries(path, 200);
}

// Control: the same crash without the crash flush loses everything, so the tests above can fail.
TEST(RecordWriterCrash, WithoutCrashFlushTheEntriesAreLost) {
    TempDir dir;
    const auto path = dir.file("lost.jsonl");
    auto out = run_crash_child(path, 100, Death::abort_call, false);
    ASSERT_TRUE(out.signaled) << "exit code " << out.exit_code;
    EXPECT_EQ(out.signal, SIGABRT);
    EXPECT_TRUE(read_lines(path).empty());
}

}  // namespace
