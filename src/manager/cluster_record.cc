#include "manager/cluster_record.h"

#include "common/ip.h"
#include "common/json.h"
#include "state/keys.h"

namespace overmesh::manager {

Result<api::Cluster> readCluster(store::Store& store) {
  auto record = store.get(std::string(state::keys::kCluster));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return errorf(ErrorKind::FailedPrecondition,
                  "this node is not a swarm manager: run `overmesh swarm init` first");
  }
  auto cluster = decodeJson<api::Cluster>((*record)->value, "cluster record");
  if (!cluster) {
    return errorf(ErrorKind::Internal, "corrupt cluster record: {}", cluster.error().message);
  }
  return cluster;
}

Result<RegistrySettingsRead> readRegistrySettings(store::Store& store) {
  auto record = store.get(std::string(state::keys::kRegistries));
  if (!record) {
    return std::unexpected(record.error());
  }
  if (!*record) {
    return RegistrySettingsRead{};
  }
  auto settings = decodeJson<api::RegistrySettings>((*record)->value, "registry settings");
  if (!settings) {
    return errorf(ErrorKind::Internal, "corrupt registry settings record: {}",
                  settings.error().message);
  }
  return RegistrySettingsRead{std::move(*settings), (*record)->modRevision};
}

Result<ipam::PoolConfig> poolConfigOf(const api::Cluster& cluster) {
  ipam::PoolConfig config;
  config.subnetLength = cluster.subnetSize;
  for (const auto& text : cluster.defaultAddrPools) {
    auto pool = Ipv4Prefix::parse(text);
    if (!pool) {
      return errorf(ErrorKind::Internal, "corrupt address pool {} in the cluster record", text);
    }
    config.defaultPools.push_back(*pool);
  }
  return config;
}

}  // namespace overmesh::manager
