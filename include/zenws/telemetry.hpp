// zenws/telemetry.hpp — the observer interface: every lifecycle, heartbeat, traffic and pool event as a virtual
// call with a no-op default. With no observer installed the cost is one null-pointer check per event.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include "zenws/error.hpp"
#include "zenws/frame.hpp"

namespace zenws {

struct CloseInfo;
enum class HeartbeatType : std::uint8_t;

class Observer {
public:
    virtual ~Observer() = default;
    // connection lifecycle
    virtual void connect_attempt(std::string_view /*url*/, int /*attempt*/) {}
    virtual void connected(std::string_view /*url*/, std::chrono::microseconds /*connect_time*/) {}
    virtual void connect_failed(std::string_view /*url*/, const Error& /*error*/) {}
    virtual void disconnected(const CloseInfo& /*info*/, const Error& /*cause*/) {}
    virtual void reconnect_scheduled(int /*attempt*/, std::chrono::milliseconds /*delay*/) {}
    virtual void retries_exhausted(const Error& /*last_error*/) {}
    // heartbeats
    virtual void heartbeat_sent(HeartbeatType /*type*/) {}
    virtual void heartbeat_acknowledged(HeartbeatType /*type*/, std::chrono::microseconds /*rtt*/) {}
    virtual void heartbeat_missed(HeartbeatType /*type*/, int /*consecutive_failures*/) {}
    // traffic
    virtual void message_in(Opcode /*op*/, std::size_t /*bytes*/) {}
    virtual void message_out(Opcode /*op*/, std::size_t /*bytes*/) {}
    virtual void queue_overflow(std::size_t /*depth*/) {}
    // errors raised outside any call (a user handler threw, ...)
    virtual void error(const Error& /*error*/) {}
};

}  // namespace zenws
