// bench/supervision_bench.cpp — owns the supervision benchmark of zenws::ClientSupervisor (a standalone executable,
// not a test). Everything runs on 127.0.0.1 against bench/echo_server.cpp (spawned as a child process through the
// integration tests' support/process.cpp). Prints one small table per measurement:
//
//   1. recovery time: (a) supervised crash -> reconnected: the message handler throws (the client ends
//      `disconnected` with Errc::handler_exception, the supervisor restarts it); the time from the throw to the
//      restarted client's on_connect, over --crashes crashes spaced --crash-gap-ms apart (goal: p99 <= 1 ms).
//      (b) plain internal reconnect after a server-side drop: shutdown(SHUT_RDWR) of the echo server's own socket
//      (duplicated with pidfd_getfd; fallback: an in-process TCP forwarder that shuts the client's side down); the
//      time from the shutdown to on_connect of the same client. Both with a phase breakdown and CPU per event.
//   2. send_balanced overhead: the same 64 B text (a JSON object without "id": completes once written) via
//      ClientSupervisor::send_balanced vs Client::send_text over a pool of 3 clients; ns per message, wall and CPU,
//      one at a time (blocking form vs send_text + the same promise/future wait) and in batches of --window calls
//      (async form vs send_text with a completion callback; the time inside the calls is timed on its own, then a
//      blocking wait for the batch's completions). Interleaved rounds, medians. Goal: <= 2 us added.
//   3. idle footprint: --idle-clients supervised clients with ping_pong heartbeats (1 s and the default 30 s) on a
//      one-thread Runtime, each run in a fresh child process of this executable (clean RSS) with its own echo
//      server: VmRSS and malloc (mallinfo2) growth per client, time to connect them all (256 handshakes in
//      flight), idle CPU (getrusage) over --idle-window-s seconds; then baselines (heartbeat off; plain Client).
//      RLIMIT_NOFILE is raised to 25,000 or, without CAP_SYS_RESOURCE, to the hard limit (enough for 10,000).
//
//   zenws_supervision_bench [--crashes N] [--crash-gap-ms MS] [--drops N] [--sync-count N] [--async-count N]
//                           [--window W] [--rounds R] [--idle-clients N] [--idle-window-s S] [--skip-idle]
//                           [--no-baselines]
//   (internal: zenws_supervision_bench --idle-child N HEARTBEAT_MS WINDOW_S [plain]  prints one RESULT line;
//    HEARTBEAT_MS 0 = Config::heartbeat_interval (30 s), < 0 = heartbeats off)
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/process.hpp"
#include "zenws/client.hpp"
#include "zenws/client_supervisor.hpp"
#include "zenws/config.hpp"
#include "zenws/runtime.hpp"
#include "zenws/telemetry.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using zenws::Client;
using zenws::ClientHandle;
using zenws::ClientOptions;
using zenws::ClientSupervisor;
using zenws::ClientSupervisorOptions;
using zenws::Config;
using zenws::State;

namespace {

struct Options {
    int crashes = 50;
    int crash_gap_ms = 100;     // > backoff.reset_after (50 ms): every restart takes the immediate path
    int drops = 50;
    int sync_count = 5000;      // one at a time, per variant per round
    int async_count = 64000;    // batched, per variant per round
    int window = 64;
    int rounds = 15;
    int idle_clients = 10000;
    int idle_window_s = 10;
    bool skip_idle = false;
    bool no_baselines = false;
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}
double median(std::vector<double> v) { return percentile(std::move(v), 50); }

double us_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

double cpu_seconds(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long vm_rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
}

// utime + stime of another process, seconds (/proc/<pid>/stat fields 14 and 15).
double proc_cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto rp = s.rfind(')');
    if (rp == std::string::npos) return -1;
    std::istringstream ss(s.substr(rp + 2));
    std::string f;
    unsigned long long ut = 0, st = 0;
    for (int i = 3; i <= 15; ++i) {
        ss >> f;
        if (i == 14) ut = std::stoull(f);
        if (i == 15) st = std::stoull(f);
    }
    return static_cast<double>(ut + st) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Raises RLIMIT_NOFILE to `want` (soft and hard); falls back to soft = hard when the hard limit cannot be raised
// (no CAP_SYS_RESOURCE). Returns the soft limit in force and a note.
rlim_t raise_nofile(rlim_t want, std::string* note) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= want) return rl.rlim_cur;
    rlimit w{want, std::max(want, rl.rlim_max)};
    if (::setrlimit(RLIMIT_NOFILE, &w) == 0) return want;
    int err = errno;
    if (note) {
        *note = "setrlimit(RLIMIT_NOFILE, " + std::to_string(want) + ") failed: " + std::strerror(err) +
                " (hard limit " + std::to_string(rl.rlim_max) + ", no CAP_SYS_RESOURCE); using soft = hard";
    }
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

