#pragma once

// Registers the container flags (container_flags.h) on a CLI11 command: `run` and
// `service create` take ContainerFlags, `service update` ContainerUpdateFlags. Only the
// declarations live here; what the values mean is decided in container_flags.cc.

#include <CLI/CLI.hpp>

#include "cli/container_flags.h"

namespace overmesh::cli {

// --image, --entrypoint, -w/--workdir, -u/--user, --mount (repeatable), --read-only,
// --init, --stop-signal.
void addContainerOptions(CLI::App* command, ContainerFlags& flags);

// --image, --entrypoint, -w/--workdir, -u/--user, --mount-add, --mount-rm (repeatable),
// --read-only=BOOL, --init=BOOL, --stop-signal.
void addContainerUpdateOptions(CLI::App* command, ContainerUpdateFlags& flags);

}  // namespace overmesh::cli
