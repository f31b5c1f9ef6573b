// zenws/recorder.hpp — owns session recording: the JSON-lines format (format/parse), base64, the background
// RecordWriter with its crash flush, and the readers (replay_recording, recording_metadata).
//
// File format (compatible with ZenWebsocket's Recorder): one JSON object per line, one line per frame,
//   {"ts":"2026-11-22T03:04:05.123456Z","dir":"in","type":"text","data":"{\"jsonrpc\":\"2.0\"...}"}
//   {"ts":"...","dir":"out","type":"binary","data":"AAEC/w==","binary":true}
//   {"ts":"...","dir":"in","type":"close","data":"{\"code\":1000,\"reason\":\"bye\"}"}
// - ts: UTC, ISO 8601, always 6 fractional digits (microseconds). The parser accepts 0-9 digits.
// - text: JSON-escaped, UTF-8 kept as is. A text payload that is NOT valid UTF-8 (only possible for an outgoing
//   message the application built badly) is written base64 with "binary":true, so nothing is lost.
// - binary: base64 (RFC 4648, with padding) and "binary":true.
// - close: like the original, data is a JSON *string* holding {"code":N,"reason":"..."}. The parser also accepts
//   data as a JSON object with those members.
// The caller decides what is recorded; the client leaves out heartbeat frames (Deribit public/test + test_request,
// ping/pong), like the original: recordings hold application traffic only.
// Secrets: RecordWriter redacts the values of secret JSON members (client_secret, access_token, signature, ...: see
// RecordWriterOptions::redact_fields and zenws/redact.hpp) in text frames before they are written, and creates the
// file with mode 0600.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/redact.hpp"

namespace zenws {

enum class RecordDirection : std::uint8_t { in, out };
enum class RecordType : std::uint8_t { text, binary, close };

std::string_view to_string(RecordDirection) noexcept;
std::string_view to_string(RecordType) noexcept;

struct RecordEntry {
    std::chrono::system_clock::time_point ts{};  // microsecond precision in the file
    RecordDirection dir = RecordDirection::in;
    RecordType type = RecordType::text;
    // text: the message. binary: the raw bytes (already base64-decoded). close: the JSON text
    // {"code":N,"reason":"..."} (as in the file), with the values also in close_code / close_reason.
    std::string data;
    bool binary = false;             // data was base64 in the file
    std::uint16_t close_code = 0;    // close only
    std::string close_reason;        // close only

