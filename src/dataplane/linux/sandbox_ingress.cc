#include "dataplane/linux/sandbox_ingress.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <set>

#include "dataplane/gateway_nat.h"
#include "dataplane/ingress_rules.h"
#include "dataplane/linux/sysctl.h"

namespace overmesh::dataplane::kernel {
namespace {

const Ipv4Prefix kDefaultRoute = Ipv4Prefix::parse("0.0.0.0/0").value();

Status validateIngress(const SandboxIngress& ingress) {
  if (ingress.empty()) {
    return {};
  }
  if (!isPlainDeviceName(ingress.interface)) {
    return errorf(ErrorKind::InvalidArgument,
                  "ingress: interface \"{}\" is not a device name (1-15 characters of A-Z a-z "
                  "0-9 _ . -)",
                  ingress.interface);
  }
  for (const auto& node : ingress.nodes) {
    if (!ingressMarkUsable(node.address)) {
      return errorf(ErrorKind::InvalidArgument,
                    "ingress: node address {} cannot be a mark and table (must be above "
                    "0.0.0.255)",
                    node.address);
    }
  }
  return {};
}

bool isOurs(const PolicyRule& rule) {
  return rule.priority >= kIngressRulePriority && rule.priority <= kIngressSourceRulePriority;
}

PolicyRule markRule(const IngressPeer& node) {
  PolicyRule rule;
  rule.priority = kIngressRulePriority;
  rule.table = ingressMark(node.address);
  rule.fwmark = ingressMark(node.address);
  return rule;
}

// The rules `ingress` wants (ingress_rules.h): one per node, and for UDP target ports the
// main table without its default route, then one source-port rule per port.
std::set<PolicyRule> wantedRules(const SandboxIngress& ingress) {
  std::set<PolicyRule> rules;
  for (const auto& node : ingress.nodes) {
    rules.insert(markRule(node));
  }
  if (!ingress.udpPorts.empty()) {
    PolicyRule main;
    main.priority = kIngressMainRulePriority;
    main.table = kMainRouteTable;
    main.suppressPrefixLength = 0;
    rules.insert(main);
  }
  for (std::uint16_t port : ingress.udpPorts) {
    PolicyRule source;
    source.priority = kIngressSourceRulePriority;
    source.table = kIngressSourceTable;
    source.ipProtocol = IPPROTO_UDP;
    source.sourcePort = port;
    rules.insert(source);
  }
  return rules;
}

// The route behind a rule of ours: a node's way back, or the UDP source table's default.
Status addRouteFor(Netlink& inside, const std::string& interface, const PolicyRule& rule) {
  if (rule.priority == kIngressRulePriority) {
    return inside.addRoute(kDefaultRoute, Ipv4Address::fromValue(rule.fwmark), interface,
                           rule.table);
  }
  if (rule.priority == kIngressSourceRulePriority) {
    return inside.addRoute(kDefaultRoute, std::nullopt, interface, rule.table);
  }
  return {};
}

// Makes our rules exactly the wanted ones: unwanted ones go (with their node's route; the
// UDP source table's route goes with the last UDP port), wanted ones missing are added
// after their route. With `force`, every wanted route is written again (replace
// semantics), e.g. after the interface changed. Reads the rules once: a few dozen at most.
Status reconcileRules(Netlink& inside, const SandboxIngress& ingress, bool force) {
  auto listed = inside.listRules();
  if (!listed) {
    return std::unexpected(listed.error());
  }
  std::set<PolicyRule> have;
  for (const auto& rule : *listed) {
    if (isOurs(rule)) {
      have.insert(rule);
    }
  }
  auto wanted = wantedRules(ingress);
  for (const auto& rule : have) {
    if (wanted.contains(rule)) {
      continue;
    }
    if (auto deleted = inside.deleteRule(rule); !deleted) {
      return deleted;
    }
    if (rule.priority == kIngressRulePriority) {
      if (auto deleted = inside.deleteRoute(kDefaultRoute, rule.table); !deleted) {
        return deleted;
      }
    }
  }
  if (ingress.udpPorts.empty()) {
    if (auto deleted = inside.deleteRoute(kDefaultRoute, kIngressSourceTable); !deleted) {
      return deleted;
    }
  }
  for (const auto& rule : wanted) {
    if (have.contains(rule) && !force) {
      continue;
    }
    if (auto routed = addRouteFor(inside, ingress.interface, rule); !routed) {
      return routed;
    }
    if (auto added = inside.addRule(rule); !added) {
      return added;
    }
  }
  return {};
}

}  // namespace

Status SandboxIngresses::apply(const std::string& sandboxNamespace, const SandboxIngress& ingress) {
  if (auto valid = validateNamespaceName(sandboxNamespace); !valid) {
    return std::unexpected(valid.error().withContext("ingress"));
  }
  if (auto valid = validateIngress(ingress); !valid) {
    return std::unexpected(
        valid.error().withContext(fmt::format("namespace \"{}\"", sandboxNamespace)));
  }
  auto id = namespaceIdOf(namespacePath(sandboxNamespace));
  if (!id) {
    applied_.erase(sandboxNamespace);
    return std::unexpected(
        id.error().withContext(fmt::format("ingress of namespace \"{}\"", sandboxNamespace)));
  }
  auto found = applied_.find(sandboxNamespace);
  if (found == applied_.end() || found->second.id != *id) {
    applied_.erase(sandboxNamespace);
    return rebuild(sandboxNamespace, *id, std::nullopt, ingress);
  }
  Applied& applied = found->second;
  if (applied.ingress == ingress) {
    return {};
  }
  auto changes = diffSandboxIngress(applied.ingress, ingress);
  if (ingress.empty() || changes.interfaceChanged) {
    auto nft = std::move(applied.nft);
    applied_.erase(found);
    return rebuild(sandboxNamespace, *id, std::move(nft), ingress);
  }
  if (std::string script = ingressUpdateScript(changes); !script.empty()) {
    if (auto updated = applied.nft->run(script); !updated) {
      spdlog::warn("ingress of namespace {}: element update refused ({}); making it again",
                   sandboxNamespace, updated.error().message);
      auto nft = std::move(applied.nft);
      applied_.erase(found);
      return rebuild(sandboxNamespace, *id, std::move(nft), ingress);
    }
  }
  if (!changes.nodesRemoved.empty() || !changes.nodesAdded.empty() || !changes.udpRemoved.empty() ||
      !changes.udpAdded.empty()) {
    auto inside = Netlink::open(sandboxNamespace);
    Status routed =
        inside ? reconcileRules(*inside, ingress, false) : Status(std::unexpected(inside.error()));
    if (!routed) {
      // The next apply starts from scratch.
      applied_.erase(found);
      return std::unexpected(
          routed.error().withContext(fmt::format("ingress of namespace \"{}\"", sandboxNamespace)));
    }
  }
  applied.ingress = ingress;
  return {};
}

Status SandboxIngresses::rebuild(const std::string& sandboxNamespace, const NamespaceId& id,
                                 std::optional<Nftables> nft, const SandboxIngress& ingress) {
  auto context = [&](const Error& error) {
    return std::unexpected(
        error.withContext(fmt::format("ingress of namespace \"{}\"", sandboxNamespace)));
  };
  if (!nft) {
    auto opened = Nftables::open(sandboxNamespace);
    if (!opened) {
      return context(opened.error());
    }
    nft.emplace(std::move(*opened));
  }
  auto inside = Netlink::open(sandboxNamespace);
  if (!inside) {
    return context(inside.error());
  }
  if (ingress.empty()) {
    if (auto removed = nft->deleteTableIfExists(kIngressFamily, kIngressTable); !removed) {
      return context(removed.error());
    }
    if (auto removed = reconcileRules(*inside, ingress, true); !removed) {
      return context(removed.error());
    }
    applied_.emplace(sandboxNamespace, Applied{id, std::move(nft), ingress});
    return {};
  }
  if (auto exists = inside->linkExists(ingress.interface); !exists || !*exists) {
    return exists ? errorf(ErrorKind::NotFound, "ingress of namespace \"{}\": no interface {}",
                           sandboxNamespace, ingress.interface)
                  : context(exists.error());
  }
  auto sysctls = runInNamespace(sandboxNamespace, [&]() -> Status {
    if (auto all = disableReversePathFilter("all"); !all) {
      return all;
    }
    return disableReversePathFilter(ingress.interface);
  });
  if (!sysctls) {
    return context(sysctls.error());
  }
  if (auto replaced = nft->run(ingressReplaceScript(ingress)); !replaced) {
    return context(replaced.error());
  }
  if (auto routed = reconcileRules(*inside, ingress, true); !routed) {
    return context(routed.error());
  }
  applied_.emplace(sandboxNamespace, Applied{id, std::move(nft), ingress});
  return {};
}

void SandboxIngresses::forget(const std::string& sandboxNamespace) {
  applied_.erase(sandboxNamespace);
}

}  // namespace overmesh::dataplane::kernel
