// `overmesh service …`: Docker's service commands over the daemon's /v1/services routes.
// Flag parsing, progress and table rows live in service_spec_flags, service_progress and
// service_tables (pure, unit-tested); this file only talks to the daemon and prints.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "api/percent_encoding.h"
#include "api/service_types.h"
#include "api/task_io.h"
#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/container_options.h"
#include "cli/each_object.h"
#include "cli/service_progress.h"
#include "cli/service_spec_flags.h"
#include "cli/service_tables.h"
#include "cli/service_tasks.h"
#include "cli/service_update.h"
#include "common/ids.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

constexpr auto kProgressPollInterval = std::chrono::milliseconds(200);
// Polls in a row that may fail (a daemon restarting, a manager election) before the
// watch gives up; ~2 s at the poll interval.
constexpr int kMaxFailedPolls = 10;
// Updates retried when the service changed between our read and our write.
constexpr int kMaxUpdateAttempts = 5;

// Set by SIGINT while a progress watch runs; the watch stops, the service stays.
volatile std::sig_atomic_t serviceWatchInterrupted = 0;

extern "C" void onServiceWatchInterrupt(int /*signal*/) { serviceWatchInterrupted = 1; }

// Catches Ctrl-C for its lifetime and restores the previous handler after.
class InterruptCatcher {
 public:
  InterruptCatcher() {
    serviceWatchInterrupted = 0;
    struct sigaction action {};
    action.sa_handler = onServiceWatchInterrupt;
    sigemptyset(&action.sa_mask);
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
  ~InterruptCatcher() {
    if (installed_) {
      sigaction(SIGINT, &previous_, nullptr);
    }
  }
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;

  bool interrupted() const { return serviceWatchInterrupted != 0; }

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

std::string servicePath(const std::string& reference) {
  return "/v1/services/" + api::percentEncode(reference);
}

Result<api::Service> getService(DaemonClient& client, const std::string& reference) {
  auto json = client.get(servicePath(reference));
  if (!json) {
    return std::unexpected(json.error());
  }
  return json->get<api::Service>();
}

Result<std::vector<api::Task>> getTasks(DaemonClient& client) {
  auto json = client.get("/v1/tasks");
  if (!json) {
    return std::unexpected(json.error());
  }
  return json->get<std::vector<api::Task>>();
}

struct WatchOptions {
  bool detach = false;
  bool quiet = false;  // wait, but print no progress
};

// Polls the service and its tasks until it converges (then prints Docker's "verify:
// Service converged"), cannot converge (an error listing the failed tasks' errors), the
// daemon stops answering, or Ctrl-C (stops watching; the service stays as it is).
Status watchConvergence(CliContext& context, DaemonClient& client, const std::string& serviceId,
                        ProgressWatch& watch, const WatchOptions& options) {
  InterruptCatcher interrupt;
  ProgressTimings timings;
  bool terminal = context.out == &std::cout && isatty(STDOUT_FILENO) == 1;
  ProgressPrinter printer(*context.out, terminal);
  auto start = std::chrono::steady_clock::now();
  int failedPolls = 0;
  std::string name = serviceId;
  while (true) {
    if (interrupt.interrupted()) {
      std::cerr << "Stopped watching; the service goes on converging: see `overmesh service ps "
                << name << "`\n";
      return {};
    }
    auto service = getService(client, serviceId);
    Result<std::vector<api::Task>> tasks =
        service ? getTasks(client)
                : Result<std::vector<api::Task>>(std::unexpected(service.error()));
    if (!tasks) {
      if (interrupt.interrupted()) {
        continue;
      }
      if (tasks.error().kind == ErrorKind::NotFound && !service) {
        return errorf(ErrorKind::NotFound, "service {} was removed while its progress was shown",
                      name);
      }
      if (++failedPolls >= kMaxFailedPolls) {
        return std::unexpected(tasks.error().withContext("watching the service's progress"));
      }
      std::this_thread::sleep_for(kProgressPollInterval);
      continue;
    }
    failedPolls = 0;
    name = service->spec.name;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    ProgressStep step = watch.observe(*service, *tasks, elapsed.count());
    if (!options.quiet) {
      printer.show(progressStepLines(step, timings));
    }
    if (step.phase == ProgressPhase::Converged) {
      return {};
    }
    if (step.phase == ProgressPhase::Failed) {
      return errorf(ErrorKind::FailedPrecondition, "service {} cannot converge:\n  {}", name,
                    fmt::join(step.snapshot.failures, "\n  "));
    }
    std::this_thread::sleep_for(kProgressPollInterval);
  }
}

// Sends the update `change` makes to the service's spec, with the update index it was read
// at; re-reads and re-applies `change` when another update came between (Conflict).
// Returns the service as it was read for the update that went through.
// The manager's "warnings" in a create or update reply, each on stderr as Docker prints
// them (e.g. an image it could not pin to its digest).
void printWarnings(CliContext& context, const nlohmann::json& reply) {
  auto warnings = reply.find("warnings");
  if (warnings == reply.end() || !warnings->is_array()) {
    return;
  }
  for (const auto& warning : *warnings) {
    if (warning.is_string()) {
      *context.err << "warning: " << warning.get<std::string>() << '\n';
    }
  }
  context.err->flush();
}

// `--no-resolve-image` as the API takes it.
std::string resolveImageQuery(bool noResolveImage) {
  return noResolveImage ? "?noResolveImage=true" : "";
}

// What an update sends besides the spec: `--no-resolve-image`, and where the manager's
// warnings go (none for scale, which never changes the image).
struct UpdateSending {
  bool noResolveImage = false;
  CliContext* warningsTo = nullptr;
};

template <typename Change>
Result<api::Service> updateService(DaemonClient& client, const std::string& reference, bool force,
                                   Change&& change, UpdateSending sending = {}) {
  return updateWithRetry(
      reference, force, kMaxUpdateAttempts, [&] { return getService(client, reference); },
      std::forward<Change>(change),
      [&](const api::Service& readAt, const api::ServiceUpdateRequest& request) {
        auto reply = client.post(
            servicePath(readAt.id) + "/update" + resolveImageQuery(sending.noResolveImage),
            nlohmann::json(request));
        if (reply && sending.warningsTo != nullptr) {
          printWarnings(*sending.warningsTo, *reply);
        }
        return reply;
      });
}

// ---- create ----

struct ServiceCreateCommand {
  ServiceCreateFlags flags;
  bool noResolveImage = false;
  WatchOptions watch;
};

Status runServiceCreate(CliContext& context, const ServiceCreateCommand& command) {
  auto spec = specFromCreateFlags(command.flags);
  if (!spec) {
    return std::unexpected(spec.error());
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto created = client->post("/v1/services" + resolveImageQuery(command.noResolveImage),
                              nlohmann::json(*spec));
  if (!created) {
    return std::unexpected(created.error());
  }
  printWarnings(context, *created);
  auto service = created->get<api::Service>();
  *context.out << service.id << '\n';
  context.out->flush();
  if (command.watch.detach) {
    return {};
  }
  ProgressWatch watch;
  return watchConvergence(context, *client, service.id, watch, command.watch);
}

// ---- update and scale ----

struct ServiceUpdateCommand {
  std::string service;
  ServiceUpdateFlags flags;
  bool force = false;
  bool noResolveImage = false;
  WatchOptions watch;
};

Status runServiceUpdate(CliContext& context, const ServiceUpdateCommand& command) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  ProgressWatch watch;
  if (!command.watch.detach) {
    auto before = getTasks(*client);
    if (!before) {
      return std::unexpected(before.error());
    }
    watch.setBaseline(*before);
  }
  auto service = updateService(
      *client, command.service, command.force,
      [&](const api::Service& current) { return applyUpdateFlags(current, command.flags); },
      UpdateSending{command.noResolveImage, &context});
  if (!service) {
    return std::unexpected(service.error());
  }
  *context.out << service->spec.name << '\n';
  context.out->flush();
  if (command.watch.detach) {
    return {};
  }
  return watchConvergence(context, *client, service->id, watch, command.watch);
}

struct ServiceScaleCommand {
  std::vector<std::string> arguments;
  WatchOptions watch;
};

Status runServiceScale(CliContext& context, const ServiceScaleCommand& command) {
  // Every argument is checked before any service changes.
  std::vector<std::pair<std::string, std::int64_t>> wanted;
  for (const auto& argument : command.arguments) {
    auto parsed = parseScaleArgument(argument);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    wanted.push_back(*parsed);
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  std::vector<std::string> failures;
  for (const auto& [reference, replicas] : wanted) {
    ProgressWatch watch;
    if (!command.watch.detach) {
      auto before = getTasks(*client);
      if (!before) {
        return std::unexpected(before.error());
      }
      watch.setBaseline(*before);
    }
    auto service = updateService(
        *client, reference, false, [&](const api::Service& current) -> Result<api::ServiceSpec> {
          if (current.spec.mode != "replicated") {
            return errorf(ErrorKind::InvalidArgument,
                          "{}: scale can only be used with replicated mode", reference);
          }
          api::ServiceSpec spec = current.spec;
          spec.replicas = replicas;
          return spec;
        });
    if (!service) {
      failures.push_back(service.error().message);
      continue;
    }
    *context.out << reference << " scaled to " << replicas << '\n';
    context.out->flush();
    if (command.watch.detach) {
      continue;
    }
    if (auto converged = watchConvergence(context, *client, service->id, watch, command.watch);
        !converged) {
      failures.push_back(converged.error().message);
    }
  }
  if (!failures.empty()) {
    return errorf(ErrorKind::FailedPrecondition, "{}", fmt::join(failures, "\n"));
  }
  return {};
}

// ---- ls, ps, inspect, rm, logs ----

struct ServiceListCommand {
  std::string format = "table";
  bool quiet = false;
};

Status runServiceList(CliContext& context, const ServiceListCommand& command) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto json = client->get("/v1/services");
  if (!json) {
    return std::unexpected(json.error());
  }
  if (command.format == "json") {
    printJson(*context.out, *json);
    return {};
  }
  auto services = json->get<std::vector<api::Service>>();
  std::sort(services.begin(), services.end(),
            [](const api::Service& a, const api::Service& b) { return a.spec.name < b.spec.name; });
  if (command.quiet) {
    for (const auto& service : services) {
      *context.out << shortId(service.id) << '\n';
    }
    return {};
  }
  auto tasks = getTasks(*client);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  printServiceList(*context.out, services, *tasks);
  return {};
}

struct ServicePsCommand {
  std::vector<std::string> services;
  bool noTrunc = false;
  bool quiet = false;
  std::string filter;  // desired-state=running|shutdown
  std::string format = "table";
};

Result<PsOptions> psOptionsFrom(const ServicePsCommand& command) {
  PsOptions options;
  options.noTrunc = command.noTrunc;
  if (command.filter.empty()) {
    return options;
  }
  const std::string prefix = "desired-state=";
  std::string state =
      command.filter.starts_with(prefix) ? command.filter.substr(prefix.size()) : "";
  if (state != "running" && state != "shutdown") {
    return errorf(ErrorKind::InvalidArgument,
                  "--filter \"{}\" is not valid: use desired-state=running or "
                  "desired-state=shutdown",
                  command.filter);
  }
  options.desiredState = state;
  return options;
}

Status runServicePs(CliContext& context, const ServicePsCommand& command) {
  auto options = psOptionsFrom(command);
  if (!options) {
    return std::unexpected(options.error());
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  std::vector<api::Service> services;
  for (const auto& reference : command.services) {
    auto service = getService(*client, reference);
    if (!service) {
      return std::unexpected(service.error());
    }
    services.push_back(std::move(*service));
  }
  auto tasks = getTasks(*client);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  if (command.format == "json") {
    nlohmann::json found = nlohmann::json::array();
    for (const auto& service : services) {
      for (const auto& task : tasksOfService(service, *tasks)) {
        if (options->desiredState.empty() || task.desiredState == options->desiredState) {
          found.push_back(task);
        }
      }
    }
    printJson(*context.out, found);
    return {};
  }
  printServicePs(*context.out, services, *tasks, nowMillis(), *options, command.quiet);
  return {};
}

Status runServiceInspect(CliContext& context, const std::vector<std::string>& references) {
  return inspectEach(context, references, servicePath);
}

Status runServiceRemove(CliContext& context, const std::vector<std::string>& references) {
  return removeEach(context, references, servicePath);
}

// Every task's output (history included), each line prefixed "web.1.<id>@<host>    | ".
// A task whose logs cannot be read (its node is down) is reported after the others.
Status runServiceLogs(CliContext& context, const std::string& reference) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto service = getService(*client, reference);
  if (!service) {
    return std::unexpected(service.error());
  }
  auto tasks = getTasks(*client);
  if (!tasks) {
    return std::unexpected(tasks.error());
  }
  auto own = tasksOfService(*service, *tasks);
  std::size_t width = 0;
  for (const auto& task : own) {
    width = std::max(width, logPrefix(*service, task).size());
  }
  std::vector<std::string> failures;
  for (const auto& task : own) {
    std::string prefix = logPrefix(*service, task);
    auto answer = client->send("GET", "/v1/tasks/" + api::percentEncode(task.id) + "/logs", "");
    Result<std::string> bytes = answer ? api::decodeLogs(*answer, "the daemon's logs answer")
                                       : Result<std::string>(std::unexpected(answer.error()));
    if (!bytes) {
      failures.push_back(fmt::format("{}: {}", prefix, bytes.error().message));
      continue;
    }
    std::string lines = prefixLogLines(prefix, width, *bytes);
    context.out->write(lines.data(), static_cast<std::streamsize>(lines.size()));
  }
  context.out->flush();
  if (!failures.empty()) {
    return errorf(ErrorKind::Unavailable, "could not read the logs of {} task(s):\n  {}",
                  failures.size(), fmt::join(failures, "\n  "));
  }
  return {};
}

// ---- flag registration ----

// An option whose absence matters (the spec keeps its value): set only when given.
CLI::Option* addTextOption(CLI::App* command, const std::string& name,
                           std::optional<std::string>& target, const std::string& help) {
  return command->add_option_function<std::string>(
      name, [&target](const std::string& value) { target = value; }, help);
}

// A repeatable option: one value per flag (like Docker), so that it does not swallow
// what follows.
void addListOption(CLI::App* command, const std::string& name, std::vector<std::string>& target,
                   const std::string& help) {
  command->add_option(name, target, help)->allow_extra_args(false);
}

void addSpecOptions(CLI::App* command, ServiceSpecFlags& flags) {
  addTextOption(command, "--endpoint-mode", flags.endpointMode, "vip (default) or dnsrr");
  addTextOption(command, "--restart-condition", flags.restartCondition,
                "Restart when a task exits: any (default), on-failure, none");
  addTextOption(command, "--restart-delay", flags.restartDelay,
                "Wait between restarts, e.g. 5s (default 5s)");
  addTextOption(command, "--restart-max-attempts", flags.restartMaxAttempts,
                "Give up after this many restarts (default 0: no limit)");
  addTextOption(command, "--restart-window", flags.restartWindow,
                "Window the restart attempts are counted in (default: the service's life)");
  addTextOption(command, "--stop-grace-period", flags.stopGracePeriod,
                "Wait before SIGKILL when stopping a task (default 10s)");
  addTextOption(command, "--health-cmd", flags.healthCmd, "Health check, run as /bin/sh -c CMD");
  addTextOption(command, "--health-interval", flags.healthInterval,
                "Time between checks (default 30s)");
  addTextOption(command, "--health-timeout", flags.healthTimeout,
                "Longest a check may run (default 30s)");
  addTextOption(command, "--health-retries", flags.healthRetries,
                "Failures in a row that make a task unhealthy (default 3)");
  addTextOption(command, "--health-start-period", flags.healthStartPeriod,
                "Failures not counted for this long after start (default 0s)");
  addTextOption(command, "--update-parallelism", flags.updateParallelism,
                "Tasks replaced at once by an update (default 1; 0: all)");
  addTextOption(command, "--update-delay", flags.updateDelay,
                "Wait between update batches (default 0s)");
  addTextOption(command, "--update-order", flags.updateOrder,
                "stop-first (default) or start-first");
}

void addWatchOptions(CLI::App* command, WatchOptions& options) {
  command->add_flag("-d,--detach", options.detach,
                    "Return at once instead of waiting for the service to converge");
  command->add_flag("-q,--quiet", options.quiet, "Print no progress (still waits)");
}

}  // namespace

void addServiceCommands(CLI::App& app, CliContext& context) {
  CLI::App* service = app.add_subcommand("service", "Manage services");
  service->require_subcommand(1);

  auto create = context.hold<ServiceCreateCommand>();
  CLI::App* createCommand = service->add_subcommand("create", "Create a service");
  createCommand->add_option("--name", create->flags.name, "Service name")->required();
  addTextOption(createCommand, "--replicas", create->flags.replicas,
                "Number of tasks (replicated mode; default 1)");
  addTextOption(createCommand, "--mode", create->flags.mode, "replicated (default) or global");
  addListOption(createCommand, "--network", create->flags.networks,
                "Network to join: NET[,alias=A] or name=NET,alias=A,alias=B (repeatable)");
  addListOption(createCommand, "-e,--env", create->flags.env, "Environment KEY=VALUE (repeatable)");
  addListOption(createCommand, "--constraint", create->flags.constraints,
                "Placement: node.id|node.hostname|node.role|node.labels.K ==|!= value "
                "(repeatable)");
  addListOption(createCommand, "--label", create->flags.labels,
                "Service metadata KEY=VALUE (repeatable)");
  addListOption(createCommand, "-p,--publish", create->flags.publish,
                "Publish a port as a node port: PUBLISHED:TARGET[/udp], TARGET (published port "
                "allocated from 30000-32767), ranges 8080-8081:80-81, or "
                "published=P,target=T[,protocol=tcp|udp][,mode=ingress|host] (repeatable)");
  addSpecOptions(createCommand, create->flags.spec);
  addContainerOptions(createCommand, create->flags.container);
  createCommand->add_flag("--no-resolve-image", create->noResolveImage,
                          "Do not pin the image to its digest on a registry (each node pulls "
                          "the tag itself)");
  addWatchOptions(createCommand, create->watch);
  createCommand->add_option("command", create->flags.command,
                            "Command and arguments, after -- (optional with --image)");
  createCommand->callback([&context, create] {
    context.action = [&context, create] { return runServiceCreate(context, *create); };
  });

  auto update = context.hold<ServiceUpdateCommand>();
  CLI::App* updateCommand = service->add_subcommand("update", "Update a service");
  addTextOption(updateCommand, "--replicas", update->flags.replicas, "Number of tasks");
  addListOption(updateCommand, "--env-add", update->flags.envAdd,
                "Add or replace a variable KEY=VALUE (repeatable)");
  addListOption(updateCommand, "--env-rm", update->flags.envRm, "Remove a variable (repeatable)");
  addListOption(updateCommand, "--constraint-add", update->flags.constraintAdd,
                "Add a placement constraint (repeatable)");
  addListOption(updateCommand, "--constraint-rm", update->flags.constraintRm,
                "Remove a placement constraint (repeatable)");
  addListOption(updateCommand, "--network-add", update->flags.networkAdd,
                "Join a network: NET[,alias=A] (repeatable)");
  addListOption(updateCommand, "--network-rm", update->flags.networkRm,
                "Leave a network (repeatable)");
  addListOption(updateCommand, "--label-add", update->flags.labelAdd,
                "Add or replace a label KEY=VALUE (repeatable)");
  addListOption(updateCommand, "--label-rm", update->flags.labelRm, "Remove a label (repeatable)");
  addListOption(updateCommand, "--publish-add", update->flags.publishAdd,
                "Add or update a published port, as --publish of service create; replaces the "
                "port with the same published port and protocol (repeatable)");
  addListOption(updateCommand, "--publish-rm", update->flags.publishRm,
                "Remove a published port by its target port: TARGET[/udp] or "
                "target=T[,protocol=udp][,mode=host] (repeatable)");
  addSpecOptions(updateCommand, update->flags.spec);
  addContainerUpdateOptions(updateCommand, update->flags.container);
  updateCommand->add_flag("--no-healthcheck", update->flags.noHealthcheck,
                          "Remove the health check");
  updateCommand->add_flag("--force", update->force,
                          "Replace every task even if the spec did not change");
  updateCommand->add_flag("--no-resolve-image", update->noResolveImage,
                          "Do not pin a new image to its digest on a registry");
  addWatchOptions(updateCommand, update->watch);
  updateCommand->add_option("service", update->service, "Service name or ID")->required();
  updateCommand->add_option("command", update->flags.command,
                            "New command and arguments, after --");
  updateCommand->callback([&context, update] {
    context.action = [&context, update] { return runServiceUpdate(context, *update); };
  });

  auto scale = context.hold<ServiceScaleCommand>();
  CLI::App* scaleCommand = service->add_subcommand("scale", "Change replicated services' replicas");
  addWatchOptions(scaleCommand, scale->watch);
  scaleCommand->add_option("service", scale->arguments, "SERVICE=REPLICAS…")->required();
  scaleCommand->callback([&context, scale] {
    context.action = [&context, scale] { return runServiceScale(context, *scale); };
  });

  auto list = context.hold<ServiceListCommand>();
  CLI::App* listCommand = service->add_subcommand("ls", "List services");
  listCommand->alias("list");
  addFormatOption(listCommand, list->format);
  listCommand->add_flag("-q,--quiet", list->quiet, "Print only service IDs");
  listCommand->callback([&context, list] {
    context.action = [&context, list] { return runServiceList(context, *list); };
  });

  auto ps = context.hold<ServicePsCommand>();
  CLI::App* psCommand = service->add_subcommand("ps", "List the tasks of services");
  psCommand->add_flag("--no-trunc", ps->noTrunc, "Do not shorten IDs, names, commands, errors");
  psCommand->add_flag("-q,--quiet", ps->quiet, "Print only task IDs");
  psCommand->add_option("-f,--filter", ps->filter,
                        "desired-state=running or desired-state=shutdown");
  addFormatOption(psCommand, ps->format);
  psCommand->add_option("service", ps->services, "Service names or IDs")->required();
  psCommand->callback(
      [&context, ps] { context.action = [&context, ps] { return runServicePs(context, *ps); }; });

  auto inspectRefs = context.hold<std::vector<std::string>>();
  auto inspectFormat = context.hold<std::string>("json");
  CLI::App* inspect = service->add_subcommand("inspect", "Show services in detail (JSON)");
  inspect->add_option("service", *inspectRefs, "Service names or IDs")->required();
  inspect->add_option("--format", *inspectFormat, "Output format: json")
      ->check(CLI::IsMember({"json"}))
      ->capture_default_str();
  inspect->callback([&context, inspectRefs] {
    context.action = [&context, inspectRefs] { return runServiceInspect(context, *inspectRefs); };
  });

  auto removeRefs = context.hold<std::vector<std::string>>();
  CLI::App* remove = service->add_subcommand("rm", "Remove services");
  remove->alias("remove");
  remove->add_option("service", *removeRefs, "Service names or IDs")->required();
  remove->callback([&context, removeRefs] {
    context.action = [&context, removeRefs] { return runServiceRemove(context, *removeRefs); };
  });

  auto logsRef = context.hold<std::string>();
  CLI::App* logs = service->add_subcommand("logs", "Show the output of every task of a service");
  logs->add_option("service", *logsRef, "Service name or ID")->required();
  logs->callback([&context, logsRef] {
    context.action = [&context, logsRef] { return runServiceLogs(context, *logsRef); };
  });
}

}  // namespace overmesh::cli