    bool operator==(const RecordEntry&) const = default;
};

// ---- format / parse --------------------------------------------------------------------------------------------

// "2026-11-22T03:04:05.123456Z" (truncated to microseconds).
std::string format_record_timestamp(std::chrono::system_clock::time_point ts);
std::optional<std::chrono::system_clock::time_point> parse_record_timestamp(std::string_view text) noexcept;

// One line WITHOUT the trailing '\n'. For type close, close_code/close_reason are written (data is ignored).
std::string format_record_line(const RecordEntry& entry);
// The close data text {"code":N,"reason":"..."}.
std::string format_close_data(std::uint16_t code, std::string_view reason);

enum class RecordErrc : std::uint8_t {
    ok = 0,
    empty_line,      // blank (only whitespace)
    malformed_json,  // not a single JSON object (or trailing garbage)
    missing_field,   // ts, dir, type or data absent or of the wrong JSON type (field says which)
    bad_timestamp,   // ts not "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" or an impossible date/time
    bad_direction,   // dir not "in"/"out"
    bad_type,        // type not "text"/"binary"/"close"
    bad_base64,      // "binary":true but data is not valid base64
    bad_close,       // close data is not {"code":0..65535,"reason":"..."}
};
std::string_view to_string(RecordErrc) noexcept;

struct RecordParseError {
    RecordErrc code = RecordErrc::ok;
    std::string field;    // the JSON member concerned, if any
    std::string message;  // one line
};

// A RecordEntry or a typed RecordParseError (same shape as zenws::Result).
class [[nodiscard]] RecordParseResult {
public:
    RecordParseResult(RecordEntry e) : entry_(std::move(e)) {}          // NOLINT
    RecordParseResult(RecordParseError e) : error_(std::move(e)) {}     // NOLINT
    bool ok() const noexcept { return entry_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const RecordEntry& value() const& { return *entry_; }
    RecordEntry&& value() && { return std::move(*entry_); }
    const RecordParseError& error() const noexcept { return error_; }

private:
    std::optional<RecordEntry> entry_;
    RecordParseError error_;
};

// Parses one line (a trailing "\r" or "\n" is ignored). Unknown members are ignored.
RecordParseResult parse_record_line(std::string_view line);

// RFC 4648 base64 with padding. decode is strict: length multiple of 4, '=' only at the end, no whitespace.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// ---- readers ---------------------------------------------------------------------------------------------------

struct ReplayOptions {
    bool realtime = false;                        // sleep the original gap between consecutive entries
    std::chrono::milliseconds max_gap{1000};      // ... capped at this (negative gaps = 0)
    // Used for the realtime sleeps; default std::this_thread::sleep_for. Tests inject one to observe the gaps.
    std::function<void(std::chrono::nanoseconds)> sleep;
};

struct ReplaySummary {
    std::size_t delivered = 0;   // entries passed to the callback
    std::size_t skipped = 0;     // non-empty lines that did not parse (blank lines are ignored silently)
    std::size_t first_bad_line = 0;          // 1-based line number of the first skipped line (0 = none)
    RecordParseError first_error;            // why it was skipped
};

// Streams the file, calling `callback` for each valid entry in file order; malformed lines are skipped (counted).
// Errors: Errc::not_found (file missing or unreadable; sys_errno set).
Result<ReplaySummary> replay_recording(const std::string& path, const std::function<void(const RecordEntry&)>& callback,
                                       const ReplayOptions& options);
Result<ReplaySummary> replay_recording(const std::string& path, const std::function<void(const RecordEntry&)>& callback,
                                       bool realtime = false);

struct RecordingMetadata {
    std::size_t count = 0;       // valid entries
    std::size_t inbound = 0;
    std::size_t outbound = 0;
    std::size_t skipped = 0;     // malformed lines
    std::optional<std::chrono::system_clock::time_point> first_ts;  // of the first/last valid entry in file order
    std::optional<std::chrono::system_clock::time_point> last_ts;
    std::chrono::microseconds duration{0};  // last_ts - first_ts (0 for fewer than 2 entries, never negative)
};
Result<RecordingMetadata> recording_metadata(const std::string& path);

// ---- writer ----------------------------------------------------------------------------------------------------

struct RecordWriterOptions {
    std::chrono::milliseconds flush_interval{200};  // background flush period
    std::size_t flush_threshold = 256 * 1024;       // pending bytes that wake the flusher early
    // Size of each of the two preallocated buffers. A line that does not fit in the free space is handled on the
    // caller's thread (synchronous flush then append; a line larger than a whole buffer is written directly):
    // the only case where record() does I/O. Counted in Stats::sync_flushes.
    std::size_t buffer_capacity = 1024 * 1024;
    // Register this writer for the crash flush (see below) while it is open.
    bool flush_on_crash = true;
    // With flush_on_crash: install the process-wide handlers on the first open (once per process). Off by default:
    // signal and terminate handlers belong to the application, so a library never installs them unasked (call
    // install_recorder_crash_handlers() yourself, or set this, or Config::record_crash_handlers for a client).
    bool install_crash_handlers = false;
    // JSON member names whose values are replaced by "[REDACTED]" in text frames (any depth, ASCII
    // case-insensitive; see zenws/redact.hpp). Empty = record everything verbatim. A message in which no field name
    // appears quoted is not copied.
    std::vector<std::string> redact_fields = default_redact_fields();
};

// Records frames to a JSON-lines file. record() is cheap for the caller: it formats the line and copies it into a
// preallocated buffer under a short lock; no I/O on the caller's thread (except the overflow case above). A
// background thread writes the buffer every flush_interval and when flush_threshold bytes are pending. All member
// functions are thread-safe.
//
// Crash flush: while open with flush_on_crash, the writer is in a process-wide registry (up to 64 writers). The
// handlers installed by install_recorder_crash_handlers() — for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM
// and std::terminate — write every registered writer's pending bytes with write(2) straight from the
// preallocated buffers, then chain to the previous handler / default action (the process still dies and still
// dumps core). Limits (best effort, by design of async-signal-safe code):
// - only write(2), nanosleep(2) and lock-free atomics run in the handler: no allocation, no locks, no fsync;
// - if another thread is in the middle of writing this writer's file, the handler waits up to ~2 s for it, then
//   gives up on that writer; lines being appended by other threads at the instant of the crash may be missing;
// - a crash interrupting the buffer swap or a direct write of a huge line on the crashing thread can duplicate
//   or cut a line (the reader skips a cut line);
// - SIGKILL, power loss and kernel crashes are not covered (data written with write(2) survives a process crash,
//   not a machine crash: there is no fsync);
// - SIGTERM is only taken over when its disposition was the default (i.e. it would kill the process): an
//   application that handles or ignores SIGTERM keeps its handler (its graceful shutdown should close() the
//   writer). Install your own SIGTERM handler before the first open() if you want it to stay yours;
// - a stack overflow SIGSEGV needs an alternate signal stack (sigaltstack) on that thread: we set SA_ONSTACK, the
//   application sets up the stack;
// - after fork() the child forgets the parent's writers (it must not write the parent's pending data).
class RecordWriter {
public:
    struct Stats {
        std::uint64_t entries = 0;        // lines accepted by record()
        std::uint64_t bytes = 0;          // bytes accepted (including '\n')
        std::uint64_t written_bytes = 0;  // bytes written to the file so far
        std::uint64_t dropped = 0;        // record() while not open
        std::uint64_t write_errors = 0;   // failed write(2) calls (the data concerned is dropped)
        std::uint64_t sync_flushes = 0;   // record() calls that had to do I/O (buffer full)
        bool crash_registered = false;
    };

