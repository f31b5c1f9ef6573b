// status.cpp — owns the observable state of the mock exchange: MockStatus (and its one-line JSON for the control
// port's `status`), a connection's ConnectionStatus, the server's snapshot of open and ended sessions, and
// MockExchange::status() / wait_until().
#include "server_internal.hpp"
#include "zenws/json_rpc.hpp"

namespace zenws::mock {

namespace {

void append_session(std::string& s, const SessionInfo& i) {
    s += ",\"authenticated\":";
    s += i.authenticated ? "true" : "false";
    s += ",\"client_id\":" + json_quote(i.client_id) + ",\"subscriptions\":[";
    for (std::size_t k = 0; k < i.subscriptions.size(); ++k) {
        if (k) s += ',';
        append_json_string(s, i.subscriptions[k]);
    }
    s += "],\"cancel_on_disconnect\":";
    s += i.cancel_on_disconnect ? "true" : "false";
    s += ",\"heartbeat_interval_ms\":" + std::to_string(i.heartbeat_interval_ms) + ",\"combined\":";
    s += i.combined ? "true" : "false";
    s += ",\"requests\":" + std::to_string(i.requests) + ",\"notifications\":" + std::to_string(i.notifications);
}

}  // namespace

std::string MockStatus::to_json() const {
    std::string s = "{\"dialect\":" + json_quote(dialect) + ",\"port\":" + std::to_string(port) +
                    ",\"control_port\":" + std::to_string(control_port) +
                    ",\"connections_total\":" + std::to_string(connections_total) +
                    ",\"handshakes_rejected\":" + std::to_string(handshakes_rejected) + ",\"connections\":[";
    for (std::size_t k = 0; k < connections.size(); ++k) {
        auto& c = connections[k];
        if (k) s += ',';
        s += "{\"id\":" + std::to_string(c.id) + ",\"path\":" + json_quote(c.path) + ",\"tls\":" +
             (c.tls ? "true" : "false");
        append_session(s, c.session);
        s += ",\"messages_in\":" + std::to_string(c.messages_in) + ",\"messages_out\":" + std::to_string(c.messages_out) +
             "}";
    }
    s += "],\"ended\":[";
    for (std::size_t k = 0; k < ended.size(); ++k) {
        auto& e = ended[k];
        if (k) s += ',';
        s += "{\"id\":" + std::to_string(e.id) + ",\"path\":" + json_quote(e.path) + ",\"reason\":\"" +
             std::string(to_string(e.reason)) + "\",\"close_code\":" + std::to_string(e.close_code) +
             ",\"close_reason\":" + json_quote(e.close_reason);
        append_session(s, e.session);
        s += "}";
    }
    s += "]}";
    return s;
}

const ConnectionStatus* MockStatus::find(std::uint64_t id) const {
    for (auto& c : connections)
        if (c.id == id) return &c;
    return nullptr;
}

const EndedSession* MockStatus::find_ended(std::uint64_t id) const {
    for (auto& e : ended)
        if (e.id == id) return &e;
    return nullptr;
}

ConnectionStatus Conn::status() const {
    ConnectionStatus c;
    c.id = id_;
    c.path = path_;
    c.tls = tls_.has_value();
    if (session_) c.session = session_->info();
    c.messages_in = messages_in_;
    c.messages_out = messages_out_;
    return c;
}

MockStatus MockExchange::Impl::status_now() const {
    MockStatus s;
    s.dialect = std::string(dialect->name());
    s.port = port;
    s.control_port = control_port;
    s.connections_total = connections_total;
    s.handshakes_rejected = handshakes_rejected;
    for (auto& [id, c] : conns)
        if (c->is_open()) s.connections.push_back(c->status());
    s.ended.assign(ended.begin(), ended.end());
    return s;
}

MockStatus MockExchange::status() const {
    return impl_->on_strand([this] { return impl_->status_now(); });
}

bool MockExchange::wait_until(const std::function<bool(const MockStatus&)>& predicate,
                              std::chrono::milliseconds timeout) const {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (predicate(status())) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace zenws::mock
