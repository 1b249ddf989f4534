#include "dns/resolv_conf.h"

namespace overmesh::dns {

namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view nextWord(std::string_view& line) {
  std::size_t start = 0;
  while (start < line.size() && isBlank(line[start])) {
    ++start;
  }
  std::size_t end = start;
  while (end < line.size() && !isBlank(line[end])) {
    ++end;
  }
  std::string_view word = line.substr(start, end - start);
  line.remove_prefix(end);
  return word;
}

}  // namespace

std::vector<Ipv4Address> parseResolvConf(std::string_view text) {
  static const Ipv4Address self = Ipv4Address::parse("127.0.0.11").value();
  std::vector<Ipv4Address> upstreams;
  while (!text.empty() && upstreams.size() < kMaxUpstreams) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (nextWord(line) != "nameserver") {
      continue;  // comments, blank lines, search/options lines
    }
    auto address = Ipv4Address::parse(nextWord(line));
    if (address && *address != self) {
      upstreams.push_back(*address);
    }
  }
  return upstreams;
}

}  // namespace overmesh::dns
