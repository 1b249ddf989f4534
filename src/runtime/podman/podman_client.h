#pragma once

// A client of podman's libpod REST API (v4, as in Debian 12's podman 4.3) on the unix
// socket of a `podman system service` the node runs: the few calls an image task needs.
// Containers are created into an existing network namespace (the task's sandbox, which
// the agent wired), with the node's container limits (podman_limits.h) and bind mounts of
// the task's own files. Errors carry podman's own message; HTTP 404 is NotFound, 409
// Conflict, 400 InvalidArgument, anything else (or no answer) Unavailable.
//
// Not thread-safe (one HTTP connection): one client per thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/http_client.h"
#include "common/error.h"
#include "runtime/image_store.h"
#include "runtime/podman/log_stream.h"
#include "runtime/podman/podman_limits.h"

namespace overmesh::runtime::podman {

struct BindMount {
  std::string source;  // a path on the node
  std::string target;  // inside the container
  bool readOnly = true;
};

// A named volume local to the node (podman creates it on first use).
struct NamedVolume {
  std::string name;
  std::string target;
  bool readOnly = false;
};

struct ContainerSpec {
  std::string name;   // unique on the node; the task ID
  std::string image;  // a reference podman knows (pulled or loaded)
  std::string hostname;
  std::vector<std::string> command;     // empty: the image's own cmd
  std::vector<std::string> entrypoint;  // empty: the image's own entrypoint
  std::vector<std::string> env;         // KEY=VALUE
  std::string workdir;                  // "" = the image's
  std::string user;                     // "" = the image's
  std::string netnsPath;                // /run/netns/NAME: joined, not created
  ContainerLimits limits;
  std::vector<BindMount> mounts;
  std::vector<NamedVolume> volumes;
  bool readOnly = false;                      // read-only root file system
  bool init = false;                          // catatonit as PID 1
  int stopSignal = 0;                         // 0 = the image's STOPSIGNAL (or SIGTERM)
  int stopTimeoutSeconds = -1;                // < 0: podman's default
  std::map<std::string, std::string> labels;  // list() finds containers by one
};

struct ExecOutput {
  int exitCode = 0;
  DemuxedOutput output;
};

struct ContainerState {
  std::string status;  // "created" | "running" | "exited" | …, as podman says
  int exitCode = 0;
  pid_t pid = 0;
  pid_t conmonPid = 0;
  bool oomKilled = false;
  std::string error;  // why it could not run, when podman knows
};

class PodmanClient {
 public:
  // A client of the service on `socketPath` (nothing is sent yet).
  static Result<PodmanClient> connect(const std::string& socketPath);

  // GET /_ping: whether the service answers.
  Status ping();
  // Creates the container (not started); returns its ID.
  Result<std::string> create(const ContainerSpec& spec);
  Status start(const std::string& name);
  Result<ContainerState> inspect(const std::string& name);
  // SIGTERM (the image's stop signal), SIGKILL after `timeout`; returns when it stopped.
  Status stop(const std::string& name, std::chrono::seconds timeout);
  // Kills and deletes the container; succeeds when it does not exist.
  Status remove(const std::string& name);
  // Its output so far, at most `maxBytes` of each stream.
  Result<DemuxedOutput> logs(const std::string& name, std::size_t maxBytes);
  // Runs `argv` in the running container and waits for it (at most `timeout`; 0 = no
  // limit): its exit code and output (at most `maxBytes` per stream). The exec's ID is
  // stored in `*execId` as soon as it exists, so that a caller can find its process.
  Result<ExecOutput> exec(const std::string& name, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout, std::size_t maxBytes,
                          std::string* execId = nullptr);
  // The process ID of exec `execId` on the node (0 when it ended).
  Result<pid_t> execPid(const std::string& execId);
  // The names of every container (running or not) with label `key`=`value`, sorted.
  Result<std::vector<std::string>> listByLabel(const std::string& key, const std::string& value);
  // Whether image `reference` is in the store (GET /images/{name}/exists).
  Result<bool> imageExists(const std::string& reference);
  // Pulls `reference` (no tag and digest together), following podman's progress stream:
  // `onProgress` gets the summary each time it changes. Fails with the registry's words,
  // the kind from pullErrorKind() (pull_stream.h).
  Status pullImage(const std::string& reference,
                   const std::function<void(const std::string&)>& onProgress);
  Result<std::vector<ImageSummary>> listImages();
  // Loads a docker-archive or OCI archive file; returns the names it brought.
  Result<std::vector<std::string>> loadImage(const std::string& archivePath);
  // FailedPrecondition when a container uses it and not `force`; NotFound when unknown.
  Status removeImage(const std::string& reference, bool force);

  // Requests in flight abort while `*cancel` is true (see HttpClient::setCancelFlag).
  void setCancelFlag(const std::atomic<bool>* cancel) { http_->setCancelFlag(cancel); }

 private:
  explicit PodmanClient(std::unique_ptr<api::HttpClient> http) : http_(std::move(http)) {}
  Result<api::HttpResponse> call(const std::string& method, const std::string& path,
                                 const std::string& body, std::chrono::milliseconds timeout);

  std::unique_ptr<api::HttpClient> http_;
};

// The libpod create request for `spec` (JSON text). Pure, for tests.
std::string containerCreateBody(const ContainerSpec& spec);

}  // namespace overmesh::runtime::podman
