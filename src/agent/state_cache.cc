#include "agent/state_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/json.h"
#include "state/keys.h"

namespace overmesh::agent {

void StateCache::replace(const std::vector<store::KeyValue>& kvs, store::Revision revision) {
  {
    std::lock_guard lock(mutex_);
    entries_.clear();
    nodes_.clear();
    for (const auto& kv : kvs) {
      entries_[kv.key] = kv.value;
      noteNodeLocked(kv.key, &kv.value);
    }
    revision_ = revision;
    synced_ = true;
  }
  changed(revision);
}

void StateCache::apply(const std::vector<store::Event>& events, store::Revision nextRevision) {
  store::Revision reached = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& event : events) {
      if (event.kv.modRevision <= revision_) {
        continue;
      }
      if (event.type == store::Event::Type::Put) {
        entries_[event.kv.key] = event.kv.value;
        noteNodeLocked(event.kv.key, &event.kv.value);
      } else {
        entries_.erase(event.kv.key);
        noteNodeLocked(event.kv.key, nullptr);
      }
    }
    revision_ = std::max(revision_, nextRevision - 1);
    reached = revision_;
  }
  changed(reached);
}

void StateCache::noteNodeLocked(const std::string& key, const std::string* value) {
  if (!key.starts_with(state::keys::kNodes)) {
    return;
  }
  if (value == nullptr) {
    nodes_.erase(key);
    return;
  }
  auto node = decodeJson<api::Node>(*value, key);
  if (!node) {
    spdlog::error("state cache: skipping {}: {}", key, node.error().message);
    nodes_.erase(key);
    return;
  }
  nodes_.insert_or_assign(key, std::move(*node));
}

void StateCache::changed(store::Revision revision) {
  revisionReached_.notify_all();
  if (onChange_) {
    onChange_(revision);
  }
}

store::Revision StateCache::revision() const {
  std::lock_guard lock(mutex_);
  return revision_;
}

bool StateCache::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

bool StateCache::waitForRevision(store::Revision revision,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return revisionReached_.wait_for(lock, timeout, [&] { return revision_ >= revision; });
}

void StateCache::setOnChange(std::function<void(store::Revision)> onChange) {
  onChange_ = std::move(onChange);
}

template <typename T>
std::vector<T> StateCache::decodeAll(std::string_view prefix) const {
  std::lock_guard lock(mutex_);
  std::vector<T> objects;
  for (auto it = entries_.lower_bound(std::string(prefix));
       it != entries_.end() && it->first.starts_with(prefix); ++it) {
    auto object = decodeJson<T>(it->second, it->first);
    if (!object) {
      spdlog::error("state cache: skipping {}: {}", it->first, object.error().message);
      continue;
    }
    objects.push_back(std::move(*object));
  }
  return objects;
}

std::vector<api::Network> StateCache::networks() const {
  auto networks = decodeAll<api::Network>(state::keys::kNetworks);
  std::sort(networks.begin(), networks.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return networks;
}

std::vector<api::Node> StateCache::nodes() const {
  std::vector<api::Node> nodes;
  {
    std::lock_guard lock(mutex_);
    nodes.reserve(nodes_.size());
    for (const auto& [key, node] : nodes_) {
      nodes.push_back(node);
    }
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const auto& a, const auto& b) { return a.hostname < b.hostname; });
  return nodes;
}

std::vector<api::Task> StateCache::tasks() const {
  return decodeAll<api::Task>(state::keys::kTasks);
}

api::RegistrySettings StateCache::registries() const {
  auto settings = decodeAll<api::RegistrySettings>(state::keys::kRegistries);
  return settings.empty() ? api::RegistrySettings{} : settings.front();
}

std::vector<api::Service> StateCache::services() const {
  auto services = decodeAll<api::Service>(state::keys::kServices);
  std::sort(services.begin(), services.end(),
            [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
  return services;
}

std::optional<std::string> StateCache::value(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end()) {
    return std::nullopt;
  }
  return found->second;
}

}  // namespace overmesh::agent
