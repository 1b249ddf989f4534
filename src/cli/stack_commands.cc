// `overmesh stack deploy|ls|services|ps|rm|config` (issue 11), Docker's commands and lines.
// The compose files are loaded and converted here, in the CLI (compose/compose.h,
// stack/convert.h), so that a file that fails never reaches the cluster; the manager
// deploys the converted request atomically. What is printed is built by stack_output.h
// (pure, unit-tested); this file only reads the files, talks to the daemon and prints.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "api/percent_encoding.h"
#include "api/service_types.h"
#include "api/stack_types.h"
#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/service_tables.h"
#include "cli/stack_output.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/quote.h"
#include "compose/compose.h"
#include "stack/convert.h"

namespace overmesh::cli {
namespace {

void printStackWarnings(CliContext& context, const std::vector<std::string>& warnings) {
  for (const auto& warning : warnings) {
    *context.err << warning << '\n';
  }
}

// Loads the `-c` files with the CLI's environment for interpolation; `-c -` is stdin
// (once), bounded by kMaxStdinCompose. Prints the loader's warnings.
Result<compose::LoadedCompose> loadStackFiles(CliContext& context,
                                              const std::vector<std::string>& files) {
  std::vector<compose::ComposeSource> sources;
  bool stdinRead = false;
  for (const auto& file : files) {
    compose::ComposeSource source{file, std::nullopt};
    if (file == "-") {
      if (stdinRead) {
        return errorf(ErrorKind::InvalidArgument,
                      "-c - is given twice: standard input can be read only once");
      }
      stdinRead = true;
      auto text = readBoundedStream(std::cin, kMaxStdinCompose, "standard input (-c -)");
      if (!text) {
        return std::unexpected(text.error());
      }
      source.text = std::move(*text);
    }
    sources.push_back(std::move(source));
  }
  auto loaded = compose::loadCompose(sources, environmentFromEntries(environ),
                                     compose::localFileReader(kMaxStdinCompose));
  if (loaded) {
    printStackWarnings(context, loaded->warnings);
  }
  return loaded;
}

struct StackDeployCommand {
  std::vector<std::string> files;
  bool prune = false;
  std::string resolveImage = "always";
  bool withRegistryAuth = false;
  bool detach = true;  // accepted as Docker's; a deploy returns once written either way
  bool quiet = false;
  std::string stack;
};

// The deploying user's home for "~" in bind sources, as Docker takes it ($HOME); "" when
// unset, which makes the converter refuse such a source.
std::string homeDirectory() {
  const char* home = std::getenv("HOME");
  return home == nullptr ? std::string() : std::string(home);
}

Status runStackDeploy(CliContext& context, const StackDeployCommand& command) {
  if (auto valid = stack::validateStackName(command.stack); !valid) {
    return valid;
  }
  if (command.withRegistryAuth) {
    *context.err << kWithRegistryAuthWarning << '\n';
  }
  auto loaded = loadStackFiles(context, command.files);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  std::vector<std::string> warnings;
  stack::ConvertOptions options;
  options.prune = command.prune;
  options.resolveImage = command.resolveImage;
  options.homeDirectory = homeDirectory();
  std::error_code cwdError;
  options.workingDirectory = std::filesystem::current_path(cwdError).string();
  if (cwdError) {
    return errorf(ErrorKind::Unavailable,
                  "could not read the working directory (relative bind paths are resolved "
                  "against it): {}",
                  cwdError.message());
  }
  auto request = stack::convertProject(loaded->project, command.stack, options, warnings);
  if (!request) {
    return std::unexpected(request.error());
  }
  printStackWarnings(context, warnings);
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto answer =
      client->send("POST", "/v1/stacks/deploy", encodeJson(*request), kStackRequestTimeout);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  auto reply = decodeJson<api::StackDeployReply>(*answer, "stack deploy reply");
  if (!reply) {
    return std::unexpected(reply.error());
  }
  if (!command.quiet) {
    for (const auto& line : stackDeployLines(*reply)) {
      *context.out << line << '\n';
    }
  }
  printStackWarnings(context, reply->warnings);
  return {};
}

Status runStackConfig(CliContext& context, const std::vector<std::string>& files) {
  auto loaded = loadStackFiles(context, files);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  *context.out << compose::emitYaml(loaded->merged);
  return {};
}

Status runStackList(CliContext& context, const std::string& format) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto json = client->get("/v1/stacks");
  if (!json) {
    return std::unexpected(json.error());
  }
  if (format == "json") {
    printJson(*context.out, *json);
    return {};
  }
  printStackTable(*context.out, json->get<std::vector<api::StackSummary>>());
  return {};
}

// The stack's services and every task (for REPLICAS and `stack ps`); an empty list when
// nothing carries the stack's label.
struct StackServicesAndTasks {
  std::vector<api::Service> services;
  std::vector<api::Task> tasks;
};

Result<StackServicesAndTasks> fetchStackServices(DaemonClient& client, const std::string& stack) {
  auto services = client.get("/v1/services");
  if (!services) {
    return std::unexpected(services.error());
  }
  StackServicesAndTasks found;
  found.services = servicesOfStack(services->get<std::vector<api::Service>>(), stack);
  if (found.services.empty()) {
    return found;
  }
  auto tasks = client.get("/v1/tasks");
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  found.tasks = tasks->get<std::vector<api::Task>>();
  return found;
}

struct StackServicesCommand {
  std::string stack;
  std::string format = "table";
  bool quiet = false;
};

Status runStackServices(CliContext& context, const StackServicesCommand& command) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto found = fetchStackServices(*client, command.stack);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (found->services.empty()) {
    *context.err << "Nothing found in stack: " << command.stack << '\n';
    return {};
  }
  if (command.format == "json") {
    printJson(*context.out, nlohmann::json(found->services));
    return {};
  }
  if (command.quiet) {
    for (const auto& service : found->services) {
      *context.out << shortId(service.id) << '\n';
    }
    return {};
  }
  printServiceList(*context.out, found->services, found->tasks);
  return {};
}

