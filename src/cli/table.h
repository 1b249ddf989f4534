#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace overmesh::cli {

// An aligned text table as Docker prints them: upper-case headers, columns separated
// by at least three spaces, no trailing whitespace.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void addRow(std::vector<std::string> cells);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace overmesh::cli
