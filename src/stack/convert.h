#pragma once

// From a compose Project to what the manager deploys (issue 11), Docker's conversion rules:
//   - stack names: checked by validateStackName.
//   - services: named "<stack>_<key>"; labels = deploy.labels + com.docker.stack.namespace;
//     container labels = the service's `labels` + the namespace label; the image also in
//     the service label com.docker.stack.image (as written).
//   - networks: a service without `networks:` uses the key "default". A key used by a
//     service is declared under top-level `networks:`, except "default" (the schema,
//     compose/, has refused it otherwise). Each used key becomes
//     one StackNetwork: name "<stack>_<key>" without `name:`, the `name:` with it, the key
//     (or `name:`) when external; "<stack>_default" for an undeclared default (driver
//     overlay, not attachable). Only used keys become networks. Created networks carry the
//     namespace label, the file's labels, driver_opts as options, attachable, internal and
//     the first ipam subnet (more than one subnet, or a driver other than overlay, is
//     refused naming the key).
//   - each service joins its networks in the order written, with the alias <key> first and
//     then the file's aliases.
//   - ports, healthcheck (CMD → argv; CMD-SHELL → /bin/sh -c; disable, NONE or no test →
//     none), restart policy (deploy.restart_policy, else `restart:` always|unless-stopped
//     → any, on-failure[:N] → on-failure with N attempts, "no" or absent → Swarm's
//     default, any), update_config, stop_grace_period, endpoint_mode, placement
//     constraints, replicas (default 1) and mode.
//   - container fields: image, entrypoint, working_dir, user, hostname, init, read_only,
//     stop_signal, labels, volumes: a relative bind source is resolved against the
//     service's directory, "~" with ConvertOptions::homeDirectory; a named volume's
//     source becomes "<stack>_<name>" unless its top-level declaration has `name:` or is
//     external. tmpfs volumes are refused (not supported yet).
//   - a service without an image runs its `command` as a process on the node (overmesh's
//     process tasks); without both it is refused.
//   - serviceSources: each service's "<file>:<line>: services.<key>".
// What the schema (compose/) already refuses is not checked again here. Errors are
// InvalidArgument naming the file:line, the key path and what is valid. Pure.

#include <string>
#include <vector>

#include "api/stack_types.h"
#include "common/error.h"
#include "compose/project.h"

namespace overmesh::stack {

// Docker's rule for stack names, and ours for what follows from it: not empty, no
// leading/trailing space, letters, digits, '_', '.', '-' starting with a letter or digit,
// and short enough that "<stack>_<service key>" is a valid service name (≤ 63 characters).
Status validateStackName(const std::string& stack);

struct ConvertOptions {
  bool prune = false;
  std::string resolveImage = "always";
  // An absolute directory that a relative Service::directory is relative to: the CLI's
  // working directory (the loader names a file's directory as its `-c` argument gave it,
  // "." for "web.yml" and for stdin, as compose does). "" = none: a relative bind source
  // in a file whose directory is relative is then refused.
  std::string workingDirectory;
  // The deploying user's home (the CLI passes $HOME): a bind source "~" or "~/…" is
  // expanded with it, as Docker does. "" (or a relative path) = unknown: such a source is
  // then refused.
  std::string homeDirectory;
};

// `warnings` receives what the conversion itself notices (e.g. a published port with a
// host IP that Swarm cannot bind to one address).
Result<api::StackDeployRequest> convertProject(const compose::Project& project,
                                               const std::string& stack,
                                               const ConvertOptions& options,
                                               std::vector<std::string>& warnings);

}  // namespace overmesh::stack
