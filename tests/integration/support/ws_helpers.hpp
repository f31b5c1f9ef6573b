// support/ws_helpers.hpp — owns small client-side helpers shared by the integration tests: a base config for a
// one-shot test connection, a thread-safe recorder of on_close/on_message (handlers run on the I/O thread), an
// echo peer that is safe against messages arriving before connect() returned, and a "fetch one text message" call.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "zenws/client.hpp"
#include "zenws/config.hpp"
#include "zenws/runtime.hpp"

namespace zenws::test {

using namespace std::chrono_literals;

// One attempt, no reconnects: what a test of a single connection wants.
inline Config single_shot_config(std::string url, std::chrono::milliseconds timeout = 5s) {
    Config cfg;
    cfg.url = std::move(url);
    cfg.retry_count = 0;
    cfg.reconnect_on_error = false;
    cfg.timeout = timeout;
    return cfg;
}

// Records what the handlers saw; the test thread waits on it with deadlines. With `echo` set, every message is sent
// back with the same opcode; messages that arrive before the Client handle is known are queued and flushed in order.
struct Recorder : std::enable_shared_from_this<Recorder> {
    std::mutex mu;
    std::condition_variable cv;
    bool echo = false;
    std::optional<Client> client;               // set once connected (cleared by detach() to break the cycle)
    std::vector<Message> early;                 // echo: messages seen before the handle was known
    std::vector<Message> messages;              // non-echo: messages received
    std::optional<CloseInfo> close;
    std::optional<Error> connect_error;
    bool connected = false;
    std::vector<std::string> errors;

    Handlers handlers(bool with_on_message = true) {
        Handlers h;
        auto self = shared_from_this();
        if (with_on_message) {
            h.on_message = [self](MessageView m) {
                std::lock_guard lk(self->mu);
                if (self->echo) {
                    if (self->client) {
                        auto st = self->client->send(m.opcode, m.data);
                        if (!st.ok()) self->errors.push_back("echo send failed: " + st.error().explain());
                    } else {
                        self->early.push_back(Message{m.opcode, std::string(m.data)});
                    }
                } else {
                    self->messages.push_back(Message{m.opcode, std::string(m.data)});
                }
                self->cv.notify_all();
            };
        }
        h.on_close = [self](const CloseInfo& c) {
            std::lock_guard lk(self->mu);
            if (!self->close) self->close = c;
            self->cv.notify_all();
        };
        h.on_error = [self](const Error& e) {
            std::lock_guard lk(self->mu);
            self->errors.push_back(e.explain());
        };
        return h;
    }

    // Connects with Client::start so the handle is stored on the connection's executor, before frames that the
    // server sent right behind the 101 can be dispatched (and queues them otherwise).
    bool start(const Config& cfg, std::chrono::milliseconds timeout = 10s) {
        auto self = shared_from_this();
        Client::start(Runtime::shared(), cfg, handlers(), [self](Result<Client> r) {
            std::lock_guard lk(self->mu);
            if (r.ok()) {
                self->client = r.value();
                self->connected = true;
                for (auto& m : self->early) (void)self->client->send(m.opcode, m.data);
                self->early.clear();
            } else {
                self->connect_error = r.error();
            }
            self->cv.notify_all();
        });
        std::unique_lock lk(mu);
        cv.wait_for(lk, timeout, [&] { return connected || connect_error.has_value(); });
        return connected;
    }

    bool wait_close(std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return close.has_value(); });
    }

    bool wait_messages(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu);
        return cv.wait_for(lk, timeout, [&] { return messages.size() >= n || close.has_value(); }) &&
               messages.size() >= n;
    }

    // Closes the connection (if still open) and drops the handle so handlers and client don't keep each other.
    void detach() {
        std::optional<Client> c;
        {
            std::lock_guard lk(mu);
            c.swap(client);
        }
        if (c) c->close();
    }
};

// Connects to `url`, returns the first message's text (via the receive() inbox), then closes. nullopt + `error`.
inline std::optional<std::string> fetch_one_text(const std::string& url, std::string* error = nullptr,
                                                 std::chrono::milliseconds timeout = 10s) {
    auto r = Client::connect(single_shot_config(url));
    if (!r.ok()) {
        if (error) *error = "connect " + url + ": " + r.error().explain();
        return std::nullopt;
    }
    Client c = r.value();
    auto m = c.receive(timeout);
    c.close_and_wait(2s);
    if (!m) {
        if (error) *error = "no message from " + url + " within timeout";
        return std::nullopt;
    }
    return m->data;
}

}  // namespace zenws::test