std::unique_ptr<zenws::test::ChildProcess> start_echo_server() {
    std::string err;
    auto p = zenws::test::ChildProcess::spawn({ZENWS_ECHO_SERVER_PATH}, {}, 10s, &err);
    if (!p) std::fprintf(stderr, "echo server: %s\n", err.c_str());
    return p;
}

// ---- a genuine server-side drop: shutdown() of the echo server's own connection sockets --------------------------
// pidfd_getfd() duplicates the server's connected sockets into this process (we are its parent and root); a
// shutdown(SHUT_RDWR) on the duplicate sends the FIN from the server's socket, exactly as if the server had dropped
// the connection. Needs Linux >= 5.6 and ptrace rights over the child; otherwise DropProxy below is used.

class ServerDropper {
public:
    explicit ServerDropper(pid_t pid) { pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); pid_ = pid; }
    ~ServerDropper() {
        if (pidfd_ >= 0) ::close(pidfd_);
    }
    bool usable() const { return pidfd_ >= 0; }
    // Duplicates the server's connected sockets (not the listener). Empty on failure.
    std::vector<int> grab() {
        std::vector<int> out;
        std::string dir = "/proc/" + std::to_string(pid_) + "/fd";
        DIR* d = ::opendir(dir.c_str());
        if (!d) return out;
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            char target[128] = {};
            std::string link = dir + "/" + e->d_name;
            if (::readlink(link.c_str(), target, sizeof target - 1) <= 0) continue;
            if (std::strncmp(target, "socket:", 7) != 0) continue;
            int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd_, std::atoi(e->d_name), 0));
            if (fd < 0) {
                last_errno_ = errno;
                continue;
            }
            sockaddr_storage peer{};
            socklen_t len = sizeof peer;
            if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0) out.push_back(fd);
            else ::close(fd);
        }
        ::closedir(d);
        return out;
    }
    static void drop(std::vector<int>& fds) {
        for (int fd : fds) {
            ::shutdown(fd, SHUT_RDWR);
            ::close(fd);
        }
        fds.clear();
    }
    int last_errno() const { return last_errno_; }

private:
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int last_errno_ = 0;
};

// ---- an in-process TCP forwarder whose drop_all() is a server-side drop ------------------------------------------

class DropProxy {
public:
    explicit DropProxy(std::uint16_t upstream) : upstream_(upstream) {
        lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(lfd_, 64) < 0) {
            throw std::runtime_error("DropProxy: bind/listen failed");
        }
        socklen_t len = sizeof a;
        ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~DropProxy() {
        stop_ = true;
        ::shutdown(lfd_, SHUT_RDWR);
        acceptor_.join();
        drop_all();
        for (auto& t : pumps_) t.join();
        ::close(lfd_);
    }
    std::uint16_t port() const { return port_; }
    // Shuts down every client-side socket: the client reads EOF, as if the server had dropped it.
    void drop_all() {
        std::lock_guard lk(mu_);
        for (int fd : down_) ::shutdown(fd, SHUT_RDWR);
    }

private:
    void accept_loop() {
        while (!stop_) {
            int down = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (down < 0) {
                if (errno == EINTR) continue;
                return;
            }
            int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(upstream_);
            int one = 1;
            ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ::setsockopt(down, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
                ::close(up);
                ::close(down);
                continue;
            }
            {
                std::lock_guard lk(mu_);
                down_.push_back(down);
            }
            pumps_.emplace_back([this, down, up] { pump(down, up); });
        }
    }
    void pump(int down, int up) {
        char buf[64 * 1024];
        pollfd p[2] = {{down, POLLIN, 0}, {up, POLLIN, 0}};
        for (;;) {
            if (::poll(p, 2, 200) < 0 && errno != EINTR) break;
            if (stop_ && !(p[0].revents | p[1].revents)) break;
            bool done = false;
            for (int i = 0; i < 2 && !done; ++i) {
                if (!p[i].revents) continue;
                ssize_t n = ::read(p[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    done = true;
                    break;
                }
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = ::write(p[1 - i].fd, buf + off, static_cast<std::size_t>(n - off));
                    if (w <= 0) {
                        done = true;
                        break;
                    }
                    off += w;
                }
            }
            if (done) break;
        }
        {
            std::lock_guard lk(mu_);
            down_.erase(std::remove(down_.begin(), down_.end(), down), down_.end());
        }
        ::shutdown(down, SHUT_RDWR);
        ::close(down);
        ::close(up);
    }

    std::uint16_t upstream_;
    int lfd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<int> down_;
    std::thread acceptor_;
    std::vector<std::thread> pumps_;  // only touched by the acceptor thread and the destructor (after join)
};

// ---- 1. recovery time ----------------------------------------------------------------------------------------------

struct ConnectWatch {
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t connects = 0;
    Clock::time_point last_connect{};
    std::atomic<std::int64_t> throw_at_ns{0};  // steady_clock ns of the last throw

