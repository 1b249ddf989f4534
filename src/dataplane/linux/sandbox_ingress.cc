#include "dataplane/linux/sandbox_ingress.h"

#include <spdlog/spdlog.h>

#include <set>

#include "dataplane/gateway_nat.h"
#include "dataplane/ingress_rules.h"
#include "dataplane/linux/sysctl.h"

namespace overmesh::dataplane::kernel {
namespace {

const Ipv4Prefix kDefaultRoute = Ipv4Prefix::parse("0.0.0.0/0").value();

FwmarkRule ruleFor(const IngressPeer& node) {
  return {kIngressRulePriority, ingressMark(node.address), ingressMark(node.address)};
}

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

// One node's way back: the route in its table, then the rule that leads there.
Status addNodeRoute(Netlink& inside, const std::string& interface, const IngressPeer& node) {
  if (auto routed = inside.addRoute(kDefaultRoute, node.address, interface, ingressMark(node.address));
      !routed) {
    return routed;
  }
  return inside.addFwmarkRule(ruleFor(node));
}

Status removeRule(Netlink& inside, const FwmarkRule& rule) {
  if (auto deleted = inside.deleteFwmarkRule(rule); !deleted) {
    return deleted;
  }
  return inside.deleteRoute(kDefaultRoute, rule.table);
}

// Rules at our priority that `ingress` does not want go, with their tables' default
// routes; the wanted ones are (re)added.
Status reconcileRoutes(Netlink& inside, const SandboxIngress& ingress) {
  auto rules = inside.listFwmarkRules();
  if (!rules) {
    return std::unexpected(rules.error());
  }
  std::set<FwmarkRule> wanted;
  for (const auto& node : ingress.nodes) {
    wanted.insert(ruleFor(node));
  }
  for (const auto& rule : *rules) {
    if (rule.priority == kIngressRulePriority && !wanted.contains(rule)) {
      if (auto removed = removeRule(inside, rule); !removed) {
        return removed;
      }
    }
  }
  for (const auto& node : ingress.nodes) {
    if (auto added = addNodeRoute(inside, ingress.interface, node); !added) {
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
  if (!changes.nodesRemoved.empty() || !changes.nodesAdded.empty()) {
    auto inside = Netlink::open(sandboxNamespace);
    Status routed = inside ? Status() : Status(std::unexpected(inside.error()));
    for (const auto& node : changes.nodesRemoved) {
      if (routed) {
        routed = removeRule(*inside, ruleFor(node));
      }
    }
    for (const auto& node : changes.nodesAdded) {
      if (routed) {
        routed = addNodeRoute(*inside, ingress.interface, node);
      }
    }
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
    if (auto removed = reconcileRoutes(*inside, ingress); !removed) {
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
  if (auto routed = reconcileRoutes(*inside, ingress); !routed) {
    return context(routed.error());
  }
  applied_.emplace(sandboxNamespace, Applied{id, std::move(nft), ingress});
  return {};
}

void SandboxIngresses::forget(const std::string& sandboxNamespace) {
  applied_.erase(sandboxNamespace);
}

}  // namespace overmesh::dataplane::kernel
