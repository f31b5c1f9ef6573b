// bench/soak/soak_server.hpp — the soak test's in-process WebSocket servers and the fault layer in front of them.
//
// One epoll thread serves every endpoint (one listening socket on 127.0.0.1 per endpoint). Per endpoint, at random
// (seeded) times, one fault at a time:
//   kill       the listener is closed and every connection dropped; the listener comes back after a few seconds
//   reset      every connection is closed with SO_LINGER {1, 0} (the peer sees an RST)
//   blackhole  existing and new connections are neither read nor written (taken out of epoll) for longer than the
//              clients' heartbeat timeout, then resumed
//   flap       every connection is dropped; for a while each upgrade is answered with 101 and dropped at once
//   http429    every connection is dropped; for a while each upgrade is answered with 429 and a Retry-After
// Application protocol: text/binary frames are echoed; a text frame that starts with {"jsonrpc":"2.0","id":<n>,
// is a request and is answered with {"jsonrpc":"2.0","id":<n>,"result":"ok"} (an exact echo would not carry
// "result", and zenws only correlates a reply that has "result" or "error"); pings are answered with pongs; a close
// is echoed. The upgrade path /soak/<client index> attributes each handshake to a client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace soak {

enum class Fault : int { none = -1, kill = 0, reset, blackhole, flap, http429, count };
const char* fault_name(Fault f);

struct FaultOptions {
    double mean_gap_s = 30;                    // mean quiet time between two faults of one endpoint (exponential)
    double first_after_s = 5;                  // no fault before this (clients connect first)
    int kill_down_ms[2] = {2000, 5000};        // listener closed for this long
    int blackhole_ms[2] = {7000, 12000};       // must exceed the clients' heartbeat detection time
    int flap_ms[2] = {3000, 10000};
    int http429_ms[2] = {3000, 10000};
    int retry_after_s[2] = {1, 3};
};

struct ServerStats {
    // Written by the server thread only; read by others (relaxed).
    std::vector<std::atomic<std::uint32_t>> accepts_per_minute;   // [endpoint * minutes + minute]
    std::vector<std::atomic<std::uint32_t>> handshakes_by_client; // upgrade requests seen per client index
    std::atomic<std::uint64_t> faults[int(Fault::count)] = {};
    std::atomic<std::uint64_t> faults_this_minute[int(Fault::count)] = {};  // reset by the reader
    std::atomic<std::uint64_t> accepts{0}, handshakes{0}, upgrades{0}, rejected_429{0}, flapped{0};
    std::atomic<std::uint64_t> frames_in{0}, replies{0}, rebind_failures{0};
    std::atomic<std::uint32_t> open_conns{0}, max_open_conns{0};
    std::atomic<int> active_faults{0};
};

class SoakServer {
public:
    // `minutes` sizes the per-minute accept table (later minutes go to the last bucket).
    SoakServer(int endpoints, int port_base, std::uint64_t seed, FaultOptions faults, int clients, int minutes,
               std::chrono::steady_clock::time_point t0);
    ~SoakServer();

    // Binds every endpoint and starts the thread. Returns an error text, or "" on success.
    std::string start();
    void stop();
    // Faults are injected only while enabled; disabling ends every active fault at once (listener back, blackholed
    // connections resumed, no more 101-then-drop or 429).
    void set_faults_enabled(bool on) { faults_enabled_.store(on, std::memory_order_release); }
    bool faults_quiet() const { return stats_.active_faults.load(std::memory_order_acquire) == 0; }

    const std::vector<int>& ports() const { return ports_; }
    ServerStats& stats() { return stats_; }
    int minutes() const { return minutes_; }
    int endpoints() const { return int(ports_.size()); }

    struct Impl;

private:
    std::vector<int> ports_;
    int minutes_;
    ServerStats stats_;
    std::atomic<bool> faults_enabled_{false};
    std::atomic<bool> stop_{false};
    std::unique_ptr<Impl> impl_;
    std::thread thread_;
};

}  // namespace soak
