#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "api/percent_encoding.h"
#include "api/task_io.h"
#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/container_options.h"
#include "common/duration.h"
#include "cli/service_tables.h"
#include "cli/table.h"
#include "common/ids.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

struct RunOptions {
  std::vector<std::string> networks;
  std::string name;
  std::string node;
  bool detach = false;
  std::vector<std::string> env;  // -e/--env KEY=VALUE
  ContainerFlags container;
  std::string stopGracePeriod;       // --stop-grace-period; empty = the manager's 10s
  std::vector<std::string> command;  // optional with --image
};

// A task that is neither pending nor preparing (its node pulling the image) has started,
// ended or failed to start.
bool settled(const nlohmann::json& task) {
  std::string state = task.value("state", "");
  return state != "pending" && state != "preparing";
}

// The POST /v1/tasks body: the flags checked as far as the CLI can (the manager checks
// the rest, see manager/container_validation.h).
Result<nlohmann::json> runRequestBody(const RunOptions& options) {
  auto container = containerSpecFromFlags(options.container);
  if (!container) {
    return std::unexpected(container.error());
  }
  if (options.command.empty() && container->image.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "no image and no command: give --image IMAGE, or a command after --, e.g. "
                  "`overmesh run --network NET --image busybox -- sleep 3600`");
  }
  for (const auto& entry : options.env) {
    if (entry.find('=') == std::string::npos || entry.front() == '=') {
      return errorf(ErrorKind::InvalidArgument,
                    "--env {} is not valid: use KEY=VALUE with a non-empty KEY", quote(entry));
    }
  }
  nlohmann::json body = {{"name", options.name},
                         {"networks", options.networks},
                         {"command", options.command},
                         {"env", options.env},
                         {"container", *container}};
  if (!options.node.empty()) {
    body["node"] = options.node;
  }
  if (!options.stopGracePeriod.empty()) {
    auto grace = parseDuration(options.stopGracePeriod, "--stop-grace-period");
    if (!grace) {
      return std::unexpected(grace.error());
    }
    body["stopGracePeriodMs"] = grace->count();
  }
  return body;
}

// How long `run` waits for a task whose node shows no progress.
constexpr std::chrono::seconds kRunStallTimeout{30};

Status runRun(CliContext& context, const RunOptions& options) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto body = runRequestBody(options);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto task = client->post("/v1/tasks", *body);
  if (!task) {
    return std::unexpected(task.error());
  }
  std::string id = task->value("id", "");
  if (!options.detach) {
    // Wait for the node to start it, so that a failure to start (a pull that failed
    // included) is reported here. A pull's progress is shown on stderr as it moves, and
    // each move restarts the stall timeout: a cold pull may take minutes.
    auto deadline = std::chrono::steady_clock::now() + kRunStallTimeout;
    std::string shown;
    while (!settled(*task) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto current = client->get("/v1/tasks/" + id);
      if (current) {
        task = current;
      }
      std::string message = task->value("message", "");
      if (task->value("state", "") == "preparing" && !message.empty() && message != shown) {
        std::cerr << printable(message) << '\n';
        shown = message;
        deadline = std::chrono::steady_clock::now() + kRunStallTimeout;
      }
    }
    std::string state = task->value("state", "");
    if (state == "failed") {
      return errorf(ErrorKind::FailedPrecondition, "task {} failed to start on {}: {}",
                    task->value("name", ""), task->value("nodeName", ""),
                    task->value("message", ""));
    }
    if (!settled(*task)) {
      return errorf(ErrorKind::Unavailable,
                    "task {} is still {} on {} after {} s without progress ({}); see "
                    "`overmesh ps`",
                    task->value("name", ""), state, task->value("nodeName", ""),
                    kRunStallTimeout.count(), task->value("message", ""));
    }
  }
  *context.out << id << '\n';
  return {};
}

std::string addressesOf(const api::Task& task) {
  std::string text;
  for (const auto& attachment : task.attachments) {
    if (!text.empty()) {
      text += ",";
    }
    text += attachment.networkName + "=" + attachment.address.substr(0, attachment.address.find('/'));
  }
  return text.empty() ? "-" : text;
}

Status runPs(CliContext& context, const std::string& format) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto tasks = client->get("/v1/tasks");
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  if (format == "json") {
    printJson(*context.out, *tasks);
    return {};
  }
  Table table({"ID", "NAME", "IMAGE", "NODE", "STATE", "ADDRESSES", "COMMAND"});
  for (const auto& json : *tasks) {
    auto task = json.get<api::Task>();
    std::string state = task.state;
    if ((state == "exited" || state == "failed") && task.exitCode != 0) {
      state += fmt::format(" ({})", task.exitCode);
    }
    std::string command = fmt::format("{}", fmt::join(task.command, " "));
    if (command.size() > 40) {
      command = command.substr(0, 37) + "...";
    }
    table.addRow({shortId(task.id), task.name, imageText(task.container, false), task.nodeName,
                  state, addressesOf(task), command});
  }
  table.print(*context.out);
  return {};
}

}  // namespace

