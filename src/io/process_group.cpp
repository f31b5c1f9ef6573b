// process_group.cpp — owns ProcessGroups (the :pg-like registry): membership per group, automatic leave through
// the client slots' termination hooks, and the discovery function for send_balanced.
#include "zenws/process_group.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

namespace zenws {

struct ProcessGroups::Impl : std::enable_shared_from_this<ProcessGroups::Impl> {
    mutable std::mutex mutex;
    std::map<std::string, std::vector<ClientHandle>> groups;
    std::set<std::uint64_t> hooked;  // slots carrying our termination hook

    void drop(std::uint64_t id) {
        std::lock_guard lock(mutex);
        hooked.erase(id);
        for (auto it = groups.begin(); it != groups.end();) {
            auto& v = it->second;
            v.erase(std::remove_if(v.begin(), v.end(), [id](const ClientHandle& h) { return h.id() == id; }), v.end());
            it = v.empty() ? groups.erase(it) : std::next(it);
        }
    }
};

ProcessGroups::ProcessGroups() : impl_(std::make_shared<Impl>()) {}
ProcessGroups::~ProcessGroups() = default;

ProcessGroups& ProcessGroups::global() {
    static ProcessGroups* registry = new ProcessGroups();  // never destroyed: usable from static destructors
    return *registry;
}

Status ProcessGroups::join(const std::string& group, const ClientHandle& handle) {
    if (!handle.valid()) return Error(Errc::not_found, "empty client handle");
    auto& slot = *handle.slot();
    bool need_hook;
    {
        std::lock_guard lock(impl_->mutex);
        need_hook = impl_->hooked.insert(slot.id).second;
    }
    {
        std::lock_guard lock(slot.mutex);
        if (slot.status == ChildStatus::stopped) {
            if (need_hook) {
                std::lock_guard l2(impl_->mutex);
                impl_->hooked.erase(slot.id);
            }
            return Error(Errc::not_found, "client " + std::to_string(slot.id) + " has terminated");
        }
        if (need_hook) {
            std::weak_ptr<Impl> weak = impl_;
            slot.on_terminate.push_back([weak](std::uint64_t id) {
                if (auto self = weak.lock()) self->drop(id);
            });
        }
    }
    {
        std::lock_guard lock(impl_->mutex);
        auto& v = impl_->groups[group];
        if (std::find(v.begin(), v.end(), handle) == v.end()) v.push_back(handle);
    }
    // It may have terminated between the check and the insertion: then its hook may already have run.
    if (handle.status() == ChildStatus::stopped) impl_->drop(slot.id);
    return {};
}

Status ProcessGroups::leave(const std::string& group, const ClientHandle& handle) {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->groups.find(group);
    if (it == impl_->groups.end()) return Error(Errc::not_found, "no group \"" + group + "\"");
    auto& v = it->second;
    auto m = std::find(v.begin(), v.end(), handle);
    if (m == v.end()) return Error(Errc::not_found, "client is not a member of \"" + group + "\"");
    v.erase(m);
    if (v.empty()) impl_->groups.erase(it);
    return {};
}

std::vector<ClientHandle> ProcessGroups::members(const std::string& group) const {
    std::vector<ClientHandle> out;
    {
        std::lock_guard lock(impl_->mutex);
        auto it = impl_->groups.find(group);
        if (it != impl_->groups.end()) out = it->second;
    }
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](const ClientHandle& h) { return h.status() == ChildStatus::stopped; }),
              out.end());
    return out;
}

std::vector<std::string> ProcessGroups::groups() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<std::string> out;
    for (auto& [name, v] : impl_->groups) {
        if (!v.empty()) out.push_back(name);
    }
    return out;
}

std::function<std::vector<ClientHandle>()> ProcessGroups::discovery(std::string group) const {
    // Keep the registry's state alive for as long as the function exists.
    return [impl = impl_, group = std::move(group)] {
        std::vector<ClientHandle> out;
        {
            std::lock_guard lock(impl->mutex);
            auto it = impl->groups.find(group);
            if (it != impl->groups.end()) out = it->second;
        }
        out.erase(std::remove_if(out.begin(), out.end(),
                                 [](const ClientHandle& h) { return h.status() == ChildStatus::stopped; }),
                  out.end());
        return out;
    };
}

}  // namespace zenws
