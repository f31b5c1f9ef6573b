// support/proxy.hpp — owns the C++ driver of tests/servers/fault_proxy.py: starts the proxy in front of a loopback
// target and sends control commands (latency, blackhole, reset, refuse, slice, close, count) over its control port
// with a plain blocking socket and a deadline on every read and write.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "integration/support/process.hpp"

namespace zenws::test {

class FaultProxy {
public:
    // Starts fault_proxy.py forwarding 127.0.0.1:<listen port> -> target_host:target_port. nullptr + error on failure.
    static std::unique_ptr<FaultProxy> start(const std::string& target_host, std::uint16_t target_port,
                                             std::string* error = nullptr);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    std::uint16_t port() const noexcept { return listen_port_; }          // point the client here
    std::uint16_t control_port() const noexcept { return control_port_; }

    // Sends one command line, returns the reply line ("OK ..." / "ERR ..."), or "" on timeout/I/O error.
    std::string command(const std::string& line, std::chrono::milliseconds timeout = std::chrono::seconds(3));

    // Helpers: true when the proxy answered OK.
    bool latency(int ms) { return ok(command("latency " + std::to_string(ms))); }
    bool blackhole(const std::string& direction) { return ok(command("blackhole " + direction)); }  // up|down|both|off
    bool reset() { return ok(command("reset")); }
    bool refuse(bool on) { return ok(command(std::string("refuse ") + (on ? "on" : "off"))); }
    bool slice(int bytes) { return ok(command("slice " + std::to_string(bytes))); }
    bool close_all() { return ok(command("close")); }
    int count();   // connections accepted so far, -1 on error
    int active();  // connections open now, -1 on error

private:
    FaultProxy() = default;
    static bool ok(const std::string& reply) { return reply.rfind("OK", 0) == 0; }
    int number(const std::string& cmd);

    std::unique_ptr<ChildProcess> process_;
    int control_fd_ = -1;
    std::uint16_t listen_port_ = 0, control_port_ = 0;
    std::string pending_;  // bytes read past the last reply line
};

}  // namespace zenws::test