    void on_connect() {
        auto now = Clock::now();
        {
            std::lock_guard lk(mu);
            ++connects;
            last_connect = now;
        }
        cv.notify_all();
    }
    std::uint64_t count() {
        std::lock_guard lk(mu);
        return connects;
    }
    // Waits for connect number `n`; its time, or nullopt.
    std::optional<Clock::time_point> wait_for(std::uint64_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        if (!cv.wait_for(lk, timeout, [&] { return connects >= n; })) return std::nullopt;
        return last_connect;
    }
};

// Timestamps of the phases of one recovery (a single client, recoveries one after another).
struct PhaseObserver final : zenws::Observer {
    std::atomic<std::int64_t> down_at{0}, attempt_at{0}, open_at{0};  // steady_clock ns
    static std::int64_t now() { return Clock::now().time_since_epoch().count(); }
    void disconnected(const zenws::CloseInfo&, const zenws::Error&) override { down_at.store(now()); }
    void connect_attempt(std::string_view, int) override { attempt_at.store(now()); }
    void connected(std::string_view, std::chrono::microseconds) override { open_at.store(now()); }
};

struct Stats {
    std::vector<double> us;
    int failed = 0;
    // phases, us: event -> connection torn down (client observer), -> next connect attempt, -> upgrade done,
    // -> on_connect
    std::vector<double> to_down, to_attempt, to_open, to_callback;
    double cpu_us_per_event = 0;  // whole process CPU over the loop / events (idle gaps cost ~nothing)

    void add_phases(Clock::time_point t0, const PhaseObserver& ph, Clock::time_point cb) {
        auto tp = [](std::int64_t ns) { return Clock::time_point{Clock::duration(ns)}; };
        auto down = tp(ph.down_at.load()), att = tp(ph.attempt_at.load()), open = tp(ph.open_at.load());
        to_down.push_back(us_between(t0, down));
        to_attempt.push_back(us_between(down, att));
        to_open.push_back(us_between(att, open));
        to_callback.push_back(us_between(open, cb));
    }
};

Stats measure_crashes(std::uint16_t port, const Options& o, int* restarts_out) {
    Stats st;
    zenws::Runtime rt(1);
    ClientSupervisorOptions so;
    so.max_restarts = o.crashes + 10;  // the intensity (10 in 60 s by default) would park the child after 10 crashes
    so.backoff.reset_after = 50ms;     // a child up >= 50 ms before its crash is restarted at once (default 30 s)
    ClientSupervisor sup(rt, so);
    auto watch = std::make_shared<ConnectWatch>();
    ClientOptions co;
    co.restart = zenws::RestartType::permanent;
    co.on_connect = [watch](ClientHandle) { watch->on_connect(); };
    auto phases = std::make_shared<PhaseObserver>();
    co.handlers.observer = phases;
    co.handlers.on_message = [watch](zenws::MessageView m) {
        if (m.data == "crash") {
            watch->throw_at_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
            throw std::runtime_error("injected crash");
        }
    };
    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    auto h = sup.start_client(cfg, co);
    if (!h.ok()) {
        std::fprintf(stderr, "start_client: %s\n", h.error().explain().c_str());
        st.failed = o.crashes;
        return st;
    }
    ClientHandle handle = h.value();
    double cpu0 = cpu_seconds(RUSAGE_SELF);
    for (int i = 0; i < o.crashes; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(o.crash_gap_ms));
        auto before = watch->count();
        Client c = handle.client();
        if (!c.valid() || !c.send_text("crash").ok()) {
            ++st.failed;
            continue;
        }
        auto at = watch->wait_for(before + 1, 5s);
        if (!at) {
            ++st.failed;
            std::fprintf(stderr, "crash %d: not reconnected within 5 s (status %s)\n", i,
                         std::string(zenws::to_string(handle.status())).c_str());
            continue;
        }
        Clock::time_point thrown{Clock::duration(watch->throw_at_ns.load(std::memory_order_acquire))};
        st.us.push_back(us_between(thrown, *at));
        st.add_phases(thrown, *phases, *at);
    }
    st.cpu_us_per_event = (cpu_seconds(RUSAGE_SELF) - cpu0) * 1e6 / std::max(1, o.crashes);
    *restarts_out = handle.restarts();
    sup.stop_all();
    return st;
}

