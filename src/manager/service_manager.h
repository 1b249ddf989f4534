#pragma once

// ServiceManager owns service records: the service API (create, list, inspect, update,
// remove), their virtual IPs, and the application of the orchestrator's decisions (task
// records created, shut down, removed; placement problems written back).
//
// Every write is one compare-and-swap transaction: a service and its VIPs together, a
// batch of new tasks with their addresses together. Addresses come from the one rule in
// address_allocation.h, and every transaction that takes an address on a network compares
// and rewrites that network's attachment guard (as TaskManager::run does), so that a VIP,
// a service task and a standalone task never get one address, and `network rm` never
// deletes a network that a service or task just joined.
//
// Thread safety: every method may be called from any thread; mutex_ serialises this
// manager's allocations (the guards cover other managers sharing the store).

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"
#include "manager/image_resolver.h"
#include "orchestrator/orchestrator.h"
#include "store/store.h"

namespace overmesh::manager {

// How a create or update treats the image (issue 10).
struct ServiceWriteOptions {
  // Pin spec.container.image to its digest (`--no-resolve-image` clears it).
  bool resolveImage = true;
};

// A service written, with what the user should be told (Docker prints these on stderr):
// e.g. that its image could not be pinned.
struct ServiceWrite {
  api::Service service;
  std::vector<std::string> warnings;
};

class ServiceManager {
 public:
  // `resolver` (may be null: images are then stored unpinned) pins images at create and
  // update; it must outlive the manager.
  explicit ServiceManager(store::Store& store, ImageResolver* resolver = nullptr);

  // Validates `spec` completely (service_validation.h), resolves its networks, allocates
  // one VIP per network in vip mode, decides its published ports (published_ports.h) and
  // writes the service (Service::ports) and its name. InvalidArgument (a field, named as
  // its CLI flag), NotFound (unknown network), Conflict (name taken, a published port
  // used by another service, named), FailedPrecondition (a subnet has no address left, no
  // ingress network for an ingress-mode port, no dynamic port left), Unavailable (store).
  // Nothing is written on failure. A write with ports compares and moves
  // state::keys::kPublishedPortsGuard.
  Result<api::Service> create(const api::ServiceSpec& spec);

  // create() with the image pinned first: after the spec is validated, and before any
  // lock is taken or anything is read for the write (resolution is network I/O, up to
  // the resolver's timeout per registry), spec.container.image is normalised and, when
  // `options.resolveImage` and it has no digest, pinned to the digest the resolver finds
  // with the cluster's registry settings (image_pinning.h). A resolution failure is not
  // an error: the service is written unpinned and the reply carries a warning.
  Result<ServiceWrite> create(const api::ServiceSpec& spec, const ServiceWriteOptions& options);

  // Every service, ordered by name.
  Result<std::vector<api::Service>> list();

  // The service `reference` (ID, name or unique ID prefix) denotes; NotFound otherwise.
  Result<api::Service> inspect(const std::string& reference);

  // Replaces the service's spec. The spec is validated as in create; its name and mode
  // cannot change (InvalidArgument); Conflict when `request.updateIndex` is not the stored
  // updateIndex, which goes up on every update that goes through. The version goes up when
  // what the tasks run changed (command, env, networks or aliases, constraints, health
  // check, stop grace), when the first ingress-mode port is published or the last one
  // removed (tasks join or leave the ingress network), or on `force`; replicas, restart
  // policy, update config, endpoint mode, labels and other port changes do not change it.
  // A network added gets a VIP (vip mode), a network removed releases its VIP. Ports are
  // decided as in create; a port of 0 keeps the one the service had for the same target,
  // protocol and mode.
  Result<api::Service> update(const std::string& reference,
                              const api::ServiceUpdateRequest& request);

  // update() with the image pinned first as in create(options), when the image differs
  // from the stored one (as text: `--image web:1` again re-resolves a pinned web:1) or on
  // `force`; an unchanged image is kept as stored.
  Result<ServiceWrite> update(const std::string& reference,
                              const api::ServiceUpdateRequest& request,
                              const ServiceWriteOptions& options);

  // Deletes the service and its name; its VIPs and published ports are released with the
  // record. The orchestrator then shuts its tasks down ("service removed"). Returns what
  // was removed.
  Result<api::Service> remove(const std::string& reference);

  // The image of `spec` normalised and, when `resolve` (and a resolver is set), pinned to
  // its digest with the cluster's registry settings (see create(options)). A resolution
  // failure is not an error: the image stays unpinned and the result carries the warning.
  // InvalidArgument for an image reference that does not parse; Unavailable when the
  // registry settings cannot be read. Network I/O: call it with no lock held.
  Result<ServiceWrite> pinSpecImage(api::ServiceSpec& spec, bool resolve);

  struct ViewRead {
    orchestrator::ClusterView view;
    // The store revision before the reads: a watch from revision + 1 sees every change
    // the view may have missed.
    store::Revision revision = 0;
  };
  // Nodes, services and tasks as the orchestrator reads them, with `nowMs` as the time.
  Result<ViewRead> readView(std::int64_t nowMs);

  // Applies the orchestrator's decisions: shut-downs first (a task leaves DNS and the
  // load balancers before anything else happens), then removals of old records, then new
  // tasks (addresses allocated, one transaction; one attachment per spec network, in
  // order, then one on the ingress network when the service publishes an ingress-mode
  // port), then placement problems. A decision that
  // no longer fits the store (a task already shut down, a service changed to another
  // version, a node no longer ready) is skipped: the next reconcile decides again. Fails
  // (after retries) only when the store fails or keeps changing; what was applied stays.
  Status apply(const orchestrator::Decisions& decisions);

 private:
  Status applyShutDowns(const std::vector<orchestrator::TaskToShutDown>& shutDowns);
  Status applyRemovals(const std::vector<std::string>& taskIds);
  Status applyCreates(const std::vector<orchestrator::TaskToCreate>& creates);
  Status applyPlacementProblem(const std::string& serviceId, const std::string& problem);
  // Reads the records of `taskIds` and writes, in one transaction compared on each record
  // read, the operations `edit` returns for each (none: left alone); tasks removed
  // meanwhile are skipped. Retried when a record changed; `what` names the step in errors.
  using TaskEdit = std::function<std::vector<store::Operation>(api::Task& task,
                                                               const std::string& key)>;
  Status editTasks(const std::vector<std::string>& taskIds, std::string_view what,
                   const TaskEdit& edit);

  store::Store& store_;
  ImageResolver* resolver_;  // may be null; not owned
  std::mutex mutex_;
};

// The name of a service task: <service>.<slot>.<task id>, or <service>.<node id>.<task id>
// for a global service (slot 0).
std::string serviceTaskName(const std::string& serviceName, std::int64_t slot,
                            const std::string& nodeId, const std::string& taskId);

// `spec` as a service record holds it: validated (validateServiceSpec) and its container
// normalised (validateContainerSpec: image reference, paths, stop signal). create() and
// update() store this form, so two specs that store the same compare equal here (stack
// deploy's "unchanged"). InvalidArgument as those two validations.
Result<api::ServiceSpec> storedServiceSpec(const api::ServiceSpec& spec);

// True when `after` changes what the tasks of a service run, compared to `before`:
// command, env, networks or their aliases, constraints, health check or stop grace.
bool changesTasks(const api::ServiceSpec& before,
                  const std::vector<api::ServiceAttachment>& beforeAttachments,
                  const api::ServiceSpec& after,
                  const std::vector<api::ServiceAttachment>& afterAttachments);

}  // namespace overmesh::manager
