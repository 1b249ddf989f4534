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
//   - Docker's classification of service keys Swarm does not run:
//       unsupported (ignored, one warning "Ignoring unsupported options: build, links"):
//         build, cap_add, cap_drop, cgroup_parent, devices, dns, dns_search, domainname,
//         external_links, extra_hosts, ipc, links, logging, mac_address, network_mode,
//         pid, privileged, restart, security_opt, shm_size, sysctls, tmpfs, ulimits,
//         userns_mode, stdin_open, tty (restart is still kept in Service::restart);
//       deprecated (ignored, "Ignoring deprecated options: container_name (…), expose (…)");
//       forbidden (refused, each with the way out): extends, volumes_from, volume_driver,
//         cpu_quota, cpu_shares, cpuset, mem_limit, memswap_limit.
//     deploy keys overmesh does not run yet (resources, rollback_config,
//     placement.preferences, placement.max_replicas_per_node, update_config.monitor,
//     failure_action, max_failure_ratio) are ignored with
//       "Ignoring options overmesh does not support yet: deploy.resources (services.web)".
//   - types and ranges: numbers are whole and in range, booleans are YAML's true/false
//     forms, enumerations list their values, durations are Go durations, service and
//     network keys are valid names.
// Every error is InvalidArgument: "<file>:<line>: <key path>: <what is wrong>: <what is
// valid>". Pure.

#include "common/error.h"
#include "compose/compose.h"
#include "compose/project.h"
#include "compose/value.h"

namespace overmesh::compose {

// `environment` is used for environment entries without a value ("- DEBUG"); `readFile`
// reads env_file paths (resolved against the directory of the file whose mark names the
// key). Warnings are appended.
Result<Project> buildProject(const Value& merged, const Environment& environment,
                             const FileReader& readFile, Warnings& warnings);

}  // namespace overmesh::compose
