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

namespace {

// RFC 9110 token characters (header names).
bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

Status add_header_option(const std::string& spec, std::size_t index, Config& config) {
    // invalid_config naming the field "header", without config_error()'s "invalid config field" lead-in.
    auto fail = [index](const std::string& problem) {
        Error e(Errc::invalid_config, "invalid -H/--header #" + std::to_string(index + 1) + ": " + problem +
                                          " (expected 'Name: value'; the text is not shown, it may hold a credential)");
        e.field = "header";
        return e;
    };
    const std::size_t colon = spec.find(':');
    if (colon == std::string::npos) return fail("no ':' between the name and the value");
    std::string name = spec.substr(0, colon);
    if (name.empty()) return fail("the name before ':' is empty");
    for (char c : name)
        if (!is_tchar(c)) return fail("the name before ':' is not a valid HTTP token");
    std::string value = spec.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    config.headers.emplace_back(std::move(name), std::move(value));
    return {};
}

CLI::Validator int_range(int lo, int hi, const std::string& what) {
    const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    return CLI::Validator(
        [lo, hi, range, what](std::string& input) -> std::string {
            long long v = 0;
            auto [ptr, ec] = std::from_chars(input.data(), input.data() + input.size(), v);
            if (ec == std::errc() && ptr == input.data() + input.size() && v >= lo && v <= hi) return {};
            return "must be a whole number in " + range + " (" + what + "), got '" + input + "'";
        },
        "INT in " + range);
}

}  // namespace zenws::tool
