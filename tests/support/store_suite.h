#pragma once

// The Store test suite's fixture, shared by both backends (tests/unit/store/): each
// backend supplies a StoreBackend that opens a fresh, empty store and makes time pass
// (SQLite: a ManualClock advanced at once; etcd: real time, since etcd expires leases by
// its own clock). The suite's tests live in tests/unit/store/store_suite_test.cc and are
// instantiated once per backend (sqlite_store_test.cc, etcd_store_test.cc), so one
// behaviour is specified once.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/store.h"
#include "support/scratch.h"

namespace overmesh::store::suite {

using namespace std::chrono_literals;
using overmesh::testing::must;

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // A fresh, empty store (called once per test).
  virtual std::unique_ptr<Store> openStore() = 0;
  // Lets `duration` pass for lease TTLs.
  virtual void elapse(std::chrono::milliseconds duration) = 0;
};

struct BackendParam {
  const char* name;
  std::unique_ptr<StoreBackend> (*make)();
};

// gtest prints a parameter in test names and failures: the backend's name, not its bytes.
inline void PrintTo(const BackendParam& param, std::ostream* out) { *out << param.name; }

inline std::string backendName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

class StoreSuite : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    store_ = backend_->openStore();
    base_ = must(store_->currentRevision());
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }

  // The revision after the n-th write transaction of the test (a new SQLite store starts
  // at 0, a new etcd at 1).
  Revision rev(int n) const { return base_ + n; }
  Store& store() { return *store_; }

  // Lets time pass in steps of 100 ms until `done()` holds, at most `limit`.
  template <typename Done>
  bool eventually(Done&& done, std::chrono::milliseconds limit = 10s) {
    for (auto waited = 0ms; waited <= limit; waited += 100ms) {
      if (done()) {
        return true;
      }
      backend_->elapse(100ms);
    }
    return done();
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
  Revision base_ = 0;
};

inline std::vector<std::string> keysOf(const RangeResult& range) {
  std::vector<std::string> keys;
  for (const auto& kv : range.kvs) {
    keys.push_back(kv.key);
  }
  return keys;
}

inline Txn putAll(std::vector<std::pair<std::string, std::string>> pairs) {
  Txn txn;
  for (auto& [key, value] : pairs) {
    txn.success.push_back(Operation::put(key, value));
  }
  return txn;
}

// Collects every event under `prefix` from `from` up to the current revision, one watch
// answer at a time, checking that answers line up with their nextRevision.
inline std::vector<Event> watchAll(Store& store, const std::string& prefix, Revision from) {
  std::vector<Event> events;
  Revision current = must(store.currentRevision());
  while (from <= current) {
    WatchResult answer = must(store.watch(prefix, from, 0ms));
    EXPECT_GT(answer.nextRevision, from);
    for (const auto& event : answer.events) {
      EXPECT_GE(event.kv.modRevision, from);
      EXPECT_LT(event.kv.modRevision, answer.nextRevision);
      events.push_back(event);
    }
    if (answer.nextRevision <= from) {
      break;  // reported above; do not loop forever
    }
    from = answer.nextRevision;
  }
  return events;
}

}  // namespace overmesh::store::suite
