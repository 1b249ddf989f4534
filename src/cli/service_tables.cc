#include "cli/service_tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <tuple>

#include "cli/service_tasks.h"
#include "cli/table.h"
#include "common/ids.h"
#include "common/image_reference.h"
#include "common/quote.h"

namespace overmesh::cli {
namespace {

constexpr std::size_t kCommandWidth = 40;  // as `overmesh ps` shows commands
constexpr std::size_t kErrorWidth = 30;    // Docker's ERROR column

// `text` cut to `width` characters with "..." at the end. Only for ASCII (printable()'s
// output), so a cut never splits a character.
std::string cut(std::string text, std::size_t width) {
  if (text.size() > width) {
    text = text.substr(0, width - 3) + "...";
  }
  return text;
}

std::string commandText(const std::vector<std::string>& command, bool noTrunc) {
  std::string text = printable(fmt::format("{}", fmt::join(command, " ")), 1 << 20);
  return noTrunc ? text : cut(text, kCommandWidth);
}

std::string errorText(const api::Task& task, bool noTrunc) {
  if (!taskEnded(task) || (task.state == "exited" && task.exitCode == 0)) {
    return "";
  }
  std::string message = printable(task.message, 1 << 20);
  if (message.empty()) {
    message = fmt::format("non-zero exit ({})", task.exitCode);
  }
  return fmt::format("\"{}\"", noTrunc ? message : cut(message, kErrorWidth));
}

std::string currentStateText(const api::Task& task, std::int64_t nowMs) {
  std::string state = capitalised(printable(task.state));
  if (task.updatedAtMs <= 0) {
    return state;
  }
  return fmt::format("{} {} ago", state, humanDuration(nowMs - task.updatedAtMs));
}

// A run of ingress ports shown as one entry: published first..last to target
// targetFirst..targetLast (a range of the same size) or to targetFirst alone.
struct PortRun {
  std::string protocol;
  std::int64_t publishedFirst = 0;
  std::int64_t publishedLast = 0;
  std::int64_t targetFirst = 0;
  std::int64_t targetLast = 0;

  bool oneTarget() const { return targetFirst == targetLast; }
  bool singlePort() const { return publishedFirst == publishedLast; }

  // Whether `port` (sorted after the run's last) continues the run: the next published
  // port of the protocol, and the next target of a range, or the one target again.
  bool extendsWith(const api::PortConfig& port) const {
    if (port.protocol != protocol || port.publishedPort != publishedLast + 1) {
      return false;
    }
    bool nextTarget = port.targetPort == targetLast + 1;
    bool sameTarget = port.targetPort == targetFirst && oneTarget();
    if (singlePort()) {
      return nextTarget || sameTarget;
    }
    return oneTarget() ? sameTarget : nextTarget;
  }