struct StackPsCommand {
  std::string stack;
  bool noTrunc = false;
  bool quiet = false;
};

Status runStackPs(CliContext& context, const StackPsCommand& command) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto found = fetchStackServices(*client, command.stack);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (found->services.empty()) {
    // Docker's `stack ps` fails here (`stack services` only reports it).
    return errorf(ErrorKind::NotFound, "nothing found in stack: {}", printable(command.stack));
  }
  PsOptions options;
  options.noTrunc = command.noTrunc;
  printServicePs(*context.out, found->services, found->tasks, nowMillis(), options,
                 command.quiet);
  return {};
}

// Each stack in turn, as Docker does: one that has nothing is reported and skipped; one
// whose removal partly failed prints its failures and makes the exit status 1.
Status runStackRemove(CliContext& context, const std::vector<std::string>& stacks) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  bool failed = false;
  for (const auto& stack : stacks) {
    // The manager waits for the stack's tasks to drain before it removes the networks.
    auto answer = client->send("POST", "/v1/stacks/" + api::percentEncode(stack) + "/remove", "{}",
                               kStackRequestTimeout);
    if (!answer && answer.error().kind == ErrorKind::NotFound) {
      *context.err << "Nothing found in stack: " << printable(stack) << '\n';
      continue;
    }
    if (!answer) {
      return std::unexpected(answer.error());
    }
    auto reply = decodeJson<api::StackRemoveReply>(*answer, "stack rm reply");
    if (!reply) {
      return std::unexpected(reply.error());
    }
    auto output = stackRemoveLines(*reply);
    for (const auto& line : output.out) {
      *context.out << line << '\n';
    }
    for (const auto& line : output.err) {
      *context.err << line << '\n';
    }
    failed = failed || !output.err.empty();
  }
  if (failed) {
    context.exitCode = 1;
  }
  return {};
}

}  // namespace

