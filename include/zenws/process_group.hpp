// zenws/process_group.hpp — owns ProcessGroups: a named-group registry of supervised clients, like Erlang's :pg.
// join / leave / members; a client leaves every group automatically when it terminates (stopped, closed by the
// user, or removed after failing). Usable from on_connect / on_disconnect and as send_balanced's client_discovery.
// Thread-safe; never calls user code.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "zenws/error.hpp"
#include "zenws/supervisor.hpp"

namespace zenws {

class ProcessGroups {
public:
    ProcessGroups();
    ~ProcessGroups();
    ProcessGroups(const ProcessGroups&) = delete;
    ProcessGroups& operator=(const ProcessGroups&) = delete;

    // Adds the client to `group` (joining twice is a no-op). Errc::not_found for an empty or terminated handle.
    Status join(const std::string& group, const ClientHandle& handle);
    // Errc::not_found when it is not a member.
    Status leave(const std::string& group, const ClientHandle& handle);
    // Live members in join order.
    std::vector<ClientHandle> members(const std::string& group) const;
    std::vector<std::string> groups() const;  // non-empty groups, sorted
    // A client_discovery function for send_balanced (keeps the registry alive).
    std::function<std::vector<ClientHandle>()> discovery(std::string group) const;

    // A process-wide registry.
    static ProcessGroups& global();

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace zenws