// Drops through ServerDropper on a dedicated echo server when possible, else through DropProxy.
Stats measure_drops(const Options& o, std::uint64_t* reconnects_out, std::string* method) {
    Stats st;
    auto server = start_echo_server();
    if (!server) {
        st.failed = o.drops;
        return st;
    }
    ServerDropper dropper(server->pid());
    std::unique_ptr<DropProxy> proxy;
    std::uint16_t port = server->port();
    if (!dropper.usable()) {
        proxy = std::make_unique<DropProxy>(port);
        port = proxy->port();
    }
    zenws::Runtime rt(1);
    ClientSupervisor sup(rt);
    auto watch = std::make_shared<ConnectWatch>();
    ClientOptions co;
    co.on_connect = [watch](ClientHandle) { watch->on_connect(); };
    co.handlers.on_message = [](zenws::MessageView) {};
    auto phases = std::make_shared<PhaseObserver>();
    co.handlers.observer = phases;
    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    auto h = sup.start_client(cfg, co);
    if (!h.ok()) {
        std::fprintf(stderr, "start_client (drop): %s\n", h.error().explain().c_str());
        st.failed = o.drops;
        return st;
    }
    ClientHandle handle = h.value();
    double cpu0 = cpu_seconds(RUSAGE_SELF);
    for (int i = 0; i < o.drops; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(o.crash_gap_ms));
        auto before = watch->count();
        std::vector<int> fds;
        if (!proxy) {
            fds = dropper.grab();
            if (fds.empty()) {  // no permission after all: fall back to the forwarder for the remaining drops
                std::fprintf(stderr, "pidfd_getfd: %s; using the TCP forwarder\n", std::strerror(dropper.last_errno()));
                ++st.failed;
                break;
            }
        }
        auto t0 = Clock::now();
        if (proxy) proxy->drop_all();
        else ServerDropper::drop(fds);
        auto at = watch->wait_for(before + 1, 5s);
        if (!at) {
            ++st.failed;
            std::fprintf(stderr, "drop %d: not reconnected within 5 s\n", i);
            continue;
        }
        st.us.push_back(us_between(t0, *at));
        st.add_phases(t0, *phases, *at);
    }
    st.cpu_us_per_event = (cpu_seconds(RUSAGE_SELF) - cpu0) * 1e6 / std::max(1, o.drops);
    *reconnects_out = handle.metrics().counters.reconnects;
    *method = proxy ? "an in-process TCP forwarder (DropProxy) shutting down the client-side socket"
                    : "shutdown(SHUT_RDWR) of the echo server's own socket (pidfd_getfd)";
    sup.stop_all();
    std::this_thread::sleep_for(100ms);
    return st;
}

void print_phase_row(const char* name, const Stats& s) {
    std::printf("| %-44s | %10.0f | %10.0f | %10.0f | %10.0f | %10.0f |\n", name, median(s.to_down),
                median(s.to_attempt), median(s.to_open), median(s.to_callback), s.cpu_us_per_event);
}

void print_recovery_row(const char* name, const Stats& s, const char* goal) {
    double mx = s.us.empty() ? 0 : *std::max_element(s.us.begin(), s.us.end());
    std::printf("| %-44s | %5zu | %6d | %8.0f | %8.0f | %8.0f | %-10s |\n", name, s.us.size(), s.failed,
                percentile(s.us, 50), percentile(s.us, 99), mx, goal);
}

// ---- 2. send_balanced overhead --------------------------------------------------------------------------------------

struct Cost {
    double wall_ns = 0, cpu_ns = 0, caller_cpu_ns = 0;  // per message
    double in_call_ns = -1;                             // batched: wall time inside the send call, per message
    double in_call_cpu_ns = -1;                         // batched: calling thread CPU inside the send call
    int errors = 0;
};

// Completion counter shared by a batch's callbacks; outlives every batch (a callback may still be inside notify).
struct BatchState {
    std::atomic<std::int64_t> completed{0};
    std::atomic<int> errors{0};
    void complete(bool failed, std::int64_t target) {
        if (failed) errors.fetch_add(1, std::memory_order_relaxed);
        if (completed.fetch_add(1, std::memory_order_acq_rel) + 1 == target) completed.notify_all();
    }
};

template <class F>
Cost timed(int n, F&& body) {
    Cost c;
    double p0 = cpu_seconds(RUSAGE_SELF), t0c = cpu_seconds(RUSAGE_THREAD);
    auto t0 = Clock::now();
    c.errors = body(n, c);
    auto t1 = Clock::now();
    double p1 = cpu_seconds(RUSAGE_SELF), t1c = cpu_seconds(RUSAGE_THREAD);
    c.wall_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
    c.cpu_ns = (p1 - p0) * 1e9 / n;
    c.caller_cpu_ns = (t1c - t0c) * 1e9 / n;
    return c;
}

struct OverheadRow {
    std::vector<double> wall, cpu, caller, in_call, in_call_cpu;
    int errors = 0;
    void add(const Cost& c) {
        wall.push_back(c.wall_ns);
        cpu.push_back(c.cpu_ns);
        caller.push_back(c.caller_cpu_ns);
        if (c.in_call_ns >= 0) in_call.push_back(c.in_call_ns);
        if (c.in_call_cpu_ns >= 0) in_call_cpu.push_back(c.in_call_cpu_ns);
        errors += c.errors;
    }
};