void addStackCommands(CLI::App& app, CliContext& context) {
  CLI::App* stackApp = app.add_subcommand("stack", "Manage stacks (compose files)");
  stackApp->require_subcommand(1);

  auto deploy = context.hold<StackDeployCommand>();
  CLI::App* deployCommand =
      stackApp->add_subcommand("deploy", "Deploy a new stack or update an existing one");
  // One -c value per argument (not the stack name), split on commas as Docker's
  // StringSlice flag does: `-c a.yml,b.yml` is two files.
  deployCommand
      ->add_option("-c,--compose-file", deploy->files,
                   "Compose file (repeatable or comma-separated, merged in order; - reads "
                   "stdin)")
      ->required()
      ->allow_extra_args(false)
      ->delimiter(',');
  deployCommand->add_flag("--prune", deploy->prune,
                          "Remove services that are no longer in the file");
  deployCommand
      ->add_option("--resolve-image", deploy->resolveImage,
                   "Pin images to their digest: always, changed or never")
      ->check(CLI::IsMember({"always", "changed", "never"}))
      ->capture_default_str();
  deployCommand->add_flag("--with-registry-auth", deploy->withRegistryAuth,
                          "Accepted for Docker's scripts; registry credentials are not sent yet");
  deployCommand->add_flag("-d,--detach", deploy->detach,
                          "Return once the stack is written (always, for now)");
  deployCommand->add_flag("-q,--quiet", deploy->quiet,
                          "Print no progress lines, only warnings and errors");
  deployCommand->add_option("stack", deploy->stack, "Stack name")->required();
  deployCommand->callback([&context, deploy] {
    context.action = [&context, deploy] { return runStackDeploy(context, *deploy); };
  });

  auto listFormat = context.hold<std::string>("table");
  CLI::App* listCommand = stackApp->add_subcommand("ls", "List stacks");
  listCommand->alias("list");
  addFormatOption(listCommand, *listFormat);
  listCommand->callback([&context, listFormat] {
    context.action = [&context, listFormat] { return runStackList(context, *listFormat); };
  });

  auto services = context.hold<StackServicesCommand>();
  CLI::App* servicesCommand = stackApp->add_subcommand("services", "List a stack's services");
  addFormatOption(servicesCommand, services->format);
  servicesCommand->add_flag("-q,--quiet", services->quiet, "Print only service IDs");
  servicesCommand->add_option("stack", services->stack, "Stack name")->required();
  servicesCommand->callback([&context, services] {
    context.action = [&context, services] { return runStackServices(context, *services); };
  });

  auto ps = context.hold<StackPsCommand>();
  CLI::App* psCommand = stackApp->add_subcommand("ps", "List the tasks of a stack's services");
  psCommand->add_flag("--no-trunc", ps->noTrunc, "Do not shorten IDs, names, commands, errors");
  psCommand->add_flag("-q,--quiet", ps->quiet, "Print only task IDs");
  psCommand->add_option("stack", ps->stack, "Stack name")->required();
  psCommand->callback(
      [&context, ps] { context.action = [&context, ps] { return runStackPs(context, *ps); }; });

  auto removeStacks = context.hold<std::vector<std::string>>();
  CLI::App* removeCommand = stackApp->add_subcommand("rm", "Remove stacks");
  removeCommand->alias("remove");
  removeCommand->alias("down");
  removeCommand->add_option("stack", *removeStacks, "Stack names")->required();
  removeCommand->callback([&context, removeStacks] {
    context.action = [&context, removeStacks] { return runStackRemove(context, *removeStacks); };
  });

  auto configFiles = context.hold<std::vector<std::string>>();
  CLI::App* configCommand =
      stackApp->add_subcommand("config", "Print the merged, interpolated compose file");
  configCommand
      ->add_option("-c,--compose-file", *configFiles,
                   "Compose file (repeatable or comma-separated, merged in order; - reads "
                   "stdin)")
      ->required()
      ->allow_extra_args(false)  // one file per -c, as Docker: not the stack name
      ->delimiter(',');
  configCommand->callback([&context, configFiles] {
    context.action = [&context, configFiles] { return runStackConfig(context, *configFiles); };
  });
}

}  // namespace overmesh::cli
