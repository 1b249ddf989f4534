#include "daemon/registry_settings_applier.h"

#include <spdlog/spdlog.h>

#include "api/container_types.h"
#include "common/json.h"
#include "runtime/podman/registries_conf.h"

namespace overmesh::daemon {
namespace {

constexpr std::chrono::seconds kRetryAfter{5};

}  // namespace

Result<std::string> registriesConfOfRecord(const std::optional<std::string>& record) {
  api::RegistrySettings settings;
  if (record) {
    auto decoded = decodeJson<api::RegistrySettings>(*record, "registry settings");
    if (!decoded) {
      return std::unexpected(decoded.error());
    }
    settings = std::move(*decoded);
  }
  return runtime::podman::registriesConf(settings);
}

RegistrySettingsApplier::RegistrySettingsApplier(runtime::podman::PodmanService& podman)
    : podman_(podman), thread_([this] { run(); }) {}

RegistrySettingsApplier::~RegistrySettingsApplier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void RegistrySettingsApplier::update(const std::optional<std::string>& record) {
  {
    std::lock_guard lock(mutex_);
    if (seen_ && record_ == record) {
      return;
    }
    seen_ = true;
    record_ = record;
  }
  auto text = registriesConfOfRecord(record);
  if (!text) {
    spdlog::error("registry settings: {}; keeping the node's last ones", text.error().message);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (hasWanted_ && wanted_ == *text) {
      return;
    }
    wanted_ = std::move(*text);
    hasWanted_ = true;
  }
  changed_.notify_all();
}

// Thread: "registries".
void RegistrySettingsApplier::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || (hasWanted_ && wanted_ != applied_); });
    if (stopping_) {
      return;
    }
    std::string text = wanted_;
    lock.unlock();
    auto configured = podman_.configure(text);
    lock.lock();
    if (configured) {
      applied_ = text;
      continue;
    }
    spdlog::warn("registry settings: {}; retrying in {}s", configured.error().message,
                 kRetryAfter.count());
    changed_.wait_for(lock, kRetryAfter, [this] { return stopping_; });
  }
}

}  // namespace overmesh::daemon
