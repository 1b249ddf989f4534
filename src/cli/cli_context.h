#pragma once

// What every CLI command needs: the daemon to talk to, where to print, and how the
// result is reported. Commands register on CLI11 and set `action`, which main runs
// after parsing so that errors go through one path (stderr, exit status 1).

#include <functional>
#include <memory>
#include <vector>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/daemon_client.h"
#include "common/error.h"

namespace overmesh::cli {

struct CliContext {
  std::string host = kDefaultHost;
  // --tlsverify and its files: required for a tcp:// host (Docker's model).
  bool tlsVerify = false;
  api::TlsFiles tls;
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;  // warnings (e.g. an image not pinned to its digest)
  std::function<Status()> action;
  // The process exit status when `action` succeeds; `lab exec` passes its command's on.
  int exitCode = 0;

  Result<DaemonClient> client() const { return DaemonClient::connect(host, tlsVerify, tls); }

  // Storage for a command's parsed options. CLI11 writes into it while parsing, after the
  // add*Commands functions have returned, so the context owns it for the whole run.
  template <typename T, typename... Args>
  std::shared_ptr<T> hold(Args&&... args) {
    auto value = std::make_shared<T>(std::forward<Args>(args)...);
    held_.push_back(value);
    return value;
  }

 private:
  std::vector<std::shared_ptr<void>> held_;
};

// Adds `--format table|json` to a read command.
void addFormatOption(CLI::App* command, std::string& format);

// Prints `json` indented, as `--format json` shows it.
void printJson(std::ostream& out, const nlohmann::json& json);

void addSwarmCommands(CLI::App& app, CliContext& context);
void addNetworkCommands(CLI::App& app, CliContext& context);
void addNodeCommands(CLI::App& app, CliContext& context);
void addInfoCommands(CLI::App& app, CliContext& context);
// The "Underlay filter:" line of `overmesh info` for the daemon's /v1/info answer: the drop
// counters of the members-only underlay filter, or that it is not installed.
std::string formatUnderlayFilter(const nlohmann::json& info);
void addImageCommands(CLI::App& app, CliContext& context);
void addLabCommands(CLI::App& app, CliContext& context);
void addTaskCommands(CLI::App& app, CliContext& context);
void addServiceCommands(CLI::App& app, CliContext& context);
void addStackCommands(CLI::App& app, CliContext& context);

// Parses arguments and runs the chosen command. Returns the process exit status:
// context.exitCode (0 unless the command set it) on success, 1 on any error (printed to
// stderr).
int runCli(int argc, char** argv);

}  // namespace overmesh::cli
