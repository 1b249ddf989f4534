#pragma once

// Reading every record of one kind from the Store, decoded, with the mod revision each
// was read at (for compare-and-swap). One copy for every manager.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "manager/object_lookup.h"
#include "store/store.h"

namespace overmesh::manager {

template <typename T>
using Records = std::vector<std::pair<T, store::Revision>>;

// Every record under `prefix`, in key order. Unavailable on a store error; Internal when
// a record does not decode (the store holds only what managers wrote).
template <typename T>
Result<Records<T>> readRecords(store::Store& store, std::string_view prefix) {
  auto range = store.range(std::string(prefix));
  if (!range) {
    return std::unexpected(range.error());
  }
  Records<T> objects;
  objects.reserve(range->kvs.size());
  for (const auto& kv : range->kvs) {
    auto object = decodeJson<T>(kv.value, kv.key);
    if (!object) {
      return errorf(ErrorKind::Internal, "corrupt record: {}", object.error().message);
    }
    objects.emplace_back(std::move(*object), kv.modRevision);
  }
  return objects;
}

// The records without their revisions.
template <typename T>
std::vector<T> valuesOf(Records<T> records) {
  std::vector<T> values;
  values.reserve(records.size());
  for (auto& [value, revision] : records) {
    values.push_back(std::move(value));
  }
  return values;
}

// The values under `prefix`, for reads that compare no revision.
template <typename T>
Result<std::vector<T>> readValues(store::Store& store, std::string_view prefix) {
  auto records = readRecords<T>(store, prefix);
  if (!records) {
    return std::unexpected(records.error());
  }
  return valuesOf(std::move(*records));
}

// (id, name) of each record, for findByReference.
template <typename T>
std::vector<NamedObject> namesOf(const Records<T>& records) {
  std::vector<NamedObject> named;
  named.reserve(records.size());
  for (const auto& [object, revision] : records) {
    named.push_back({object.id, object.name});
  }
  return named;
}

// The revision the guard key was last written at; 0 when it was never written.
inline Result<store::Revision> guardRevision(store::Store& store, const std::string& key) {
  auto guard = store.get(key);
  if (!guard) {
    return std::unexpected(guard.error());
  }
  return *guard ? (*guard)->modRevision : 0;
}

}  // namespace overmesh::manager
