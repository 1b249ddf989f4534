#pragma once

// overmeshd's command line and settings file (`--config FILE`), defined in one place so that
// the rules of precedence have unit tests:
//   - a setting given on the command line wins over the same setting in the file;
//   - an option given twice on the command line takes its last value (the lab runs a unit's
//     ExecStart line and appends the per-host options after the unit's own: a unit that
//     already says `--log-level warn` then runs with the lab's level instead of failing);
//   - a name in the file that is not a long option is an error that names it.

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/daemon.h"

namespace overmesh::daemon {

// Everything overmeshd's main reads from its flags.
struct DaemonFlags {
  DaemonOptions options;
  std::string logLevel = "info";
  bool allowRootNetns = false;
  // Accepted for Docker's flag set: client certificates are always verified.
  bool tlsVerify = false;
};

// Adds --version, --config and every option of overmeshd to `app`, storing into `flags`
// (which must outlive `app`'s parse). CLI11 throws CLI::ConfigError from parse() for a
// file setting it does not know and CLI::ParseError for bad flags.
void addDaemonFlags(CLI::App& app, DaemonFlags& flags);

}  // namespace overmesh::daemon
