#pragma once

// A HostObjects for unit tests: the host's namespaces, links and tables are sets; deletes
// remove from them and are recorded in `calls` ("delete link omvx7"). A name in `failing`
// makes its delete fail with Unavailable (and stay); `listFails` makes every listing fail.

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "dataplane/host_objects.h"

namespace overmesh::testing {

class FakeHostObjects final : public dataplane::HostObjects {
 public:
  std::set<std::string> namespaces;
  std::vector<dataplane::HostLink> links;
  std::set<dataplane::NftTableName> tables;
  std::set<std::string> failing;
  bool listFails = false;
  std::vector<std::string> calls;
  // Called with each delete as it is made (before it takes effect).
  std::function<void(const std::string&)> observer;

  Result<std::vector<std::string>> listNamespaces(const std::string& prefix) override {
    if (listFails) {
      return errorf(ErrorKind::Unavailable, "cannot read /run/netns");
    }
    std::vector<std::string> result;
    for (const auto& ns : namespaces) {
      if (ns.starts_with(prefix)) {
        result.push_back(ns);
      }
    }
    return result;
  }
  Result<std::vector<dataplane::HostLink>> listLinks() override {
    if (listFails) {
      return errorf(ErrorKind::Unavailable, "netlink refused");
    }
    return links;
  }
  Result<std::vector<dataplane::NftTableName>> listTables() override {
    if (listFails) {
      return errorf(ErrorKind::Unavailable, "nft refused");
    }
    return std::vector<dataplane::NftTableName>(tables.begin(), tables.end());
  }
  Status deleteNamespace(const std::string& name) override {
    record("delete namespace " + name);
    if (failing.contains(name)) {
      return errorf(ErrorKind::Unavailable, "{} is busy", name);
    }
    namespaces.erase(name);
    return {};
  }
  Status deleteLink(const std::string& name) override {
    record("delete link " + name);
    if (failing.contains(name)) {
      return errorf(ErrorKind::Unavailable, "{} is busy", name);
    }
    std::erase_if(links, [&](const dataplane::HostLink& link) { return link.name == name; });
    return {};
  }
  Status deleteTable(const dataplane::NftTableName& table) override {
    record("delete table " + table.family + " " + table.name);
    if (failing.contains(table.name)) {
      return errorf(ErrorKind::Unavailable, "{} is busy", table.name);
    }
    tables.erase(table);
    return {};
  }

 private:
  void record(const std::string& call) {
    calls.push_back(call);
    if (observer) {
      observer(call);
    }
  }
};

}  // namespace overmesh::testing
