// libFuzzer target for the compose loader (src/compose/compose.h), which reads files a user
// hands to `overmesh stack deploy -c` (possibly someone else's). The input is split at
// "\n#--\n" into up to three compose files, loaded as `-c a -c b -c c` with a FileReader that
// refuses everything (env_file cannot reach the disk). Promises checked:
//   - nothing crashes, throws or hangs; limits hold (small ones here, to keep runs fast);
//   - every error is InvalidArgument or NotFound (the reader's), never Internal, except
//     the interim "schema not in this build yet" of a branch without buildProject;
//   - when the merge succeeds, `stack config`'s YAML loads back (parse and interpolation)
//     and emits the same text again.
// A broken promise aborts, which the fuzzer reports as a crash.
//
// Built like request_decoders_fuzz.cc: a real libFuzzer binary with clang
// (scripts/fuzz.sh 60 compose_loader), the GCC stand-in driver as a unit test otherwise.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "compose/compose.h"
#include "compose/interpolation.h"

namespace {

using namespace overmesh;
using namespace overmesh::compose;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "compose_loader fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

bool expectedError(const Error& error) {
  if (error.kind == ErrorKind::InvalidArgument || error.kind == ErrorKind::NotFound) {
    return true;
  }
  return error.kind == ErrorKind::Internal &&
         error.message.find("the compose schema is not in this build yet") != std::string::npos;
}

std::vector<ComposeSource> split(std::string_view input) {
  std::vector<ComposeSource> sources;
  constexpr std::string_view kSeparator = "\n#--\n";
  while (sources.size() < 2) {
    std::size_t at = input.find(kSeparator);
    if (at == std::string_view::npos) {
      break;
    }
    sources.push_back({fmt::format("f{}.yml", sources.size()), std::string(input.substr(0, at))});
    input.remove_prefix(at + kSeparator.size());
  }
  sources.push_back({fmt::format("f{}.yml", sources.size()), std::string(input)});
  return sources;
}

void fuzzOne(std::string_view input) {
  LoadLimits limits;
  limits.maxBytes = 64 * 1024;
  limits.maxNodes = 20'000;
  limits.maxScalarBytes = 16 * 1024;
  const Environment environment{{"TAG", "1.0"}, {"EMPTY", ""}, {"SPECIAL", ": # [x] ${Y}"}};
  const FileReader refuse = [](const std::string& path) -> Result<std::string> {
    return errorf(ErrorKind::NotFound, "cannot open {}: refused by the fuzz target", path);
  };
  std::vector<ComposeSource> sources = split(input);

  auto merged = loadMerged(sources, environment, refuse, limits);
  if (!merged) {
    check(expectedError(merged.error()), "loadMerged: an unexpected error kind");
    return;
  }
  auto loaded = loadCompose(sources, environment, refuse, limits);
  if (!loaded) {
    check(expectedError(loaded.error()), "loadCompose: an unexpected error kind");
  }

  // `stack config` → deploy again: the emitted YAML loads back to the same tree.
  std::string emitted = emitYaml(merged->merged);
  LoadLimits generous;
  generous.maxBytes = 64 * emitted.size() + 1024;
  generous.maxScalarBytes = 4 * limits.maxScalarBytes;
  auto reparsed = parseYaml(emitted, "emitted.yml", generous);
  check(reparsed.has_value(), "emitYaml's output does not parse");
  Warnings warnings;
  check(interpolate(*reparsed, environment, warnings, generous).has_value(),
        "emitYaml's output does not interpolate");
  check(warnings.empty(), "emitYaml's output names a variable");
  check(emitYaml(*reparsed) == emitted, "emitYaml's output does not round-trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fuzzOne(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compose_loader fuzz: exception: %s\n", error.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "compose_loader fuzz: unknown exception\n");
    std::abort();
  }
  return 0;
}
