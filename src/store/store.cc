#include "store/store.h"

#include <utility>

namespace overmesh::store {

Compare Compare::modRevisionIs(std::string key, Revision revision) {
  Compare compare;
  compare.key = std::move(key);
  compare.target = Target::ModRevision;
  compare.op = Op::Equal;
  compare.number = revision;
  return compare;
}

Compare Compare::absent(std::string key) {
  Compare compare;
  compare.key = std::move(key);
  compare.target = Target::CreateRevision;
  compare.op = Op::Equal;
  compare.number = 0;
  return compare;
}

Compare Compare::valueIs(std::string key, std::string value) {
  Compare compare;
  compare.key = std::move(key);
  compare.target = Target::Value;
  compare.op = Op::Equal;
  compare.value = std::move(value);
  return compare;
}

Operation Operation::put(std::string key, std::string value, LeaseId lease) {
  Operation operation;
  operation.type = Type::Put;
  operation.key = std::move(key);
  operation.value = std::move(value);
  operation.lease = lease;
  return operation;
}

Operation Operation::del(std::string key) {
  Operation operation;
  operation.type = Type::Delete;
  operation.key = std::move(key);
  return operation;
}

Operation Operation::delPrefix(std::string prefix) {
  Operation operation;
  operation.type = Type::DeletePrefix;
  operation.key = std::move(prefix);
  return operation;
}

Result<Revision> Store::put(const std::string& key, const std::string& value, LeaseId lease) {
  Txn request;
  request.success.push_back(Operation::put(key, value, lease));
  auto result = txn(request);
  if (!result) {
    return std::unexpected(result.error());
  }
  return result->revision;
}

Result<Revision> Store::del(const std::string& key) {
  Txn request;
  request.success.push_back(Operation::del(key));
  auto result = txn(request);
  if (!result) {
    return std::unexpected(result.error());
  }
  return result->revision;
}

std::string prefixRangeEnd(const std::string& prefix) {
  // Same rule as etcd's GetPrefixRangeEnd: bump the last byte that is not 0xff and drop
  // what follows it. A prefix made only of 0xff bytes (or empty) has no upper bound.
  std::string end = prefix;
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace overmesh::store