void print_overhead(const char* mode, const OverheadRow& bal, const OverheadRow& dir) {
    auto line = [&](const char* what, const std::vector<double>& b, const std::vector<double>& d) {
        if (b.empty() || d.empty()) return;
        double mb = median(b), md = median(d);
        double nb = *std::min_element(b.begin(), b.end()), nd = *std::min_element(d.begin(), d.end());
        std::printf("| %-26s | %-36s | %10.0f | %10.0f | %5.2fx | %+9.0f | %8.0f | %8.0f | %+9.0f |\n", mode, what,
                    mb, md, md > 0 ? mb / md : 0.0, mb - md, nb, nd, nb - nd);
    };
    line("in-call thread CPU ns/msg", bal.in_call_cpu, dir.in_call_cpu);
    line("in-call wall ns/msg", bal.in_call, dir.in_call);
    line("wall ns/msg", bal.wall, dir.wall);
    line("CPU ns/msg (whole process)", bal.cpu, dir.cpu);
    line("CPU ns/msg (calling thread)", bal.caller, dir.caller);
    if (bal.errors || dir.errors) std::printf("(errors: balanced %d, direct %d)\n", bal.errors, dir.errors);
}

void measure_overhead(std::uint16_t port, const Options& o) {
    zenws::Runtime rt(1);
    ClientSupervisor sup(rt);
    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    std::vector<Client> direct;
    for (int i = 0; i < 3; ++i) {
        ClientOptions co;
        co.handlers.on_message = [](zenws::MessageView) {};
        auto h = sup.start_client(cfg, co);
        if (!h.ok()) {
            std::fprintf(stderr, "start_client (pool): %s\n", h.error().explain().c_str());
            return;
        }
        direct.push_back(h.value().client());
    }
    // 64 B JSON object without "id": send_balanced treats it as a plain send ("" once written).
    std::string msg = R"({"method":"public/ticker","params":{"instrument":")";
    msg += std::string(64 - msg.size() - 3, 'x') + "\"}}";
    if (msg.size() != 64) std::fprintf(stderr, "message is %zu B\n", msg.size());

    // -- one at a time: the blocking send_balanced vs send_text + the same promise/future wait
    auto bal_sync = [&](int n, Cost&) {
        int errors = 0;
        for (int i = 0; i < n; ++i) {
            auto r = sup.send_balanced(msg);
            if (!r.ok()) ++errors;
        }
        return errors;
    };
    auto dir_sync = [&](int n, Cost&) {
        int errors = 0;
        for (int i = 0; i < n; ++i) {
            auto promise = std::make_shared<std::promise<zenws::Error>>();
            auto future = promise->get_future();
            auto st = direct[static_cast<std::size_t>(i) % 3].send_text(
                std::string_view(msg), [promise](const zenws::Error& e) { promise->set_value(e); });
            if (!st.ok() || future.get()) ++errors;
        }
        return errors;
    };
    // -- batched: `window` calls back to back (timed), then a blocking wait for their completions
    BatchState state;
    auto batched = [&](int n, Cost& cost, auto&& issue) {
        state.completed.store(0);
        state.errors.store(0);
        std::int64_t in_call = 0, in_call_cpu = 0;
        auto thread_ns = [] {
            timespec ts{};
            ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
        };
        for (int base = 0; base < n; base += o.window) {
            const int m = std::min(o.window, n - base);
            const std::int64_t target = base + m;
            auto c0 = thread_ns();
            auto t0 = Clock::now();
            for (int i = base; i < base + m; ++i) issue(i, target);
            in_call += (Clock::now() - t0).count();
            in_call_cpu += thread_ns() - c0;
            for (auto c = state.completed.load(std::memory_order_acquire); c < target;
                 c = state.completed.load(std::memory_order_acquire)) {
                state.completed.wait(c, std::memory_order_acquire);
            }
        }
        cost.in_call_ns = static_cast<double>(in_call) / n;
        cost.in_call_cpu_ns = static_cast<double>(in_call_cpu) / n;
        return state.errors.load();
    };
    auto bal_batch = [&](int n, Cost& cost) {
        return batched(n, cost, [&](int, std::int64_t target) {
            sup.send_balanced_async(msg, {}, [&state, target](zenws::Result<std::string> r) {
                state.complete(!r.ok(), target);
            });
        });
    };
    auto dir_batch = [&](int n, Cost& cost) {
        return batched(n, cost, [&](int i, std::int64_t target) {
            auto st = direct[static_cast<std::size_t>(i) % 3].send_text(
                std::string_view(msg), [&state, target](const zenws::Error& e) { state.complete(bool(e), target); });
            if (!st.ok()) state.complete(true, target);
        });
    };

    // warm-up
    Cost scratch;
    bal_sync(2000, scratch);
    dir_sync(2000, scratch);
    bal_batch(20000, scratch);
    dir_batch(20000, scratch);

    OverheadRow bs, ds, ba, da;
    for (int r = 0; r < o.rounds; ++r) {  // interleaved, so machine drift hits both alike
        bs.add(timed(o.sync_count, bal_sync));
        ds.add(timed(o.sync_count, dir_sync));
        ba.add(timed(o.async_count, bal_batch));
        da.add(timed(o.async_count, dir_batch));
    }
    std::printf("| mode                       | measure                              | balanced   | direct     | ratio  | added ns  | min bal. | min dir. | added (min) |\n");
    std::printf("|----------------------------|--------------------------------------|-----------:|-----------:|-------:|----------:|---------:|---------:|----------:|\n");
    print_overhead("one at a time (blocking)", bs, ds);
    char mode[64];
    std::snprintf(mode, sizeof mode, "batches of %d (async form)", o.window);
    print_overhead(mode, ba, da);
    sup.stop_all();
    std::this_thread::sleep_for(100ms);
}

