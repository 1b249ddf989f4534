#pragma once

// The rows of `service ls` and `service ps` and the line prefixes of `service logs`,
// Docker's shapes. Pure: times are relative to a `nowMs` the caller passes (the wall
// clock in the command, a fixed value in tests).

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::cli {

// Docker's human duration ("Less than a second", "1 second", "5 seconds", "About a
// minute", "3 minutes", "About an hour", "5 hours", "3 days", "2 weeks", "4 months",
// "2 years"). Negative durations (clock skew) read as "Less than a second".
std::string humanDuration(std::int64_t ms);

// `service ls`'s REPLICAS: "running/desired". running = tasks of the service that should
// run and run; desired = replicas, or for a global service the tasks that should run.
std::string replicasText(const api::Service& service, const std::vector<api::Task>& tasks);

// `service ls`'s PORTS, as Docker shows it: the ingress-mode ports only (Docker's list
// shows no host-mode port; `service inspect` does), sorted by protocol then published
// port, runs grouped ("*:8080-8081->80-81/tcp" for consecutive ports on both sides,
// "*:8080-8081->80/tcp" for consecutive published ports to one target), joined by ", ".
// From Service::ports (what the manager decided), or from the spec's ports while the
// manager has decided none; a port still without a published port (0) is left out, as
// Docker leaves it out.
std::string publishedPortsText(const api::Service& service);

// The IMAGE column of `service ls`, `service ps` and `ps`: "-" for a process task; the
// image as Docker shows it (ImageReference::familiar(): "nginx:1.25", digest left out),
// or with noTrunc the reference the record holds, digest included.
std::string imageText(const api::ContainerSpec& container, bool noTrunc);

// One `service ls` row: ID NAME MODE REPLICAS IMAGE COMMAND PORTS.
std::vector<std::string> serviceListRow(const api::Service& service,
                                        const std::vector<api::Task>& tasks);

struct PsOptions {
  bool noTrunc = false;
  std::string desiredState;  // "" = all; else only tasks with this desired state
};

// `service ps` rows (ID NAME IMAGE COMMAND NODE DESIRED STATE CURRENT STATE ERROR) of one
// service's tasks: slots ascending (global: nodes by hostname), newest first within a
// slot; the slot's first row is named "web.1", older ones " \_ web.1". CURRENT STATE is
// "Running 3 seconds ago" from Task::updatedAtMs; ERROR is the quoted message of a task
// that failed, cut to 30 characters unless noTrunc.
std::vector<std::vector<std::string>> servicePsRows(const api::Service& service,
                                                    const std::vector<api::Task>& tasks,
                                                    std::int64_t nowMs, const PsOptions& options);

// The `service ls` table (ID NAME MODE REPLICAS IMAGE COMMAND PORTS) of `services`, in the
// order given; `service ls` and `stack services` print it.
void printServiceList(std::ostream& out, const std::vector<api::Service>& services,
                      const std::vector<api::Task>& tasks);

// The `service ps` table of the tasks of `services` (servicePsRows, service by service), or
// with `quiet` only their task IDs, one a line; `service ps` and `stack ps` print it.
void printServicePs(std::ostream& out, const std::vector<api::Service>& services,
                    const std::vector<api::Task>& tasks, std::int64_t nowMs,
                    const PsOptions& options, bool quiet);

// `service logs`'s prefix for a task without its padding: "web.1.<short id>@<hostname>".
std::string logPrefix(const api::Service& service, const api::Task& task);

// `bytes` with every line prefixed by `prefix` padded to `width`, then "    | ", as
// Docker shows it; a last line without a newline gets one.
std::string prefixLogLines(std::string_view prefix, std::size_t width, std::string_view bytes);

}  // namespace overmesh::cli
