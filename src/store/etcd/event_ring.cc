#include "store/etcd/event_ring.h"

#include <algorithm>

namespace overmesh::store::etcd {

namespace {
std::size_t ringEventBytes(const Event& event) {
  return event.kv.key.size() + event.kv.value.size();
}
}  // namespace

EventRing::EventRing(std::size_t capacity, std::size_t capacityBytes, Revision revision)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      capacityBytes_(capacityBytes),
      coveredFrom_(revision + 1),
      last_(revision) {}

void EventRing::append(const std::vector<Event>& events) {
  // A message carries whole revisions, so everything at or below the revision the ring
  // had before it is a repeat (a resumed stream) and is skipped.
  const Revision before = last_;
  for (const Event& event : events) {
    if (event.kv.modRevision <= before) {
      continue;
    }
    events_.push_back(event);
    bytes_ += ringEventBytes(event);
    last_ = std::max(last_, event.kv.modRevision);
  }
  // Drop the oldest revisions whole until the ring fits (the newest revision always stays).
  while (events_.size() > capacity_ || bytes_ > capacityBytes_) {
    Revision oldest = events_.front().kv.modRevision;
    if (oldest == last_) {
      break;
    }
    while (!events_.empty() && events_.front().kv.modRevision == oldest) {
      bytes_ -= ringEventBytes(events_.front());
      events_.pop_front();
    }
    coveredFrom_ = oldest + 1;
  }
}

void EventRing::reset(Revision revision) {
  events_.clear();
  bytes_ = 0;
  coveredFrom_ = revision + 1;
  last_ = revision;
}

std::optional<WatchResult> EventRing::read(const std::string& prefix, Revision from,
                                           std::size_t maxEvents) const {
  if (from < coveredFrom_) {
    return std::nullopt;
  }
  WatchResult result;
  auto it = std::lower_bound(
      events_.begin(), events_.end(), from,
      [](const Event& event, Revision revision) { return event.kv.modRevision < revision; });
  for (; it != events_.end(); ++it) {
    if (!result.events.empty() && result.events.size() >= maxEvents &&
        it->kv.modRevision != result.events.back().kv.modRevision) {
      result.nextRevision = result.events.back().kv.modRevision + 1;
      return result;
    }
    if (it->kv.key.starts_with(prefix)) {
      result.events.push_back(*it);
    }
  }
  result.nextRevision = std::max(from, last_ + 1);
  return result;
}

}  // namespace overmesh::store::etcd
