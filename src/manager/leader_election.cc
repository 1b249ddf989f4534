#include "manager/leader_election.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "common/json.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

// The pause after a failed store call, so an unreachable store is not hammered.
constexpr std::chrono::milliseconds kRetryPause{100};

std::chrono::milliseconds toMillis(std::chrono::steady_clock::duration duration) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(duration));
}

}  // namespace

Result<LeaderRecord> decodeLeaderRecord(std::string_view value) {
  return decodeObject<LeaderRecord>(value, "leader record",
                                    [](const nlohmann::json& json, LeaderRecord& record) {
                                      requireField(json, "nodeId", record.nodeId);
                                      requireField(json, "address", record.address);
                                      readField(json, "since", record.since);
                                    });
}

std::string encodeLeaderRecord(const LeaderRecord& record) {
  return dumpJson(
      {{"nodeId", record.nodeId}, {"address", record.address}, {"since", record.since}});
}

LeaderElection::LeaderElection(store::Store& store, const Clock& clock, LeaderIdentity self,
                               LeaderElectionOptions options, OnElected onElected,
                               OnDeposed onDeposed)
    : store_(store),
      clock_(clock),
      self_(std::move(self)),
      options_(options),
      onElected_(std::move(onElected)),
      onDeposed_(std::move(onDeposed)) {}

LeaderElection::~LeaderElection() { stop(); }

void LeaderElection::start() {
  thread_ = std::thread([this] { run(); });
}

