#include "dataplane/host_firewall_rules.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

namespace overmesh::dataplane {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxRulesetBytes = 64u << 20;
constexpr int kMaxJumpDepth = 16;

// A string member of `object`, empty when missing or of another type.
std::string stringField(const Json& object, const char* name) {
  auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

struct Chain {
  std::string family, table, name, hook, policy;
  std::vector<const Json*> rules;  // the "rule" objects, in order
};

// The rule set, indexed: chains and named sets by "family table name".
struct Ruleset {
  std::map<std::string, Chain> chains;
  std::map<std::string, const Json*> sets;   // the set's "elem" array
  std::vector<std::string> baseInputChains;  // keys into chains, in listing order
};

std::string key(const std::string& family, const std::string& table, const std::string& name) {
  return family + " " + table + " " + name;
}

Ruleset indexRuleset(const Json& items) {
  Ruleset ruleset;
  for (const Json& item : items) {
    if (!item.is_object()) {
      continue;
    }
    if (auto chain = item.find("chain"); chain != item.end() && chain->is_object()) {
      Chain parsed{stringField(*chain, "family"), stringField(*chain, "table"),
                   stringField(*chain, "name"),   stringField(*chain, "hook"),
                   stringField(*chain, "policy"), {}};
      std::string id = key(parsed.family, parsed.table, parsed.name);
      bool ours = parsed.table.starts_with("overmesh_");
      bool ipv4 = parsed.family == "ip" || parsed.family == "inet";
      if (parsed.hook == "input" && ipv4 && !ours) {
        ruleset.baseInputChains.push_back(id);
      }
      ruleset.chains[id] = std::move(parsed);
    } else if (auto rule = item.find("rule"); rule != item.end() && rule->is_object()) {
      std::string id = key(stringField(*rule, "family"), stringField(*rule, "table"),
                           stringField(*rule, "chain"));
      ruleset.chains[id].rules.push_back(&*rule);  // a rule listed before its chain still counts
    } else if (auto set = item.find("set"); set != item.end() && set->is_object()) {
      if (auto elements = set->find("elem"); elements != set->end() && elements->is_array()) {
        ruleset.sets[key(stringField(*set, "family"), stringField(*set, "table"),
                         stringField(*set, "name"))] = &*elements;
      }
    }
  }
  return ruleset;
}

// Whether the value `right` of a port match covers `port`; nullopt when undecidable (a
// service name, a set that is not in the listing, an expression).
std::optional<bool> covers(const Json& right, std::uint16_t port, const Ruleset& ruleset,
                           const std::string& family, const std::string& table, int depth = 0) {
  if (depth > 4) {
    return std::nullopt;
  }
  if (right.is_number_integer()) {
    return right.get<std::int64_t>() == port;
  }
  if (right.is_string()) {
    std::string text = right.get<std::string>();
    if (text.starts_with("@")) {
      auto set = ruleset.sets.find(key(family, table, text.substr(1)));
      if (set == ruleset.sets.end()) {
        return std::nullopt;
      }
      return covers(Json{{"set", *set->second}}, port, ruleset, family, table, depth + 1);
    }
    return std::nullopt;
  }
  if (!right.is_object()) {
    return std::nullopt;
  }
  if (auto range = right.find("range"); range != right.end()) {
    if (range->is_array() && range->size() == 2 && (*range)[0].is_number_integer() &&
        (*range)[1].is_number_integer()) {
      return (*range)[0].get<std::int64_t>() <= port && port <= (*range)[1].get<std::int64_t>();
    }
    return std::nullopt;
  }
  if (auto elem = right.find("elem"); elem != right.end() && elem->is_object()) {
    if (auto value = elem->find("val"); value != elem->end()) {
      return covers(*value, port, ruleset, family, table, depth + 1);
    }
    return std::nullopt;
  }
  if (auto set = right.find("set"); set != right.end()) {
    if (!set->is_array()) {
      return covers(*set, port, ruleset, family, table, depth + 1);
    }
    bool unknown = false;
    for (const Json& element : *set) {
      auto covered = covers(element, port, ruleset, family, table, depth + 1);
      if (covered == true) {
        return true;
      }
      unknown = unknown || !covered;
    }
    return unknown ? std::nullopt : std::optional<bool>(false);
  }
  return std::nullopt;
}

// Whether a protocol value ("tcp", {"set": ["tcp", "udp"]}, 6, 17) includes `protocol`.
std::optional<bool> protocolCovers(const Json& right, const std::string& protocol) {
  int number = protocol == "tcp" ? 6 : 17;
  if (right.is_string()) {
    return right.get<std::string>() == protocol;
  }
  if (right.is_number_integer()) {
    return right.get<std::int64_t>() == number;
  }
  if (right.is_object()) {
    if (auto set = right.find("set"); set != right.end() && set->is_array()) {
      for (const Json& element : *set) {
        if (protocolCovers(element, protocol) == true) {
          return true;
        }
      }
      return false;
    }
  }
  return std::nullopt;
}

// How one rule's matches relate to one port.
struct RuleFit {
  bool relevant = true;      // false: the rule cannot match packets to the port
  bool conditional = false;  // it matches on something else too
  bool namesPort = false;    // it matches the port explicitly
  bool limited = false;      // a rate or quota lets only some packets reach the verdict
};

enum class Verdict { None, Accept, Drop, Reject, Jump, Return };

struct RuleVerdict {
  Verdict verdict = Verdict::None;
  std::string target;  // for Jump (jump and goto)
};

// Applies one "match" expression to `fit`.
void fitMatch(const Json& match, const NeededPort& port, const Ruleset& ruleset,
              const std::string& family, const std::string& table, RuleFit& fit) {
  std::string op = stringField(match, "op");
  auto left = match.find("left");
  auto right = match.find("right");
  if (left == match.end() || right == match.end() || !left->is_object()) {
    fit.conditional = true;
    return;
  }
  bool negated = op == "!=";
  bool equal = op == "==" || op == "in" || op.empty();
  if (auto payload = left->find("payload"); payload != left->end() && payload->is_object()) {
    std::string protocol = stringField(*payload, "protocol");
    std::string field = stringField(*payload, "field");
    if (field == "dport" && (protocol == "tcp" || protocol == "udp" || protocol == "th")) {
      if (protocol != "th" && protocol != port.protocol) {
        fit.relevant = false;  // "tcp dport ..." never matches a UDP packet
        return;
      }
      auto covered = covers(*right, port.port, ruleset, family, table);
      if (!covered || !(equal || negated)) {
        fit.conditional = true;
      } else if (*covered == negated) {
        fit.relevant = false;
      } else if (equal) {
        fit.namesPort = true;
      }
      return;
    }
    if ((protocol == "ip" && field == "protocol") || (protocol == "ip6" && field == "nexthdr")) {
      auto covered = protocolCovers(*right, port.protocol);
      if (!covered || !(equal || negated)) {
        fit.conditional = true;
      } else if (*covered == negated) {
        fit.relevant = false;
      }
      return;
    }
  }
  if (auto meta = left->find("meta"); meta != left->end() && meta->is_object()) {
    std::string metaKey = stringField(*meta, "key");
    if (metaKey == "l4proto" || metaKey == "protocol") {
      if (metaKey == "protocol") {  // the L3 protocol: ip / ip6
        auto l3 = right->is_string() ? right->get<std::string>() : std::string();
        if ((l3 == "ip6" && equal) || (l3 == "ip" && negated)) {
          fit.relevant = false;
        } else if (l3 != "ip") {
          fit.conditional = true;
        }
        return;
      }
      auto covered = protocolCovers(*right, port.protocol);
      if (!covered || !(equal || negated)) {
        fit.conditional = true;
      } else if (*covered == negated) {
        fit.relevant = false;
      }
      return;
    }
    if (metaKey == "nfproto") {
      auto l3 = right->is_string() ? right->get<std::string>() : std::string();
      if ((l3 == "ipv6" && equal) || (l3 == "ipv4" && negated)) {
        fit.relevant = false;
      } else if (l3 != "ipv4") {
        fit.conditional = true;
      }
      return;
    }
  }
  // Sources, interfaces, conntrack state, marks...: something else than the port.
  fit.conditional = true;
}

// The rule's fit for `port` and its verdict.
std::pair<RuleFit, RuleVerdict> readRule(const Json& rule, const NeededPort& port,
                                         const Ruleset& ruleset) {
  RuleFit fit;
  RuleVerdict verdict;
  std::string family = stringField(rule, "family");
  std::string table = stringField(rule, "table");
  auto expressions = rule.find("expr");
  if (expressions == rule.end() || !expressions->is_array()) {
    return {RuleFit{.relevant = false}, verdict};
  }
  for (const Json& statement : *expressions) {
    if (!statement.is_object() || statement.empty()) {
      continue;
    }
    const std::string& name = statement.begin().key();
    const Json& body = statement.begin().value();
    if (name == "match") {
      if (body.is_object()) {
        fitMatch(body, port, ruleset, family, table, fit);
      } else {
        fit.conditional = true;
      }
    } else if (name == "accept") {
      verdict.verdict = Verdict::Accept;
    } else if (name == "drop") {
      verdict.verdict = Verdict::Drop;
    } else if (name == "reject") {
      verdict.verdict = Verdict::Reject;
    } else if (name == "return") {
      verdict.verdict = Verdict::Return;
    } else if (name == "jump" || name == "goto") {
      verdict.verdict = Verdict::Jump;
      if (body.is_object()) {
        verdict.target = stringField(body, "target");
      }
    } else if (name == "xt" && body.is_object()) {
      // iptables-nft's compatibility expressions: a target (REJECT) or a match it could
      // not translate (a condition we cannot read).
      std::string xtName = stringField(body, "name");
      if (stringField(body, "type") == "target" && (xtName == "REJECT" || xtName == "DROP")) {
        verdict.verdict = xtName == "DROP" ? Verdict::Drop : Verdict::Reject;
      } else if (stringField(body, "type") != "target") {
        fit.conditional = true;
      }
    } else if (name == "limit" || name == "quota" || name == "numgen") {
      fit.conditional = true;
      fit.limited = true;
    }
    // counter, log, meta/ct set, comment-like statements change nothing about the match.
  }
  return {fit, verdict};
}

enum class Outcome { Continue, Accepted, Dropped };

struct Walk {
  const Ruleset& ruleset;
  const NeededPort& port;
  std::vector<FirewallBlock>& blocks;
};

Outcome walkChain(const Walk& walk, const Chain& chain, int depth) {
  for (const Json* rule : chain.rules) {
    auto [fit, verdict] = readRule(*rule, walk.port, walk.ruleset);
    if (!fit.relevant || verdict.verdict == Verdict::None) {
      continue;
    }
    bool decisive = !fit.conditional;
    switch (verdict.verdict) {
      case Verdict::Accept:
        if (decisive || (fit.namesPort && !fit.limited)) {
          return Outcome::Accepted;
        }
        break;
      case Verdict::Drop:
      case Verdict::Reject: {
        auto handle = rule->find("handle");
        walk.blocks.push_back(FirewallBlock{
            walk.port, chain.family + " " + chain.table, chain.name,
            verdict.verdict == Verdict::Drop ? "drop" : "reject", fit.conditional,
            handle != rule->end() && handle->is_number_unsigned() ? handle->get<std::uint64_t>()
                                                                  : 0});
        if (decisive) {
          return Outcome::Dropped;
        }
        break;
      }
      case Verdict::Return:
        if (decisive) {
          return Outcome::Continue;
        }
        break;
      case Verdict::Jump: {
        auto target = walk.ruleset.chains.find(key(chain.family, chain.table, verdict.target));
        if (target == walk.ruleset.chains.end() || depth >= kMaxJumpDepth) {
          break;
        }
        Outcome inner = walkChain(walk, target->second, depth + 1);
        if (inner != Outcome::Continue && decisive) {
          return inner;
        }
        break;
      }
      case Verdict::None:
        break;
    }
  }
  return Outcome::Continue;
}

}  // namespace

std::vector<NeededPort> neededPorts(bool manager, std::uint16_t clusterPort, std::uint16_t nodePort,
                                    const std::vector<NeededPort>& published) {
  std::vector<NeededPort> ports;
  if (manager) {
    ports.push_back({clusterPort, "tcp", "cluster API"});
  }
  ports.push_back({nodePort, "tcp", "node API"});
  ports.push_back({4789, "udp", "VXLAN"});
  ports.insert(ports.end(), published.begin(), published.end());
  return ports;
}

std::vector<NeededPort> publishedPorts(const std::vector<api::Service>& services) {
  std::vector<NeededPort> ports;
  std::set<std::pair<std::int64_t, std::string>> seen;
  for (const api::Service& service : services) {
    for (const api::PortConfig& port : service.ports) {
      if (port.publishedPort < 1 || port.publishedPort > 65535 ||
          (port.protocol != "tcp" && port.protocol != "udp")) {
        continue;  // not decided yet, or nothing a firewall rule of ours could name
      }
      if (seen.emplace(port.publishedPort, port.protocol).second) {
        ports.push_back({static_cast<std::uint16_t>(port.publishedPort), port.protocol,
                         "published by " + service.spec.name});
      }
    }
  }
  return ports;
}

std::string describeNeededPort(const NeededPort& port) {
  return fmt::format("{}/{} ({})", port.port, port.protocol, port.purpose);
}

std::string describeFirewallBlock(const FirewallBlock& block) {
  std::string where = block.handle != 0
                          ? fmt::format("table {}, chain {}, rule handle {}", block.table,
                                        block.chain, block.handle)
                          : fmt::format("table {}, chain {}", block.table, block.chain);
  std::string verdict = block.verdict == "policy drop" ? "dropped by the policy of"
                        : block.verdict == "reject"    ? "rejected by"
                                                       : "dropped by";
  return fmt::format(
      "{}/{} ({}): {} {}{}", block.port.port, block.port.protocol, block.port.purpose, verdict,
      where, block.conditional ? " (only some packets: the rule also matches other fields)" : "");
}

Result<std::vector<FirewallBlock>> findFirewallBlocks(std::string_view rulesetJson,
                                                      const std::vector<NeededPort>& ports) {
  if (rulesetJson.size() > kMaxRulesetBytes) {
    return errorf(ErrorKind::InvalidArgument,
                  "nftables rule set: {} bytes of JSON, more than the {} this check reads",
                  rulesetJson.size(), kMaxRulesetBytes);
  }
  Json listing = Json::parse(rulesetJson, nullptr, false);
  if (listing.is_discarded()) {
    return errorf(ErrorKind::InvalidArgument, "nftables rule set: not JSON");
  }
  auto items = listing.is_object() ? listing.find("nftables") : listing.end();
  if (!listing.is_object() || items == listing.end() || !items->is_array()) {
    return errorf(ErrorKind::InvalidArgument,
                  "nftables rule set: expected an object with an \"nftables\" array");
  }
  try {
    Ruleset ruleset = indexRuleset(*items);
    std::vector<FirewallBlock> blocks;
    std::set<std::tuple<std::uint16_t, std::string, std::string, std::string, std::uint64_t,
                        std::string>>
        seen;
    for (const NeededPort& port : ports) {
      for (const std::string& id : ruleset.baseInputChains) {
        const Chain& base = ruleset.chains.at(id);
        std::vector<FirewallBlock> found;
        Walk walk{ruleset, port, found};
        Outcome outcome = walkChain(walk, base, 0);
        if (outcome == Outcome::Continue && base.policy == "drop") {
          found.push_back(FirewallBlock{port, base.family + " " + base.table, base.name,
                                        "policy drop", false, 0});
        }
        for (FirewallBlock& block : found) {
          auto identity = std::tuple(port.port, port.protocol, block.table, block.chain,
                                     block.handle, block.verdict);
          if (seen.insert(identity).second) {
            blocks.push_back(std::move(block));
          }
        }
      }
    }
    return blocks;
  } catch (const std::exception& error) {  // a shape the checks above missed: no throw out
    return errorf(ErrorKind::InvalidArgument, "nftables rule set: {}", error.what());
  }
}

}  // namespace overmesh::dataplane
