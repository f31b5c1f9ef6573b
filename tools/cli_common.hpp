// cli_common.hpp — owns option parsing shared by the zenws tool's subcommands (connect, pool).
#pragma once

#include <string>

#include "zenws/config.hpp"
#include "zenws/error.hpp"

namespace zenws::tool {

// Applies a --heartbeat spec "TYPE[:INTERVAL_MS]" (TYPE: ping_pong, deribit, server_ping) to `config`; an empty
// spec leaves it unchanged. A config_error("heartbeat", ...) for an unknown type or an interval that is not a
// positive number of milliseconds.
Status apply_heartbeat(const std::string& spec, Config& config);

}  // namespace zenws::tool
