// cli_common.cpp — option parsing shared by the zenws tool's subcommands (see cli_common.hpp).
#include "tools/cli_common.hpp"

#include <charconv>
#include <chrono>
#include <system_error>

namespace zenws::tool {

Status apply_heartbeat(const std::string& spec, Config& config) {
    if (spec.empty()) return {};
    std::string type = spec.substr(0, spec.find(':'));
    if (type == "ping_pong") {
        config.heartbeat.type = HeartbeatType::ping_pong;
    } else if (type == "deribit") {
        config.heartbeat.type = HeartbeatType::deribit;
    } else if (type == "server_ping") {
        config.heartbeat.type = HeartbeatType::server_ping;
    } else {
        return config_error("heartbeat", "unknown heartbeat type '" + type + "' (ping_pong, deribit, server_ping)");
    }
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        long ms = 0;
        auto text = spec.substr(colon + 1);
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (ec != std::errc() || ptr != text.data() + text.size() || ms <= 0) {
            return config_error("heartbeat", "interval must be a positive number of milliseconds, got '" + text + "'");
        }
        config.heartbeat.interval = std::chrono::milliseconds(ms);
    }
    return {};
}

}  // namespace zenws::tool
