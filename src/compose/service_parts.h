#pragma once

// The structured parts of a service (ports, volumes, networks, healthcheck, deploy), each
// read and checked from its Value. Internal to the schema (service_builder.cc).

#include <string>
#include <vector>

#include "common/error.h"
#include "compose/project.h"
#include "compose/service_builder.h"
#include "compose/value.h"

namespace overmesh::compose {

// A service may publish at most this many ports once ranges are expanded: a range
// "1-65535:1-65535" would otherwise become 65535 entries for every later step.
inline constexpr std::size_t kMaxServicePorts = 1024;

Result<std::vector<PortEntry>> buildPorts(const Value& value, const std::string& path);
Result<std::vector<VolumeEntry>> buildServiceVolumes(const Value& value, const std::string& path,
                                                     const std::string& servicePath,
                                                     IgnoredOptions& ignored);
Result<std::vector<ServiceNetworkEntry>> buildServiceNetworks(const Value& value,
                                                              const std::string& path,
                                                              const std::string& servicePath,
                                                              IgnoredOptions& ignored);
// Timings without a test (Docker: the image's HEALTHCHECK with these timings) give a
// Healthcheck with an empty test and a warning in `ignored.otherWarnings`.
Result<Healthcheck> buildHealthcheck(const Value& value, const std::string& path,
                                     IgnoredOptions& ignored);
Result<Deploy> buildDeploy(const Value& value, const std::string& path,
                           const std::string& servicePath, IgnoredOptions& ignored);

}  // namespace overmesh::compose
