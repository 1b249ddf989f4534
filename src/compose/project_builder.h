#pragma once

// The compose schema (issue 11): checks a merged, interpolated tree and builds the typed
// Project. What it accepts:
//   - version: "3", "3.0" … "3.9", or none (the Compose Specification). "2.x" and "1" are
//     refused with the reason (those are docker-compose formats; stacks need 3.x).
//   - top-level: version, services, networks, volumes, configs, secrets, name, x-*.
//     (configs and secrets: refused until overmesh supports them, with that reason.)
//   - every key of a service, network, volume, deploy … is known: an unknown key is refused
//     with the keys that are valid there and the closest one ("did you mean
//     \"replicas\"?"); `x-*` keys are allowed anywhere in a mapping and ignored.
//   - Docker's classification of service keys Swarm does not run (docker/cli's
//     UnsupportedProperties, DeprecatedProperties, ForbiddenProperties):
//       unsupported (ignored, one warning "Ignoring unsupported options: build, links"):
//         build, cgroup_parent, devices, domainname, external_links, ipc, links,
//         mac_address, network_mode, pid, privileged, restart, security_opt, shm_size,
//         userns_mode (restart is still kept in Service::restart);
//       deprecated (ignored, "Ignoring deprecated options: container_name (…), expose (…)");
//       forbidden (refused, each with the way out): extends, volumes_from, volume_driver,
//         cpu_quota, cpu_shares, cpuset, mem_limit, memswap_limit.
//     Keys Swarm runs and overmesh does not yet (cap_add, cap_drop, dns, dns_search,
//     extra_hosts, logging, sysctls, tmpfs, tty, stdin_open, ulimits, credential_spec,
//     isolation) and deploy keys overmesh does not run yet (resources, rollback_config,
//     placement.preferences, placement.max_replicas_per_node, update_config.monitor,
//     failure_action, max_failure_ratio) are ignored with
//       "Ignoring options overmesh does not support yet: deploy.resources (services.web)".
//     deploy.mode replicated-job and global-job are refused (jobs are not supported yet).
//   - types and ranges: numbers are whole and in range, booleans are YAML's true/false
//     forms, enumerations list their values, durations are Go durations, service and
//     network keys are valid names.
// Every error is InvalidArgument: "<file>:<line>: <key path>: <what is wrong>: <what is
// valid>". Pure.

#include <string>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/project.h"
#include "compose/value.h"

namespace overmesh::compose {

// `environment` is used for environment entries without a value ("- DEBUG"); `readFile`
// reads env_file paths. Relative env_file paths are resolved against `workingDirectory`
// (compose.h's workingDirectory(): the first -c file's directory, as docker/cli does),
// which also becomes every Service::directory (the base of relative bind sources).
// Warnings are appended.
Result<Project> buildProject(const Value& merged, const Environment& environment,
                             const FileReader& readFile, Warnings& warnings,
                             const std::string& workingDirectory);

}  // namespace overmesh::compose