// ---- 3. idle footprint (child process) ------------------------------------------------------------------------------

struct AckCounter final : zenws::Observer {
    std::atomic<std::uint64_t> acks{0}, missed{0};
    void heartbeat_acknowledged(zenws::HeartbeatType, std::chrono::microseconds) override {
        acks.fetch_add(1, std::memory_order_relaxed);
    }
    void heartbeat_missed(zenws::HeartbeatType, int) override { missed.fetch_add(1, std::memory_order_relaxed); }
};

std::size_t heap_in_use() {
    struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

// plain: unsupervised Client::start (baseline). heartbeat_ms < 0: heartbeats off.
int idle_child(int n, int heartbeat_ms, int window_s, bool plain) {
    std::string note;
    rlim_t nofile = raise_nofile(25000, &note);  // before spawning the server: it inherits the limit
    auto server = start_echo_server();
    if (!server) return 1;
    const std::uint16_t port = server->port();

    // Declared before the supervisor: its destructor may still complete pending starts into them.
    std::mutex mu;
    std::condition_variable cv;
    int connected = 0, failed = 0, in_flight = 0;
    std::string first_error;
    std::vector<Client> plain_clients;

    zenws::Runtime rt(1);
    ClientSupervisorOptions so;
    ClientSupervisor sup(rt, so);
    auto acks = std::make_shared<AckCounter>();

    Config cfg;
    cfg.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    cfg.heartbeat.type = heartbeat_ms < 0 ? zenws::HeartbeatType::disabled : zenws::HeartbeatType::ping_pong;
    if (heartbeat_ms > 0) cfg.heartbeat.interval = std::chrono::milliseconds(heartbeat_ms);  // 0 = heartbeat_interval (default 30 s)
    ClientOptions co;
    co.handlers.on_message = [](zenws::MessageView) {};
    co.handlers.observer = acks;

    auto start_one = [&] {
        {
            std::lock_guard lk(mu);
            ++in_flight;
        }
        if (plain) {
            Client::start(rt, cfg, co.handlers, [&](zenws::Result<Client> r) {
                {
                    std::lock_guard lk(mu);
                    --in_flight;
                    if (r.ok()) {
                        ++connected;
                        plain_clients.push_back(r.value());
                    } else {
                        ++failed;
                        if (first_error.empty()) first_error = r.error().explain();
                    }
                }
                cv.notify_all();
            });
            return;
        }
        sup.start_client_async(cfg, co, [&](zenws::Result<ClientHandle> r) {
            {
                std::lock_guard lk(mu);
                --in_flight;
                if (r.ok()) {
                    ++connected;
                } else {
                    ++failed;
                    if (first_error.empty()) first_error = r.error().explain();
                }
            }
            cv.notify_all();
        });
    };
    auto wait_all = [&](int total, std::chrono::seconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return connected + failed >= total; });
    };

    // One warm-up client: the one-time costs (Asio reactor, the supervisor's strand, first allocations).
    start_one();
    wait_all(1, 10s);
    std::this_thread::sleep_for(200ms);
    ::malloc_trim(0);
    const long rss0 = vm_rss_kib();
    const std::size_t heap0 = heap_in_use();

    const int max_in_flight = 256;  // handshakes in flight at once (the server's accept queue is 4096)
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        {
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return in_flight < max_in_flight; });
            if (failed > 0 && failed > n / 100) break;  // give up early when connects keep failing
        }
        start_one();
    }
    bool all = wait_all(n + 1, 120s);
    auto t1 = Clock::now();
    int conn_now, failed_now;
    {
        std::lock_guard lk(mu);
        conn_now = connected - 1;
        failed_now = failed;
    }
    std::this_thread::sleep_for(2s);  // settle (with 1 s heartbeats: every client has sent and received pings)
    const long rss1 = vm_rss_kib();
    const std::size_t heap1 = heap_in_use();

    auto acks0 = acks->acks.load();
    auto missed0 = acks->missed.load();
    double cpu0 = cpu_seconds(RUSAGE_SELF), srv0 = proc_cpu_seconds(server->pid());
    auto w0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(window_s));
    double cpu1 = cpu_seconds(RUSAGE_SELF), srv1 = proc_cpu_seconds(server->pid());
    double wall = std::chrono::duration<double>(Clock::now() - w0).count();
    auto acks1 = acks->acks.load();
    auto missed1 = acks->missed.load();

    std::size_t still_connected = 0;
    for (auto& h : sup.list_clients()) still_connected += h.state() == State::connected;
    {
        std::lock_guard lk(mu);
        for (auto& c : plain_clients) still_connected += c.state() == State::connected;
    }

    const int denom = std::max(1, conn_now);
    std::printf("RESULT clients=%d connected=%d failed=%d all=%d connect_s=%.3f rss_kib_per_client=%.3f "
                "heap_kib_per_client=%.3f rss_total_mib=%.1f cpu_pct=%.3f server_cpu_pct=%.3f acks=%llu missed=%llu "
                "still_connected=%zu nofile=%llu\n",
                n, conn_now, failed_now, all ? 1 : 0, std::chrono::duration<double>(t1 - t0).count(),
                static_cast<double>(rss1 - rss0) / denom,
                (static_cast<double>(heap1) - static_cast<double>(heap0)) / 1024.0 / denom,
                static_cast<double>(rss1) / 1024.0, (cpu1 - cpu0) / wall * 100.0, (srv1 - srv0) / wall * 100.0,
                static_cast<unsigned long long>(acks1 - acks0), static_cast<unsigned long long>(missed1 - missed0),
                still_connected, static_cast<unsigned long long>(nofile));
    if (!note.empty()) std::printf("NOTE %s\n", note.c_str());
    if (!first_error.empty()) std::printf("NOTE first connect error: %s\n", first_error.c_str());
    std::fflush(stdout);
    sup.stop_all();
    {
        std::lock_guard lk(mu);
        for (auto& c : plain_clients) c.close();
    }
    std::this_thread::sleep_for(500ms);
    return 0;
}

