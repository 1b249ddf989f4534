#include "agent/manager_endpoints.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/ip.h"
#include "common/quote.h"

namespace overmesh::agent {

Status checkManagerAddress(const std::string& address) {
  auto colon = address.rfind(':');
  auto bad = [&address](std::string_view why) -> Status {
    return errorf(ErrorKind::InvalidArgument,
                  "manager address {}: {}; expected IPv4 A.B.C.D:PORT with a port in 1..65535",
                  quote(address), why);
  };
  if (colon == std::string::npos) {
    return bad("no port");
  }
  if (!Ipv4Address::parse(std::string_view(address).substr(0, colon))) {
    return bad("not an IPv4 address");
  }
  unsigned port = 0;
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto parsed = std::from_chars(first, last, port);
  if (first == last || parsed.ec != std::errc() || parsed.ptr != last || port == 0 ||
      port > 65535) {
    return bad("bad port");
  }
  return {};
}

namespace {

// The valid, distinct addresses of `addresses` in their order, at most kMaxManagers.
std::vector<std::string> validAddresses(const std::vector<std::string>& addresses) {
  std::vector<std::string> valid;
  for (const auto& address : addresses) {
    if (valid.size() == kMaxManagers) {
      spdlog::warn("manager endpoints: more than {} managers named; the rest are ignored",
                   kMaxManagers);
      break;
    }
    if (auto checked = checkManagerAddress(address); !checked) {
      spdlog::warn("manager endpoints: {}", checked.error().message);
      continue;
    }
    if (std::find(valid.begin(), valid.end(), address) == valid.end()) {
      valid.push_back(address);
    }
  }
  return valid;
}

}  // namespace

Result<std::shared_ptr<ManagerEndpoints>> ManagerEndpoints::create(
    std::vector<std::string> addresses, const Clock& clock, OnChange onChange) {
  auto valid = validAddresses(addresses);
  if (valid.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "no valid manager address among {} given; expected A.B.C.D:PORT",
                  addresses.size());
  }
  return std::shared_ptr<ManagerEndpoints>(
      new ManagerEndpoints(std::move(valid), clock, std::move(onChange)));
}

ManagerEndpoints::ManagerEndpoints(std::vector<std::string> addresses, const Clock& clock,
                                   OnChange onChange)
    : clock_(clock), onChange_(std::move(onChange)), list_(std::move(addresses)) {
  current_ = list_.front();
}

std::string ManagerEndpoints::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::vector<std::string> ManagerEndpoints::addresses() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> result{current_};
  for (const auto& address : list_) {
    if (address != current_) {
      result.push_back(address);
    }
  }
  return result;
}

std::string ManagerEndpoints::leader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

std::uint64_t ManagerEndpoints::moves() const {
  std::lock_guard lock(mutex_);
  return moves_;
}

void ManagerEndpoints::moveTo(const std::string& address) {
  if (address != current_) {
    spdlog::info("manager endpoints: moving from {} to {}", current_, address);
    current_ = address;
    ++moves_;
  }
}

void ManagerEndpoints::moveAfter(const std::string& after) {
  auto at = std::find(list_.begin(), list_.end(), after);
  if (at == list_.end() || ++at == list_.end()) {
    moveTo(list_.front());
  } else {
    moveTo(*at);
  }
}

bool ManagerEndpoints::suspect(const std::string& address) const {
  auto failed = failedAt_.find(address);
  return failed != failedAt_.end() && clock_.now() - failed->second < kSuspectFor;
}

void ManagerEndpoints::notify(bool changed) {
  if (!changed || !onChange_) {
    return;
  }
  onChange_(addresses(), leader());
}

void ManagerEndpoints::learn(const std::string& leader, const std::vector<std::string>& managers) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    auto valid = validAddresses(managers);
    std::string newLeader = leader;
    if (!newLeader.empty() && !checkManagerAddress(newLeader)) {
      spdlog::warn("manager endpoints: {}", checkManagerAddress(newLeader).error().message);
      newLeader.clear();
    }
    if (!newLeader.empty() && !valid.empty() &&
        std::find(valid.begin(), valid.end(), newLeader) == valid.end()) {
      valid.insert(valid.begin(), newLeader);
      if (valid.size() > kMaxManagers) {
        valid.pop_back();
      }
    }
    if (!valid.empty() && valid != list_) {
      list_ = std::move(valid);
      changed = true;
    }
    if (!newLeader.empty() && std::find(list_.begin(), list_.end(), newLeader) == list_.end()) {
      // A leader outside a kept list (the reply had no list): add it.
      if (list_.size() == kMaxManagers) {
        list_.pop_back();
      }
      list_.push_back(newLeader);
      changed = true;
    }
    if (newLeader != leader_) {
      leader_ = newLeader;
      changed = true;
    }
    if (!leader_.empty()) {
      failedAt_.erase(leader_);
      moveTo(leader_);
    } else if (std::find(list_.begin(), list_.end(), current_) == list_.end()) {
      moveTo(list_.front());
    }
  }
  notify(changed);
}

void ManagerEndpoints::unreachable(const std::string& failed) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    failedAt_[failed] = clock_.now();
    if (leader_ == failed) {
      leader_.clear();
      changed = true;
    }
    if (current_ == failed) {
      moveAfter(failed);
    }
  }
  notify(changed);
}

void ManagerEndpoints::notLeader(const std::string& from, const std::string& leader) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    if (current_ != from) {
      return;  // another client moved already
    }
    bool usable =
        !leader.empty() && leader != from && checkManagerAddress(leader) && !suspect(leader);
    if (!usable) {
      moveAfter(from);
      return;
    }
    if (std::find(list_.begin(), list_.end(), leader) == list_.end()) {
      if (list_.size() == kMaxManagers) {
        list_.pop_back();
      }
      list_.push_back(leader);
    }
    changed = leader_ != leader;
    leader_ = leader;
    moveTo(leader);
  }
  notify(changed);
}

void ManagerEndpoints::reached(const std::string& address) {
  std::lock_guard lock(mutex_);
  failedAt_.erase(address);
}

std::chrono::milliseconds ManagerEndpoints::backoff(int attempt) {
  if (attempt <= 0) {
    return std::chrono::milliseconds(0);
  }
  auto pause = std::chrono::milliseconds(100);
  for (int i = 1; i < attempt && pause < std::chrono::milliseconds(1000); ++i) {
    pause *= 2;
  }
  return std::min(pause, std::chrono::milliseconds(1000));
}

}  // namespace overmesh::agent
