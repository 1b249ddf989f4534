#pragma once

// `--publish`, `--publish-add` and `--publish-rm` values turned into PortConfigs, and the
// edit `service update` makes to a spec's ports, in Docker's syntax and rules
// (docker/cli's PortOpt and updatePorts). Pure, so every form and every error is
// unit-tested without a daemon. What stays with the manager: whether a published port is
// free, in the allocation range, or taken twice by one spec.

#include <cstdint>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "common/error.h"

namespace overmesh::cli {

// One publish value; `flag` ("--publish", "-p", "--publish-add", …) names it in errors.
// Two forms, as in Docker:
//  - long, recognised by a '=': comma-separated keys in any order, each at most once:
//    published=P (0-65535; 0 or absent = the manager allocates one), target=T (1-65535,
//    required), protocol=tcp|udp (default tcp), mode=ingress|host (default ingress);
//  - short: [PUBLISHED:]TARGET[/PROTOCOL], where PUBLISHED and TARGET are ports or ranges
//    (8080-8081:80-81 gives 8080->80 and 8081->81; 8080-8081:80 gives both to 80; 80-81
//    gives two targets whose published ports are allocated) and PROTOCOL is tcp or udp in
//    any case; always ingress mode.
// Returns the ports in ascending order of a range, at most kMaxPortsPerPublish of them (a
// spec of every port would pass the API's 1 MiB request cap). Fails with InvalidArgument naming the
// flag, the value, what is wrong and the valid forms, on: an unknown or repeated key, a
// field that is not key=value, a missing or out-of-range port, a port that is not a
// number, a range whose end is below its start, ranges of different sizes on both sides
// (unless the target is a single port), a host IP (`127.0.0.1:8080:80`: published ports
// listen on every node's addresses), a range of more than kMaxPortsPerPublish ports, and a
// protocol or mode Docker or overmesh lacks
// (sctp included).
inline constexpr std::int64_t kMaxPortsPerPublish = 4096;
Result<std::vector<api::PortConfig>> parsePublishFlag(const std::string& flag,
                                                      const std::string& value);

// A port as the long form writes it: "published=8080,target=80,protocol=tcp,mode=ingress"
// (no published= when it is 0, i.e. left to the manager). For messages: a user can paste it
// back into --publish-rm or --publish-add.
std::string publishSpecText(const api::PortConfig& port);

// `ports` (a service spec's) after `service update --publish-rm` then `--publish-add`:
//  - each --publish-rm value removes every port with its target port, protocol and mode
//    (its published port is not compared: Docker's rule, "remove a published port by its
//    target port"); a value that matches no port of `ports` is an error naming it and
//    listing what `serviceName` publishes (Docker ignores it silently);
//  - each --publish-add port equal to one present changes nothing (Docker); one whose
//    published port and protocol are those of a present port replaces that port in place
//    (so `--publish-add 8080:81` moves 8080 from target 80 to 81 in one update); any other
//    is appended. A published port of 0 (allocate) never replaces anything.
// Order is kept: the manager decides the published ports in spec order.
// Fails on what parsePublishFlag refuses (flag "--publish-rm" or "--publish-add") and on
// a --publish-rm that matches nothing; changes nothing then.
Result<std::vector<api::PortConfig>> editPublishedPorts(const std::string& serviceName,
                                                        std::vector<api::PortConfig> ports,
                                                        const std::vector<std::string>& removals,
                                                        const std::vector<std::string>& additions);

}  // namespace overmesh::cli
