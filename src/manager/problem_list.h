#pragma once

// Problems collected while checking a whole request (stack deploy), so the user fixes a
// file once instead of once per problem: one line each; the error's kind is the first
// problem's.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::manager {

class ProblemList {
 public:
  void add(ErrorKind kind, std::string line) {
    if (lines_.empty()) {
      kind_ = kind;
    }
    lines_.push_back(std::move(line));
  }
  void add(const Error& error) { add(error.kind, error.message); }
  bool empty() const { return lines_.empty(); }
  Error error() const { return Error{kind_, fmt::format("{}", fmt::join(lines_, "\n"))}; }

 private:
  ErrorKind kind_ = ErrorKind::InvalidArgument;
  std::vector<std::string> lines_;
};

}  // namespace overmesh::manager