void LeaderElection::stop() {
  {
    std::lock_guard lock(stopMutex_);
    stopping_.store(true);
  }
  stopWake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool LeaderElection::pause(std::chrono::milliseconds duration) {
  std::unique_lock lock(stopMutex_);
  return !stopWake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

// Thread: the election. Campaigns, renews the lease and watches the leader key; the
// callbacks it calls start and stop the leader's loops.
void LeaderElection::run() {
  while (!stopping_.load()) {
    bool ok = false;
    try {
      ok = step(options_.watchSlice);
    } catch (const std::exception& error) {
      spdlog::error("leader election: {}", error.what());
    } catch (...) {
      spdlog::error("leader election failed with an unknown exception");
    }
    if (!ok && !pause(kRetryPause)) {
      return;
    }
  }
}

Status LeaderElection::resign() {
  stop();
  bool wasLeading = false;
  {
    std::lock_guard lock(mutex_);
    wasLeading = leading_;
  }
  if (!wasLeading) {
    return {};
  }
  Status revoked;
  if (auto done = store_.revokeLease(lease_); !done && done.error().kind != ErrorKind::NotFound) {
    revoked = std::unexpected(done.error().withContext("resign the leadership"));
  }
  lease_ = 0;
  depose("resigned", false);
  return revoked;
}

bool LeaderElection::isLeader() const {
  auto sinceRenewal =
      clock_.now().time_since_epoch() - std::chrono::steady_clock::duration(renewedAtTicks_.load());
  std::lock_guard lock(mutex_);
  return leading_ && sinceRenewal < options_.ttl;
}

std::optional<LeaderRecord> LeaderElection::leader() const {
  std::lock_guard lock(mutex_);
  return leader_;
}

bool LeaderElection::logProblem(const Error& error, std::string_view doing) {
  std::string problem = fmt::format("{}: {}", doing, error.message);
  if (problem != lastProblem_) {
    spdlog::warn("leader election: {}", problem);
    lastProblem_ = std::move(problem);
  }
  return false;
}

std::chrono::milliseconds LeaderElection::untilNextRenew() const {
  auto now = clock_.now();
  auto deadline = std::min(nextRenew_, lastRenewed_ + options_.ttl);
  return toMillis(deadline - now);
}

bool LeaderElection::step(std::chrono::milliseconds maxWait) {
  // leading_ itself, not isLeader(): a lease past its TTL must still be deposed here (renew()
  // does it), which is what stops the leader's loops.
  auto leadingFlag = [this] {
    std::lock_guard lock(mutex_);
    return leading_;
  };
  if (leadingFlag()) {
    bool renewed = renew();
    if (!leadingFlag()) {
      return renewed;
    }
    return watchLeader(std::min(maxWait, untilNextRenew())) && renewed;
  }
  if (watchFrom_ == 0 && !readLeader()) {
    return false;
  }
  std::optional<LeaderRecord> known = leader();
  if (!known) {
    return campaign();
  }
  if (known->nodeId == self_.nodeId) {
    return clearStaleOwnKey();
  }
  if (!watchLeader(maxWait)) {
    return false;
  }
  // The key went (resignation, lease expiry): campaign now, not a step later.
  if (watchFrom_ == 0 || leader().has_value()) {
    return true;
  }
  return campaign();
}

bool LeaderElection::readLeader() {
  auto range = store_.range(std::string(state::keys::kLeader));
  if (!range) {
    return logProblem(range.error(), "read the leader key");
  }
  std::optional<LeaderRecord> found;
  store::Revision modRevision = 0;
  for (const auto& kv : range->kvs) {
    if (kv.key != state::keys::kLeader) {
      continue;
    }
    auto record = decodeLeaderRecord(kv.value);
    if (!record) {
      // Someone else's garbage still holds the key: nobody can be elected until it is
      // gone, so say so loudly; the watch sees it change.
      spdlog::error("leader election: the leader key holds no leader record: {}",
                    record.error().message);
      record = LeaderRecord{};
    }
    record->createRevision = kv.createRevision;
    found = std::move(*record);
    modRevision = kv.modRevision;
  }
  std::lock_guard lock(mutex_);
  leader_ = std::move(found);
  leaderModRevision_ = modRevision;
  watchFrom_ = range->revision + 1;
  return true;
}

bool LeaderElection::clearStaleOwnKey() {
  store::Txn txn;
  txn.compares.push_back(
      store::Compare::modRevisionIs(std::string(state::keys::kLeader), leaderModRevision_));
  txn.success.push_back(store::Operation::del(std::string(state::keys::kLeader)));
  auto result = store_.txn(txn);
  if (!result) {
    return logProblem(result.error(), "remove this node's stale leader key");
  }
  if (result->succeeded) {
    spdlog::info("leader election: removed the leader key of this node's previous run");
  }
  watchFrom_ = 0;  // read it again either way
  return true;
}

bool LeaderElection::campaign() {
  auto sent = clock_.now();
  auto lease = store_.grantLease(options_.ttl);
  if (!lease) {
    return logProblem(lease.error(), "grant a lease");
  }
  LeaderRecord record{self_.nodeId, self_.address, nowRfc3339(), 0};
  store::Txn txn;
  txn.compares.push_back(store::Compare::absent(std::string(state::keys::kLeader)));
  txn.success.push_back(
      store::Operation::put(std::string(state::keys::kLeader), encodeLeaderRecord(record), *lease));
  auto result = store_.txn(txn);
  if (!result || !result->succeeded) {
    // The lease is no use to a candidate; if the revoke fails it expires on its own.
    if (auto revoked = store_.revokeLease(*lease); !revoked) {
      spdlog::debug("leader election: revoke an unused lease: {}", revoked.error().message);
    }
    if (!result) {
      return logProblem(result.error(), "create the leader key");
    }
    watchFrom_ = 0;  // another manager leads: read who
    return true;
  }
  lastProblem_.clear();
  lease_ = *lease;
  fence_ = result->revision;  // the key was created by this txn
  lastRenewed_ = sent;
  renewedAtTicks_.store(sent.time_since_epoch().count());
  nextRenew_ = sent + options_.renewEvery;
  watchFrom_ = result->revision + 1;
  record.createRevision = result->revision;
  {
    std::lock_guard lock(mutex_);
    leading_ = true;
    leader_ = record;
    leaderModRevision_ = result->revision;
  }
  spdlog::info("leader election: this manager leads (node={} address={} fence={})", self_.nodeId,
               self_.address, fence_);
  if (onElected_) {
    onElected_(fence_);
  }
  return true;
}

bool LeaderElection::renew() {
  auto now = clock_.now();
  if (now - lastRenewed_ >= options_.ttl) {
    depose(fmt::format("no lease renewal succeeded for {} ms (is the store reachable?)",
                       options_.ttl.count()),
           false);
    return true;
  }
  if (now < nextRenew_) {
    return true;
  }
  auto kept = store_.keepAlive(lease_);
  if (kept) {
    lastProblem_.clear();
    lastRenewed_ = now;
    renewedAtTicks_.store(now.time_since_epoch().count());
    nextRenew_ = now + options_.renewEvery;
    return true;
  }
  if (kept.error().kind == ErrorKind::NotFound) {
    depose("the lease expired in the store", false);
    return true;
  }
  nextRenew_ = now + std::max(std::chrono::milliseconds(10), options_.renewEvery / 4);
  if (clock_.now() - lastRenewed_ >= options_.ttl) {
    depose(fmt::format("no lease renewal succeeded for {} ms: {}", options_.ttl.count(),
                       kept.error().message),
           false);
    return true;
  }
  return logProblem(kept.error(), "renew the leader lease");
}

bool LeaderElection::watchLeader(std::chrono::milliseconds wait) {
  auto result = store_.watch(std::string(state::keys::kLeader), watchFrom_, wait);
  if (!result) {
    if (result.error().kind == ErrorKind::Compacted) {
      watchFrom_ = 0;  // read the key again
      return true;
    }
    return logProblem(result.error(), "watch the leader key");
  }
  for (const auto& event : result->events) {
    if (event.kv.key != state::keys::kLeader) {
      continue;
    }
    std::optional<LeaderRecord> current;
    if (event.type == store::Event::Type::Put) {
      auto record = decodeLeaderRecord(event.kv.value);
      current = record ? std::move(*record) : LeaderRecord{};
      current->createRevision = event.kv.createRevision;
    }
    bool lost = false;
    {
      std::lock_guard lock(mutex_);
      leader_ = current;
      leaderModRevision_ = event.kv.modRevision;
      lost = leading_ && (!current || current->createRevision != fence_);
    }
    if (lost) {
      depose(current ? "another manager re-created the leader key"
                     : "the leader key was deleted (lease expired or removed)",
             true);
    }
  }
  watchFrom_ = std::max(watchFrom_, result->nextRevision);
  return true;
}

void LeaderElection::depose(const std::string& reason, bool revoke) {
  if (revoke && lease_ != 0) {
    if (auto revoked = store_.revokeLease(lease_); !revoked) {
      spdlog::debug("leader election: revoke the lost lease: {}", revoked.error().message);
    }
  }
  lease_ = 0;
  fence_ = 0;
  {
    std::lock_guard lock(mutex_);
    if (!leading_) {
      return;
    }
    leading_ = false;
  }
  if (reason == "resigned") {
    spdlog::info("leader election: this manager resigned the leadership");
  } else {
    spdlog::warn("leader election: this manager no longer leads: {}", reason);
  }
  if (onDeposed_) {
    onDeposed_(reason);
  }
}

}  // namespace overmesh::manager
