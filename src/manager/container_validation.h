#pragma once

// Pure validation of what a task runs as a container (api::ContainerSpec, issue 10), on
// the manager before anything is written: `service create|update` and `run` call it. It
// returns the spec normalised as records hold it (the image reference as Docker
// normalises it, mount targets cleaned, the stop signal as "SIGxxx"), so every node reads
// one form. Every error is InvalidArgument and names the field as the user gives it
// (`--image`, `--mount target`, `--stop-signal`, …), quotes the value and says what would
// be valid. The values come from a request: nothing here trusts their length or bytes.

#include <cstddef>
#include <string>
#include <string_view>

#include "api/container_types.h"
#include "common/error.h"

namespace overmesh::manager {

inline constexpr std::size_t kMaxContainerPath = 4096;  // workdir, mount paths
inline constexpr std::size_t kMaxMounts = 32;
inline constexpr std::size_t kMaxEntrypointWords = 256;
inline constexpr std::size_t kMaxEntrypointBytes = 64 * 1024;  // all words together
inline constexpr std::size_t kMaxContainerLabels = 256;
inline constexpr std::size_t kMaxContainerLabelKey = 256;
inline constexpr std::size_t kMaxContainerLabelValue = 4096;

// `spec` checked and normalised. `hasCommand` says whether the task or service has a
// command (the words after `--`): with no image, the command is what runs, so one of the
// two is required; with an image, the command is optional (the image's CMD runs).
// Fails on: no image and no command; any container field (entrypoint, workdir, user,
// mounts, read-only, init, stop signal) without an image (a process task runs on the
// node's own filesystem); an image reference parseImageReference refuses; a workdir, mount
// target or bind source that is not absolute, holds a NUL or exceeds kMaxContainerPath; a
// mount target of "/" or of a file overmesh provides (/etc/hosts, /etc/resolv.conf,
// /etc/hostname); two mounts with one target; more than kMaxMounts mounts; a mount type
// other than bind or volume; a bind without a source; a volume name outside
// [A-Za-z0-9][A-Za-z0-9_.-]{0,254}; a user not NAME|UID[:GROUP|GID]; an empty entrypoint
// word, or more than kMaxEntrypointWords words or kMaxEntrypointBytes bytes; a stop
// signal that is not a known signal name or number; a hostname that is a template
// ("{{…}}") or not a DNS name of at most kMaxHostname bytes (isHostName); more than
// kMaxContainerLabels labels, a label key empty, longer than kMaxContainerLabelKey or holding '='
// or NUL, a value longer than kMaxContainerLabelValue or holding NUL. Hostname and labels are
// allowed without an image (process tasks).
Result<api::ContainerSpec> validateContainerSpec(const api::ContainerSpec& spec, bool hasCommand);

// A stop signal as "SIGxxx": from "TERM", "SIGTERM", "sigterm" or "15". InvalidArgument
// naming --stop-signal for an unknown name or number.
Result<std::string> normaliseStopSignal(std::string_view signal);

}  // namespace overmesh::manager
