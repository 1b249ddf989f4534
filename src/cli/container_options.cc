#include "cli/container_options.h"

#include <optional>
#include <string>

namespace overmesh::cli {
namespace {

// A flag whose absence matters (unset keeps the image's or the service's value).
void addOptionalText(CLI::App* command, const std::string& name, std::optional<std::string>& target,
                     const std::string& help) {
  command->add_option_function<std::string>(
      name, [&target](const std::string& value) { target = value; }, help);
}

// Repeatable, one value per flag, so it does not swallow what follows.
void addRepeatable(CLI::App* command, const std::string& name, std::vector<std::string>& target,
                   const std::string& help) {
  command->add_option(name, target, help)->allow_extra_args(false);
}

constexpr const char* kImageHelp =
    "Run this OCI image: NAME[:TAG][@DIGEST], e.g. nginx:1.25 or 198.18.0.101:5000/web:1 "
    "(the command after -- becomes optional: the image's own runs)";
constexpr const char* kEntrypointHelp =
    "Replace the image's ENTRYPOINT: a program and its arguments, split as a shell would "
    "(quotes, no expansion); the command after -- stays its arguments";
constexpr const char* kMountHelp =
    "Mount a volume or a node path: type=bind|volume,source=S,target=T[,readonly] "
    "(repeatable)";

}  // namespace

void addContainerOptions(CLI::App* command, ContainerFlags& flags) {
  addOptionalText(command, "--image", flags.image, kImageHelp);
  addOptionalText(command, "--entrypoint", flags.entrypoint, kEntrypointHelp);
  addOptionalText(command, "-w,--workdir", flags.workdir,
                  "Working directory inside the container (absolute)");
  addOptionalText(command, "-u,--user", flags.user,
                  "User to run as inside the container: NAME|UID[:GROUP|GID]");
  addRepeatable(command, "--mount", flags.mounts, kMountHelp);
  command->add_flag("--read-only", flags.readOnly,
                    "Mount the container's root filesystem read-only");
  command->add_flag("--init", flags.init, "Run an init as PID 1 that reaps orphans (catatonit)");
  addOptionalText(command, "--stop-signal", flags.stopSignal,
                  "Signal that stops the task (default: the image's STOPSIGNAL, else SIGTERM)");
}

void addContainerUpdateOptions(CLI::App* command, ContainerUpdateFlags& flags) {
  addOptionalText(command, "--image", flags.image, "Run this image (tasks roll to it)");
  addOptionalText(command, "--entrypoint", flags.entrypoint,
                  "Replace the image's ENTRYPOINT (\"\" restores the image's own)");
  addOptionalText(command, "-w,--workdir", flags.workdir,
                  "Working directory inside the container (\"\" restores the image's)");
  addOptionalText(command, "-u,--user", flags.user,
                  "User inside the container: NAME|UID[:GROUP|GID] (\"\" restores the image's)");
  addRepeatable(command, "--mount-add", flags.mountAdd,
                "Add a mount, as --mount of service create; replaces the mount with the same "
                "target (repeatable)");
  addRepeatable(command, "--mount-rm", flags.mountRm,
                "Remove the mount at this target (repeatable)");
  addOptionalText(command, "--read-only", flags.readOnly,
                  "true|false: mount the container's root filesystem read-only");
  addOptionalText(command, "--init", flags.init, "true|false: run an init as PID 1");
  addOptionalText(command, "--stop-signal", flags.stopSignal,
                  "Signal that stops the task (\"\" restores the image's)");
}

}  // namespace overmesh::cli