  std::string text() const {
    auto range = [](std::int64_t first, std::int64_t last) {
      return first == last ? std::to_string(first) : fmt::format("{}-{}", first, last);
    };
    return fmt::format("*:{}->{}/{}", range(publishedFirst, publishedLast),
                       range(targetFirst, targetLast), printable(protocol));
  }
};

}  // namespace

std::string publishedPortsText(const api::Service& service) {
  const auto& decided = service.ports.empty() ? service.spec.ports : service.ports;
  std::vector<api::PortConfig> ports;
  std::copy_if(decided.begin(), decided.end(), std::back_inserter(ports),
               [](const api::PortConfig& port) {
                 return port.publishMode == "ingress" && port.publishedPort > 0;
               });
  std::sort(ports.begin(), ports.end(), [](const api::PortConfig& a, const api::PortConfig& b) {
    return std::tie(a.protocol, a.publishedPort, a.targetPort) <
           std::tie(b.protocol, b.publishedPort, b.targetPort);
  });
  std::vector<std::string> texts;
  std::optional<PortRun> run;
  for (const auto& port : ports) {
    if (run && run->extendsWith(port)) {
      run->publishedLast = port.publishedPort;
      run->targetLast = port.targetPort;
      continue;
    }
    if (run) {
      texts.push_back(run->text());
    }
    run = PortRun{port.protocol, port.publishedPort, port.publishedPort, port.targetPort,
                  port.targetPort};
  }
  if (run) {
    texts.push_back(run->text());
  }
  return fmt::format("{}", fmt::join(texts, ", "));
}

std::string humanDuration(std::int64_t ms) {
  constexpr std::int64_t kHourMs = 3'600'000;
  std::int64_t seconds = ms / 1000;
  if (seconds < 1) {
    return "Less than a second";
  }
  if (seconds == 1) {
    return "1 second";
  }
  if (seconds < 60) {
    return fmt::format("{} seconds", seconds);
  }
  std::int64_t minutes = seconds / 60;
  if (minutes == 1) {
    return "About a minute";
  }
  if (minutes < 60) {
    return fmt::format("{} minutes", minutes);
  }
  std::int64_t hours = (ms + kHourMs / 2) / kHourMs;  // rounded, as Docker does
  if (hours == 1) {
    return "About an hour";
  }
  if (hours < 48) {
    return fmt::format("{} hours", hours);
  }
  if (hours < 24 * 7 * 2) {
    return fmt::format("{} days", hours / 24);
  }
  if (hours < 24 * 30 * 2) {
    return fmt::format("{} weeks", hours / 24 / 7);
  }
  if (hours < 24 * 365 * 2) {
    return fmt::format("{} months", hours / 24 / 30);
  }
  return fmt::format("{} years", ms / kHourMs / 24 / 365);
}

std::string replicasText(const api::Service& service, const std::vector<api::Task>& tasks) {
  std::int64_t running = 0;
  std::int64_t shouldRun = 0;
  for (const auto& task : tasks) {
    if (task.serviceId != service.id || task.desiredState != "running") {
      continue;
    }
    ++shouldRun;
    if (task.state == "running") {
      ++running;
    }
  }
  std::int64_t desired = service.spec.mode == "global" ? shouldRun : service.spec.replicas;
  return fmt::format("{}/{}", running, desired);
}

std::string imageText(const api::ContainerSpec& container, bool noTrunc) {
  if (container.image.empty()) {
    return "-";
  }
  if (noTrunc) {
    return printable(container.image);
  }
  auto reference = parseImageReference(container.image);
  // A record the manager wrote always parses; anything else is shown as it is.
  return printable(reference ? reference->familiar() : container.image);
}

std::vector<std::string> serviceListRow(const api::Service& service,
                                        const std::vector<api::Task>& tasks) {
  return {shortId(service.id),
          printable(service.spec.name),
          printable(service.spec.mode),
          replicasText(service, tasks),
          imageText(service.spec.container, false),
          commandText(service.spec.command, false),
          publishedPortsText(service)};
}

void printServiceList(std::ostream& out, const std::vector<api::Service>& services,
                      const std::vector<api::Task>& tasks) {
  Table table({"ID", "NAME", "MODE", "REPLICAS", "IMAGE", "COMMAND", "PORTS"});
  for (const auto& service : services) {
    table.addRow(serviceListRow(service, tasks));
  }
  table.print(out);
}

void printServicePs(std::ostream& out, const std::vector<api::Service>& services,
                    const std::vector<api::Task>& tasks, std::int64_t nowMs,
                    const PsOptions& options, bool quiet) {
  Table table(
      {"ID", "NAME", "IMAGE", "COMMAND", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR"});
  for (const auto& service : services) {
    for (auto& row : servicePsRows(service, tasks, nowMs, options)) {
      if (quiet) {
        out << row.front() << '\n';
      } else {
        table.addRow(std::move(row));
      }
    }
  }
  if (!quiet) {
    table.print(out);
  }
}

std::vector<std::vector<std::string>> servicePsRows(const api::Service& service,
                                                    const std::vector<api::Task>& tasks,
                                                    std::int64_t nowMs, const PsOptions& options) {
  std::vector<std::vector<std::string>> rows;
  std::string previousKey;
  bool first = true;
  for (const auto& task : tasksOfService(service, tasks)) {
    if (!options.desiredState.empty() && task.desiredState != options.desiredState) {
      continue;
    }
    std::string key = slotKey(service, task);
    std::string name = printable(taskDisplayName(service, task, options.noTrunc));
    if (!first && key == previousKey) {
      name = " \\_ " + name;
    }
    first = false;
    previousKey = key;
    rows.push_back({options.noTrunc ? task.id : shortId(task.id), name,
                    imageText(task.container, options.noTrunc),
                    commandText(task.command, options.noTrunc), printable(task.nodeName),
                    capitalised(printable(task.desiredState)), currentStateText(task, nowMs),
                    errorText(task, options.noTrunc)});
  }
  return rows;
}

std::string logPrefix(const api::Service& service, const api::Task& task) {
  return printable(fmt::format("{}.{}@{}", taskDisplayName(service, task, false), shortId(task.id),
                               task.nodeName));
}

std::string prefixLogLines(std::string_view prefix, std::size_t width, std::string_view bytes) {
  std::string head(prefix);
  head.append(width > prefix.size() ? width - prefix.size() : 0, ' ');
  head += "    | ";
  std::string out;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t newline = bytes.find('\n', start);
    std::size_t end = newline == std::string_view::npos ? bytes.size() : newline;
    out += head;
    out.append(bytes.substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace overmesh::cli