    RecordWriter();
    explicit RecordWriter(RecordWriterOptions options);
    ~RecordWriter();  // close()
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;

    // Creates (mode 0600, whatever the umask) or TRUNCATES the file; an existing regular file is set to 0600 too.
    // Errc::invalid_config (field "record_to", sys_errno set) when the directory is missing or the file cannot be
    // opened; also when already open.
    Status open(const std::string& path);
    bool is_open() const noexcept;
    const std::string& path() const noexcept;

    // For type close, data is the close frame payload as on the wire (2-byte big-endian code + UTF-8 reason;
    // empty = code 1005). Ignored (counted as dropped) when not open. Text data is redacted (redact_fields).
    void record(RecordDirection dir, RecordType type, std::string_view data, std::chrono::system_clock::time_point ts);
    void record(RecordDirection dir, RecordType type, std::string_view data) {
        record(dir, type, data, std::chrono::system_clock::now());
    }
    void record_close(RecordDirection dir, std::uint16_t code, std::string_view reason,
                      std::chrono::system_clock::time_point ts);
    void record(const RecordEntry& entry);

    // Writes everything recorded so far, synchronously. Returns the first write error since the last flush.
    Status flush();
    // Stops the flusher, final flush, closes the file, unregisters from the crash flush. Idempotent.
    Status close();

    Stats stats() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Installs the crash handlers (idempotent; RecordWriter::open does it when the options ask for it).
void install_recorder_crash_handlers();
// Writes the pending bytes of every registered writer. Async-signal-safe: for applications that have their own
// crash handler (call it from there and set install_crash_handlers = false). After it ran, the writers it flushed
// stop writing (the process is expected to die).
void recorder_crash_flush() noexcept;

}  // namespace zenws
