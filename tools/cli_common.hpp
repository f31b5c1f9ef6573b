// cli_common.hpp — owns option parsing shared by the zenws tool's subcommands (connect, pool): --heartbeat specs,
// -H header values (never echoed: they carry credentials) and the integer range checks with short, exact messages.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

#include "zenws/config.hpp"
#include "zenws/error.hpp"

namespace zenws::tool {

// Applies a --heartbeat spec "TYPE[:INTERVAL_MS]" (TYPE: ping_pong, deribit, server_ping) to `config`; an empty
// spec leaves it unchanged. A config_error("heartbeat", ...) for an unknown type or an interval that is not a
// positive number of milliseconds.
Status apply_heartbeat(const std::string& spec, Config& config);

// Parses the `index`-th (0-based) -H value "Name: value" (spaces after ':' skipped) and appends it to
// config.headers. Errc::invalid_config (field "header"), one line naming the problem and the option's position but
// never showing the text: a malformed "Authorization Bearer xyz" is still a credential.
Status add_header_option(const std::string& spec, std::size_t index, Config& config);

// A CLI11 check for an integer option: accepts lo..hi; otherwise "must be a whole number in LO..HI (WHAT), got 'X'".
CLI::Validator int_range(int lo, int hi, const std::string& what);

}  // namespace zenws::tool
