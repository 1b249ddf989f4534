#pragma once

// The container flags of `run`, `service create` and `service update` (issue 10) turned
// into an api::ContainerSpec, Docker's shapes. Pure, like service_spec_flags.h: each flag
// arrives as the text the user typed (unset = nullopt or empty), and a flag that does not
// parse fails with InvalidArgument naming the flag (and for --mount the key), its value
// and what would be valid; nothing is sent then.
//
// Left to the manager (container_validation.h), which sees every request, also those not
// made by this CLI: whether paths are absolute, the user's syntax, the signal's name, the
// mount targets it refuses. The CLI checks only the image reference (so a typo fails at
// once, before a service is made) and the syntax of its own flags.

#include <optional>
#include <string>
#include <vector>

#include "api/container_types.h"
#include "common/error.h"

namespace overmesh::cli {

// `run` and `service create`.
struct ContainerFlags {
  std::optional<std::string> image;       // --image REF
  std::optional<std::string> entrypoint;  // --entrypoint "CMD ARGS" (split as a shell would)
  std::optional<std::string> workdir;     // -w/--workdir DIR
  std::optional<std::string> user;        // -u/--user USER[:GROUP]
  std::vector<std::string> mounts;        // --mount type=…,source=…,target=…[,readonly]
  bool readOnly = false;                  // --read-only
  bool init = false;                      // --init
  std::optional<std::string> stopSignal;  // --stop-signal SIG
};

// `service update`: each flag given changes that field; the others keep the service's.
struct ContainerUpdateFlags {
  std::optional<std::string> image;
  std::optional<std::string> entrypoint;  // "" resets to the image's ENTRYPOINT
  std::optional<std::string> workdir;     // "" resets to the image's
  std::optional<std::string> user;        // "" resets to the image's
  std::vector<std::string> mountAdd;      // as --mount; replaces a mount with its target
  std::vector<std::string> mountRm;       // a target the service mounts
  std::optional<std::string> readOnly;    // --read-only=true|false
  std::optional<std::string> init;        // --init=true|false
  std::optional<std::string> stopSignal;  // "" resets to the image's STOPSIGNAL
};

// The spec the flags describe. Fails on: an image reference parseImageReference refuses;
// an --entrypoint with an unterminated quote or an empty word; a --mount that
// parseMountFlag refuses; container flags without --image (a process task runs on the
// node's own filesystem).
Result<api::ContainerSpec> containerSpecFromFlags(const ContainerFlags& flags);

// `current` with the update flags applied (--mount-rm before --mount-add, as Docker
// does). Fails, changing nothing, on what containerSpecFromFlags refuses and on: a
// --mount-rm target the service does not mount (naming those it does); a --read-only or
// --init value that is not true or false; container flags for a service with no image
// unless --image is given too.
Result<api::ContainerSpec> applyContainerUpdateFlags(const api::ContainerSpec& current,
                                                     const ContainerUpdateFlags& flags);

// One --mount value in Docker's long syntax: comma-separated key=value with keys type
// (bind | volume; default volume), source|src, target|dst|destination and readonly|ro
// (bare, or =true|false|1|0). `flag` names the option in errors ("--mount",
// "--mount-add"). Fails on an unknown key, a key given twice, a missing target, a bad
// type or readonly value.
Result<api::Mount> parseMountFlag(const std::string& flag, const std::string& value);

// `text` split into words as a POSIX shell splits a simple command, with no expansion:
// blanks separate words; '…' keeps everything literally; "…" keeps everything but a
// backslash before " \ $ ` or a newline; a backslash outside quotes keeps the next
// character. Fails on an unterminated quote or a trailing backslash; `flag` names the
// option in errors.
Result<std::vector<std::string>> splitShellWords(const std::string& flag, const std::string& text);

// "true"/"false" (and "1"/"0") for --read-only=BOOL and --init=BOOL.
Result<bool> parseBoolFlag(const std::string& flag, const std::string& value);

}  // namespace overmesh::cli
