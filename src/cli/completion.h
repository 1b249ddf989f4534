#pragma once

// Bash completion generated from the CLI's own CLI11 definitions, so that it can never drift
// from the commands: `overmesh completion bash` prints it (the package installs its output
// as /usr/share/bash-completion/completions/overmesh).

#include <CLI/CLI.hpp>
#include <string>

#include "cli/cli_context.h"

namespace overmesh::cli {

// A bash script defining `_overmesh` and `complete -F _overmesh <programName>`. It completes
// subcommand names and option names at every level of `root`, and leaves the word after an
// option that takes a value to bash's default (file names). Hidden subcommands (group "")
// are left out. Names with characters other than [A-Za-z0-9_.-] are skipped (CLI11 allows
// none today; the check keeps the script's quoting trivially safe).
std::string bashCompletionScript(const CLI::App& root, const std::string& programName);

// Adds the hidden `completion bash` command to `app`; it prints the script for `app`.
void addCompletionCommand(CLI::App& app, CliContext& context);

}  // namespace overmesh::cli
