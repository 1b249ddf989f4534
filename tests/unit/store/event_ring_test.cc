#include "store/etcd/event_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace overmesh::store::etcd {
namespace {

Event ringEvent(const std::string& key, Revision revision) {
  Event event;
  event.kv.key = key;
  event.kv.modRevision = revision;
  return event;
}

std::vector<std::string> ringKeys(const WatchResult& result) {
  std::vector<std::string> keys;
  for (const auto& event : result.events) {
    keys.push_back(event.kv.key);
  }
  return keys;
}

TEST(EventRingTest, AnswersFromItsFirstRevisionWithTheResumePoint) {
  EventRing ring(100, 1U << 20, 4);
  EXPECT_EQ(ring.coveredFrom(), 5);
  EXPECT_EQ(ring.read("", 4, 10), std::nullopt);  // older than the ring
  WatchResult empty = *ring.read("", 5, 10);
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.nextRevision, 5);

  ring.append({ringEvent("a/1", 5), ringEvent("b/1", 5)});
  ring.append({ringEvent("b/2", 6)});
  WatchResult a = *ring.read("a/", 5, 10);
  EXPECT_EQ(ringKeys(a), (std::vector<std::string>{"a/1"}));
  EXPECT_EQ(a.nextRevision, 7);
  WatchResult later = *ring.read("a/", 6, 10);
  EXPECT_TRUE(later.events.empty());
  EXPECT_EQ(later.nextRevision, 7);                  // covers revision 6 although nothing matched
  EXPECT_EQ(ring.read("", 9, 10)->nextRevision, 9);  // a future revision stays where it is
}

TEST(EventRingTest, RepeatedEventsOfAResumedStreamAreIgnored) {
  EventRing ring(100, 1U << 20, 0);
  ring.append({ringEvent("a", 1), ringEvent("b", 1)});
  ring.append({ringEvent("a", 1), ringEvent("b", 1), ringEvent("c", 2)});
  EXPECT_EQ(ringKeys(*ring.read("", 1, 10)), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EventRingTest, DropsWholeOldRevisionsPastItsCapacity) {
  EventRing ring(3, 1U << 20, 0);
  ring.append({ringEvent("a", 1), ringEvent("b", 1)});
  ring.append({ringEvent("c", 2), ringEvent("d", 2)});
  EXPECT_EQ(ring.coveredFrom(), 2);
  EXPECT_EQ(ring.size(), 2U);
  EXPECT_EQ(ring.read("", 1, 10), std::nullopt);
  // One revision bigger than the capacity stays whole.
  ring.append({ringEvent("e", 3), ringEvent("f", 3), ringEvent("g", 3), ringEvent("h", 3)});
  EXPECT_EQ(ring.coveredFrom(), 3);
  EXPECT_EQ(ring.read("", 3, 10)->events.size(), 4U);
}

TEST(EventRingTest, DropsOldRevisionsPastItsByteBound) {
  EventRing ring(100, 10, 0);
  ring.append({ringEvent("aaaa", 1)});
  ring.append({ringEvent("bbbb", 2)});
  EXPECT_EQ(ring.bytes(), 8U);
  ring.append({ringEvent("cccc", 3)});
  EXPECT_EQ(ring.bytes(), 8U);
  EXPECT_EQ(ring.coveredFrom(), 2);
  // A revision bigger than the bound alone stays (the newest is always kept).
  ring.append({ringEvent(std::string(50, 'x'), 4)});
  EXPECT_EQ(ring.coveredFrom(), 4);
  EXPECT_EQ(ring.read("", 4, 10)->events.size(), 1U);
}

TEST(EventRingTest, CapsAnAnswerOnARevisionBoundary) {
  EventRing ring(100, 1U << 20, 0);
  for (Revision revision = 1; revision <= 5; ++revision) {
    ring.append({ringEvent("k", revision), ringEvent("l", revision)});
  }
  WatchResult first = *ring.read("", 1, 3);
  EXPECT_EQ(first.events.size(), 4U);  // revision 2 is not split
  EXPECT_EQ(first.nextRevision, 3);
  WatchResult rest = *ring.read("", first.nextRevision, 100);
  EXPECT_EQ(rest.events.size(), 6U);
  EXPECT_EQ(rest.nextRevision, 6);
}

TEST(EventRingTest, ResetForgetsEverything) {
  EventRing ring(100, 1U << 20, 0);
  ring.append({ringEvent("a", 1)});
  ring.reset(9);
  EXPECT_EQ(ring.coveredFrom(), 10);
  EXPECT_EQ(ring.last(), 9);
  EXPECT_EQ(ring.read("", 5, 10), std::nullopt);
}

}  // namespace
}  // namespace overmesh::store::etcd