void addTaskCommands(CLI::App& app, CliContext& context) {
  auto run = context.hold<RunOptions>();
  CLI::App* runCommand = app.add_subcommand("run", "Run a standalone task on attachable networks");
  runCommand->add_option("--network", run->networks,
                         "Network to attach (repeatable: eth0, eth1, … in order)")
      ->required()
      ->allow_extra_args(false);
  runCommand->add_option("--name", run->name, "Task name (also its hostname)");
  runCommand->add_option("--node", run->node, "Run on this node (hostname or ID)");
  runCommand->add_flag("-d,--detach", run->detach, "Return as soon as the task is created");
  runCommand->add_option("-e,--env", run->env, "Environment KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  addContainerOptions(runCommand, run->container);
  runCommand->add_option("--stop-grace-period", run->stopGracePeriod,
                         "Wait before SIGKILL when stopping the task (default 10s)");
  runCommand->add_option("command", run->command,
                         "Command and arguments, after -- (optional with --image)");
  runCommand->callback([&context, run] {
    context.action = [&context, run] { return runRun(context, *run); };
  });

  auto psFormat = context.hold<std::string>("table");
  CLI::App* ps = app.add_subcommand("ps", "List tasks");
  addFormatOption(ps, *psFormat);
  ps->callback([&context, psFormat] {
    context.action = [&context, psFormat] { return runPs(context, *psFormat); };
  });

  struct ExecOptions {
    std::string task;
    std::vector<std::string> command;
    std::string timeout;  // empty = no limit, like `docker exec`
  };
  auto exec = context.hold<ExecOptions>();
  CLI::App* execCommand = app.add_subcommand("exec", "Run a command inside a task's namespaces");
  execCommand->add_option("--timeout", exec->timeout,
                          "Kill the command after this long (e.g. 90s, 5m; default: no limit)");
  execCommand->add_option("task", exec->task, "Task name or ID")->required();
  execCommand->add_option("command", exec->command, "Command and arguments, after --")->required();
  execCommand->callback([&context, exec] {
    context.action = [&context, exec]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      api::ExecRequest request{exec->command, api::kNoTimeout};
      if (!exec->timeout.empty()) {
        auto timeout = parseDuration(exec->timeout, "--timeout");
        if (!timeout) {
          return std::unexpected(timeout.error());
        }
        if (timeout->count() <= 0 || *timeout > api::kMaxExecTimeout) {
          return errorf(ErrorKind::InvalidArgument,
                        "--timeout {} is out of range: give 1ms to 7 days, or leave it out for "
                        "no limit",
                        exec->timeout);
        }
        request.timeout = *timeout;
      }
      // Wait as long as the command may run, plus time for the daemon to answer.
      auto wait = request.timeout.count() > 0 ? request.timeout + std::chrono::seconds(30)
                                              : api::kNoTimeout;
      auto answer = client->send("POST", "/v1/tasks/" + api::percentEncode(exec->task) + "/exec",
                                 api::encodeExecRequest(request), wait);
      if (!answer) {
        return std::unexpected(answer.error());
      }
      auto output = api::decodeExecOutput(*answer, "the daemon's exec answer");
      if (!output) {
        return std::unexpected(output.error());
      }
      // The command's bytes, exactly as it wrote them.
      context.out->write(output->out.data(), static_cast<std::streamsize>(output->out.size()));
      context.out->flush();
      std::cerr.write(output->err.data(), static_cast<std::streamsize>(output->err.size()));
      context.exitCode = static_cast<int>(output->exitCode);
      return {};
    };
  });

  auto logsTask = context.hold<std::string>();
  CLI::App* logs = app.add_subcommand("logs", "Show a task's output (stdout and stderr)");
  logs->add_option("task", *logsTask, "Task name or ID")->required();
  logs->callback([&context, logsTask] {
    context.action = [&context, logsTask]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      auto answer = client->send("GET", "/v1/tasks/" + api::percentEncode(*logsTask) + "/logs", "");
      if (!answer) {
        return std::unexpected(answer.error());
      }
      auto bytes = api::decodeLogs(*answer, "the daemon's logs answer");
      if (!bytes) {
        return std::unexpected(bytes.error());
      }
      context.out->write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
      context.out->flush();
      return {};
    };
  });

  struct RemoveOptions {
    std::vector<std::string> tasks;
    bool force = false;
  };
  auto remove = context.hold<RemoveOptions>();
  CLI::App* rm = app.add_subcommand("rm", "Remove tasks");
  rm->add_flag("-f,--force", remove->force, "Stop running tasks before removing them");
  rm->add_option("task", remove->tasks, "Task names or IDs")->required();
  rm->callback([&context, remove] {
    context.action = [&context, remove]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      std::vector<std::string> failures;
      for (const auto& task : remove->tasks) {
        auto removed = client->del("/v1/tasks/" + api::percentEncode(task) +
                                   (remove->force ? "?force=true" : ""));
        if (!removed) {
          failures.push_back(removed.error().message);
          continue;
        }
        *context.out << task << '\n';
      }
      if (!failures.empty()) {
        return errorf(ErrorKind::FailedPrecondition, "{}", fmt::join(failures, "\n"));
      }
      return {};
    };
  });
}

}  // namespace overmesh::cli
