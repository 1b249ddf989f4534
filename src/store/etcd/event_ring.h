#pragma once

// The etcd store's local copy of recent history: every event of the key space, in
// revision order, for the revisions [coveredFrom(), last()]. Fed by the one etcd watch
// stream (EtcdStore's mirror thread); answers watch() without asking etcd.
//
// Bounded: past `capacity` events (or `capacityBytes` of keys and values) the oldest
// revisions are dropped whole, and coveredFrom()
// moves past them (a watch from before it needs etcd's own history).
//
// Not thread-safe: the store guards it with its mutex. Pure, unit-tested.

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace overmesh::store::etcd {

class EventRing {
 public:
  // Covers nothing yet: the history up to `revision` is not here (coveredFrom = revision+1).
  EventRing(std::size_t capacity, std::size_t capacityBytes, Revision revision);

  // Appends the events of one watch message (whole revisions, in order). Events at or
  // below last() are ignored (a resumed stream repeats nothing, but a duplicate must not
  // be counted twice). Moves last() to the newest event's revision.
  void append(const std::vector<Event>& events);
  // Forgets everything: the ring covers nothing up to `revision` (after a gap it cannot
  // fill, e.g. the stream's resume point was compacted).
  void reset(Revision revision);

  Revision coveredFrom() const { return coveredFrom_; }
  Revision last() const { return last_; }
  std::size_t size() const { return events_.size(); }
  std::size_t bytes() const { return bytes_; }

  // The events under `prefix` from revision `from` (>= coveredFrom()), at most
  // `maxEvents` of them (a revision is never split, so it may be a few more), and the
  // revision to resume from: one past the last revision the answer covers. nullopt when
  // `from` is older than the ring.
  std::optional<WatchResult> read(const std::string& prefix, Revision from,
                                  std::size_t maxEvents) const;

 private:
  std::size_t capacity_;
  std::size_t capacityBytes_;
  std::size_t bytes_ = 0;  // keys and values of events_
  std::deque<Event> events_;
  Revision coveredFrom_;
  Revision last_;
};

}  // namespace overmesh::store::etcd
