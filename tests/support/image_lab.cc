#include "support/image_lab.h"

#include <fmt/format.h>

#include <filesystem>

namespace overmesh::testing {
namespace {

bool onPath(const std::string& tool) {
  return runCommand({"/bin/sh", "-c", "command -v " + tool + " >/dev/null"}).exitCode == 0;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

std::string missingImageTools() {
  std::vector<std::string> missing;
  for (const char* tool : {"podman", "runc", "skopeo", "docker-registry", "catatonit"}) {
    if (!onPath(tool)) {
      missing.emplace_back(tool);
    }
  }
  if (!std::filesystem::exists("/bin/busybox")) {
    missing.emplace_back("busybox-static");
  }
  return fmt::format("{}", fmt::join(missing, ", "));
}

TestImages::TestImages() {
  auto built = runCommand(
      {std::string(OVERMESH_SOURCE_DIR) + "/scripts/test-image.sh", dir_.path(), "1", "2"});
  if (built.exitCode != 0) {
    error_ = fmt::format("scripts/test-image.sh failed ({}): {}{}", built.exitCode, built.out,
                         built.err);
  }
}

const TestImages& TestImages::get() {
  static const TestImages images;
  return images;
}

std::string TestImages::archive(int version) const {
  if (!error_.empty()) {
    return "";
  }
  return fmt::format("{}/web-{}.tar", dir_.path(), version);
}

CommandResult LabRegistry::script(const std::vector<std::string>& args) const {
  // The script finds the lab in our run directory and uses the CLI this test was built with.
  std::vector<std::string> argv = {"/usr/bin/env", "OVERMESH=" + binaryPath("overmesh"),
                                   "OVERMESH_LAB_DIR=" + lab_.runDir(),
                                   std::string(OVERMESH_SOURCE_DIR) + "/scripts/lab-registry.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

CommandResult LabRegistry::start() const { return script({"start", lab_.name()}); }

CommandResult LabRegistry::stop() const { return script({"stop", lab_.name()}); }

CommandResult LabRegistry::push(const std::string& archive,
                                const std::vector<std::string>& names) const {
  std::vector<std::string> args = {"push", lab_.name(), archive};
  args.insert(args.end(), names.begin(), names.end());
  return script(args);
}

std::string LabRegistry::digest(const std::string& name) const {
  auto inspected =
      lab_.execClient(1, {"skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                          fmt::format("docker://{}/{}", kAddress, name)});
  return inspected.exitCode == 0 ? trimmed(inspected.out) : "";
}

}  // namespace overmesh::testing