// Runs `self --idle-child ...` and returns its RESULT / NOTE lines.
std::vector<std::string> run_idle_child(const char* self, int n, int heartbeat_ms, int window_s, bool plain) {
    std::string cmd(1, '\'');
    cmd += self;
    cmd += "' --idle-child " + std::to_string(n) + " " + std::to_string(heartbeat_ms) + " " + std::to_string(window_s) + (plain ? " plain" : "");
    std::vector<std::string> lines;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return lines;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, f)) {
        std::string l(buf);
        while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
        if (l.rfind("RESULT ", 0) == 0 || l.rfind("NOTE ", 0) == 0) lines.push_back(l);
    }
    int rc = ::pclose(f);
    if (rc != 0) lines.push_back("NOTE child exit status " + std::to_string(rc));
    return lines;
}

std::string field(const std::string& line, const std::string& key) {
    auto p = line.find(" " + key + "=");
    if (p == std::string::npos) return "?";
    p += key.size() + 2;
    auto e = line.find(' ', p);
    return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

}  // namespace

int main(int argc, char** argv) {
    if ((argc == 5 || argc == 6) && !std::strcmp(argv[1], "--idle-child")) {
        return idle_child(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]),
                          argc == 6 && !std::strcmp(argv[5], "plain"));
    }
    Options o;
    for (int i = 1; i < argc; ++i) {
        auto num = [&](int& v) {
            if (i + 1 >= argc) throw std::invalid_argument(argv[i]);
            v = std::atoi(argv[++i]);
        };
        try {
            if (!std::strcmp(argv[i], "--crashes")) num(o.crashes);
            else if (!std::strcmp(argv[i], "--crash-gap-ms")) num(o.crash_gap_ms);
            else if (!std::strcmp(argv[i], "--drops")) num(o.drops);
            else if (!std::strcmp(argv[i], "--sync-count")) num(o.sync_count);
            else if (!std::strcmp(argv[i], "--async-count")) num(o.async_count);
            else if (!std::strcmp(argv[i], "--window")) num(o.window);
            else if (!std::strcmp(argv[i], "--rounds")) num(o.rounds);
            else if (!std::strcmp(argv[i], "--idle-clients")) num(o.idle_clients);
            else if (!std::strcmp(argv[i], "--idle-window-s")) num(o.idle_window_s);
            else if (!std::strcmp(argv[i], "--skip-idle")) o.skip_idle = true;
            else if (!std::strcmp(argv[i], "--no-baselines")) o.no_baselines = true;
            else throw std::invalid_argument(argv[i]);
        } catch (...) {
            std::fprintf(stderr,
                         "usage: %s [--crashes N] [--crash-gap-ms MS] [--drops N] [--sync-count N] [--async-count N]"
                         " [--window W] [--rounds R] [--idle-clients N] [--idle-window-s S] [--skip-idle] [--no-baselines]\n",
                         argv[0]);
            return 2;
        }
    }
    std::string note;
    raise_nofile(25000, &note);  // inherited by the echo servers and the idle children
    auto server = start_echo_server();
    if (!server) return 1;

    std::printf("## 1. recovery time (one client, 127.0.0.1, zenws_echo_server)\n\n");
    std::printf("| event -> on_connect of the client             | n     | failed | p50 us   | p99 us   | max us   | goal       |\n");
    std::printf("|----------------------------------------------|------:|-------:|---------:|---------:|---------:|------------|\n");
    int restarts = 0;
    auto crashes = measure_crashes(server->port(), o, &restarts);
    print_recovery_row("supervised crash (handler throws) -> restart", crashes, "p99 <= 1000");
    std::uint64_t reconnects = 0;
    std::string drop_method;
    auto drops = measure_drops(o, &reconnects, &drop_method);
    print_recovery_row("server-side drop -> internal reconnect", drops, "-");
    std::printf("\nPhases (medians, us) and CPU of the whole process per recovery:\n\n");
    std::printf("| event                                        | -> torn down | -> attempt | -> upgraded | -> on_connect | CPU us/event |\n");
    std::printf("|----------------------------------------------|-----------:|-----------:|-----------:|-----------:|-----------:|\n");
    print_phase_row("supervised crash (handler throws) -> restart", crashes);
    print_phase_row("server-side drop -> internal reconnect", drops);
    std::printf("\n(one every %d ms; supervisor restarts counted by the handle: %d; drop = %s, client reconnects "
                "counted: %llu)\n\n",
                o.crash_gap_ms, restarts, drop_method.c_str(), static_cast<unsigned long long>(reconnects));
    std::fflush(stdout);

    std::printf("## 2. send_balanced vs Client::send_text, 64 B JSON text without id, pool of 3, median and min of %d interleaved rounds\n\n",
                o.rounds);
    measure_overhead(server->port(), o);
    std::printf("\n(one at a time: %d messages per variant per round; batched: %d per round)\n\n", o.sync_count,
                o.async_count);
    std::fflush(stdout);

    if (o.skip_idle) return 0;
    server.reset();
    std::printf("## 3. %d supervised idle clients, ping_pong heartbeats, Runtime(1), %d s idle window\n\n",
                o.idle_clients, o.idle_window_s);
    std::printf("| clients, heartbeat                   | connected | connect all, s | RSS KiB/client | heap KiB/client | RSS total MiB | idle CPU %% of a core | echo server CPU %% | heartbeat acks in window | missed |\n");
    std::printf("|--------------------------------------|----------:|---------------:|---------------:|----------------:|--------------:|---------------------:|------------------:|------------------------:|-------:|\n");
    std::vector<std::string> notes;
    struct Variant {
        int heartbeat_ms;
        bool plain;
        const char* label;
    };
    // The two asked-for runs, then baselines that attribute the footprint (heartbeats off; no supervisor).
    const Variant variants[] = {
        {1000, false, "supervised, ping_pong 1 s"},
        {0, false, "supervised, ping_pong 30 s (default)"},
        {-1, false, "supervised, heartbeat off"},
        {1000, true, "plain Client, ping_pong 1 s"},
        {-1, true, "plain Client, heartbeat off"},
    };
    for (const auto& v : variants) {
        if (o.no_baselines && (v.plain || v.heartbeat_ms < 0)) continue;
        const int hb = v.heartbeat_ms;
        auto lines = run_idle_child(argv[0], o.idle_clients, hb, o.idle_window_s, v.plain);
        std::string res;
        for (auto& l : lines) {
            if (l.rfind("RESULT ", 0) == 0) res = l;
            else if (std::find(notes.begin(), notes.end(), l) == notes.end()) notes.push_back(l);
        }
        if (res.empty()) {
            std::printf("| %-36s | (child failed) |\n", v.label);
            continue;
        }
        std::printf("| %-36s | %9s | %14s | %14s | %15s | %13s | %20s | %17s | %23s | %6s |\n", v.label,
                    field(res, "connected").c_str(), field(res, "connect_s").c_str(),
                    field(res, "rss_kib_per_client").c_str(), field(res, "heap_kib_per_client").c_str(),
                    field(res, "rss_total_mib").c_str(), field(res, "cpu_pct").c_str(),
                    field(res, "server_cpu_pct").c_str(), field(res, "acks").c_str(), field(res, "missed").c_str());
        std::fflush(stdout);
    }
    std::printf("\n");
    for (auto& n : notes) std::printf("%s\n", n.c_str() + 5);
    return 0;
}
