#include "daemon/underlay_guard.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace overmesh::daemon {

std::set<Ipv4Address> underlayMemberAddresses(const std::vector<api::Node>& nodes,
                                              std::vector<std::string>* skipped) {
  std::set<Ipv4Address> members;
  for (const auto& node : nodes) {
    if (auto address = Ipv4Address::parse(node.address)) {
      members.insert(*address);
    } else if (skipped != nullptr) {
      skipped->push_back(node.id + " \"" + node.address + "\"");
    }
  }
  return members;
}

std::optional<Ipv4Address> hostOfEndpoint(std::string_view endpoint) {
  auto colon = endpoint.rfind(':');
  auto address =
      Ipv4Address::parse(colon == std::string_view::npos ? endpoint : endpoint.substr(0, colon));
  if (!address) {
    return std::nullopt;
  }
  return *address;
}

UnderlayGuard::UnderlayGuard(std::unique_ptr<dataplane::UnderlayFilter> filter,
                             std::set<Ipv4Address> fixed, std::chrono::milliseconds retryAfter,
                             std::chrono::milliseconds checkEvery)
    : filter_(std::move(filter)),
      retryAfter_(retryAfter),
      checkEvery_(checkEvery),
      fixed_(std::move(fixed)),
      thread_([this] { run(); }) {}

UnderlayGuard::~UnderlayGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void UnderlayGuard::addFixedMember(Ipv4Address address) {
  {
    std::lock_guard lock(mutex_);
    if (!fixed_.insert(address).second) {
      return;
    }
    dirty_ = true;
  }
  changed_.notify_all();
}

void UnderlayGuard::update(const std::vector<api::Node>& nodes) {
  std::vector<std::string> skipped;
  auto members = underlayMemberAddresses(nodes, &skipped);
  {
    std::lock_guard lock(mutex_);
    if (nodes_ == members) {
      return;
    }
    nodes_ = std::move(members);
    dirty_ = true;
  }
  // Logged only when the set changes, not on every cache change.
  if (!skipped.empty()) {
    spdlog::warn("underlay filter: nodes without an IPv4 underlay address are not members: {}",
                 fmt::join(skipped, ", "));
  }
  changed_.notify_all();
}

std::string UnderlayGuard::problem() const {
  std::lock_guard lock(mutex_);
  return problem_;
}

std::set<Ipv4Address> UnderlayGuard::wantedLocked() const {
  std::set<Ipv4Address> wanted = fixed_;
  if (nodes_) {
    wanted.insert(nodes_->begin(), nodes_->end());
  }
  return wanted;
}

bool UnderlayGuard::tableVanished() {
  auto installed = filter_->installed();
  if (!installed) {
    if (!checkFailing_) {
      spdlog::warn("underlay filter: cannot tell whether the table is still there: {}",
                   installed.error().message);
    }
    checkFailing_ = true;
    return false;
  }
  checkFailing_ = false;
  return !*installed;
}

void UnderlayGuard::run() {
  // A table that exists already (the previous daemon's) keeps guarding until the cache
  // tells who the members are; when the kernel cannot say, install ours at once.
  auto installed = filter_->installed();
  if (!installed) {
    spdlog::warn("underlay filter: {}", installed.error().message);
  }
  bool keepExisting = installed && *installed;
  bool reinstalling = false;  // the table was found deleted; not yet put back
  std::unique_lock lock(mutex_);
  while (true) {
    const bool woken = changed_.wait_for(lock, checkEvery_, [this, &keepExisting] {
      return stopping_ || (dirty_ && (nodes_ || !keepExisting));
    });
    if (stopping_) {
      return;
    }
    if (!woken) {
      // Idle: the table holds the wanted members, or the previous daemon's table guards
      // until the nodes are known. Either way it must still be there.
      lock.unlock();
      const bool vanished = tableVanished();
      lock.lock();
      if (vanished) {
        // Logged once, when put back (or by the retry below when that fails).
        reinstalling = true;
        keepExisting = false;  // the previous daemon's members are gone with it
        dirty_ = true;
      }
      continue;
    }
    auto wanted = wantedLocked();
    dirty_ = false;
    lock.unlock();
    // The filter skips members it believes applied; remove() makes it forget them (there is
    // no table to delete) so that apply() installs the table whole.
    Status applied = reinstalling ? filter_->remove() : Status{};
    if (applied) {
      applied = filter_->apply(wanted);
    }
    lock.lock();
    if (applied) {
      if (reinstalling) {
        spdlog::warn("underlay filter: the table was removed by someone else; reinstalled");
      } else if (!problem_.empty()) {
        spdlog::info("underlay filter: applied again ({} members)", wanted.size());
      }
      reinstalling = false;
      problem_.clear();
      continue;
    }
    problem_ = applied.error().message;
    spdlog::warn("underlay filter: {}; retrying in {} ms", problem_, retryAfter_.count());
    dirty_ = true;
    changed_.wait_for(lock, retryAfter_, [this] { return stopping_; });
  }
}

}  // namespace overmesh::daemon
