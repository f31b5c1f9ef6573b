// replay_command.cpp — `zenws replay FILE [--realtime]`: prints a recording made with --record / record_to, one
// frame per line ("<ts> <in|out> <type> <data>"), or as JSON lines, then a summary on stderr.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/commands.hpp"
#include "zenws/json_rpc.hpp"
#include "zenws/recorder.hpp"

namespace zenws::tool {

void add_replay_options(CLI::App& app, ReplayOptions& o) {
    app.add_option("file", o.file, "Recording (JSON lines)")->required();
    app.add_flag("--realtime", o.realtime, "Wait the original gaps between frames (each capped at 1 s)");
    app.add_flag("--jsonl", o.jsonl, "Print frames as JSON lines");
    app.add_flag("--metadata", o.metadata_only, "Only print the metadata (count, duration, in/out)");
}

int run_replay(const ReplayOptions& o) {
    if (o.metadata_only) {
        auto meta = recording_metadata(o.file);
        if (!meta) {
            std::fprintf(stderr, "zenws: %s\n", meta.error().explain().c_str());
            return 1;
        }
        const auto& m = meta.value();
        std::printf("{\"count\":%zu,\"inbound\":%zu,\"outbound\":%zu,\"skipped\":%zu,\"duration_us\":%lld}\n",
                    m.count, m.inbound, m.outbound, m.skipped, static_cast<long long>(m.duration.count()));
        return 0;
    }
    auto summary = replay_recording(
        o.file,
        [&](const RecordEntry& e) {
            std::string ts = format_record_timestamp(e.ts);
            std::string data = e.type == RecordType::binary ? base64_encode(e.data) : e.data;
            if (o.jsonl) {
                std::string line = "{\"ts\":\"" + ts + "\",\"dir\":\"" + std::string(to_string(e.dir)) +
                                   "\",\"type\":\"" + std::string(to_string(e.type)) + "\",\"data\":" +
                                   json_quote(data) + "}\n";
                std::fwrite(line.data(), 1, line.size(), stdout);
            } else {
                std::printf("%s %-3s %-6s %s\n", ts.c_str(), std::string(to_string(e.dir)).c_str(),
                            std::string(to_string(e.type)).c_str(), data.c_str());
            }
        },
        o.realtime);
    if (!summary) {
        std::fprintf(stderr, "zenws: %s\n", summary.error().explain().c_str());
        return 1;
    }
    std::fprintf(stderr, "zenws: replayed %zu frames, skipped %zu malformed lines\n", summary.value().delivered,
                 summary.value().skipped);
    return 0;
}

}  // namespace zenws::tool
