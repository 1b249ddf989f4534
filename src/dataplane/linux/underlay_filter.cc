#include "dataplane/linux/underlay_filter.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace overmesh::dataplane::kernel {

NftUnderlayFilter::NftUnderlayFilter(UnderlayPorts ports, std::string namespaceName)
    : ports_(ports), namespaceName_(std::move(namespaceName)) {}

Result<Nftables*> NftUnderlayFilter::nft() {
  if (!nft_) {
    auto opened = Nftables::open(namespaceName_);
    if (!opened) {
      return std::unexpected(opened.error().withContext("underlay filter"));
    }
    nft_.emplace(std::move(*opened));
  }
  return &*nft_;
}

Status NftUnderlayFilter::apply(const std::set<Ipv4Address>& members) {
  if (!applied_) {
    return replace(members);
  }
  auto changes = diffUnderlayMembers(*applied_, members);
  if (changes.empty()) {
    return {};
  }
  auto nft = this->nft();
  if (!nft) {
    return std::unexpected(nft.error());
  }
  if (auto updated = (*nft)->run(underlayMembersScript(changes)); !updated) {
    // The set is not what we remember (the table was removed or edited by someone else):
    // the batch changed nothing, so start again from a whole table.
    spdlog::warn("underlay filter: member update refused ({}); replacing the table",
                 updated.error().message);
    return replace(members);
  }
  applied_ = members;
  return {};
}

Status NftUnderlayFilter::replace(const std::set<Ipv4Address>& members) {
  applied_.reset();
  auto nft = this->nft();
  if (!nft) {
    return std::unexpected(nft.error());
  }
  if (auto replaced = (*nft)->run(underlayReplaceScript({ports_, members})); !replaced) {
    return std::unexpected(replaced.error().withContext("underlay filter"));
  }
  applied_ = members;
  return {};
}

Result<bool> NftUnderlayFilter::installed() {
  auto nft = this->nft();
  if (!nft) {
    return std::unexpected(nft.error());
  }
  auto listed = (*nft)->listTableJson(kUnderlayFamily, kUnderlayTable);
  if (listed) {
    return true;
  }
  if (listed.error().kind == ErrorKind::NotFound) {
    return false;
  }
  return std::unexpected(listed.error().withContext("underlay filter"));
}

Status NftUnderlayFilter::remove() {
  applied_.reset();
  auto nft = this->nft();
  if (!nft) {
    return std::unexpected(nft.error());
  }
  if (auto removed = (*nft)->deleteTableIfExists(kUnderlayFamily, kUnderlayTable); !removed) {
    return std::unexpected(removed.error().withContext("underlay filter"));
  }
  return {};
}

Result<UnderlayDropCounters> NftUnderlayFilter::dropCounters() {
  auto nft = this->nft();
  if (!nft) {
    return std::unexpected(nft.error());
  }
  auto listed = (*nft)->listTableJson(kUnderlayFamily, kUnderlayTable);
  if (!listed) {
    return std::unexpected(listed.error().withContext("underlay filter"));
  }
  return parseUnderlayDropCounters(*listed);
}

Status removeUnderlayFilter(std::string_view namespaceName) {
  return NftUnderlayFilter({}, std::string(namespaceName)).remove();
}

Result<UnderlayDropCounters> readUnderlayDropCounters(std::string_view namespaceName) {
  return NftUnderlayFilter({}, std::string(namespaceName)).dropCounters();
}

}  // namespace overmesh::dataplane::kernel
