#pragma once

// Images for the lab tests: the test web image built offline (scripts/test-image.sh) and
// a registry in the lab's client c1 (scripts/lab-registry.sh), driven from C++ so that the
// e2e tests, the demo and the benchmark share one way of making and serving them.

#include <string>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {

// The tools the image tests need that this machine lacks ("podman, skopeo"), or "" when
// all are there: podman, runc, skopeo, docker-registry, catatonit, /bin/busybox.
std::string missingImageTools();

// The docker-archives of the test image overmesh.test/web:1 and :2 (each serves
// "web v<N> <hostname>" on port 80), built once per test binary in a temporary directory.
class TestImages {
 public:
  // Builds them on first use; later calls return the same.
  static const TestImages& get();
  // Path of web-<version>.tar (version 1 or 2); "" when the build failed.
  std::string archive(int version) const;
  // The script's output when the build failed, else "".
  const std::string& error() const { return error_; }

 private:
  TestImages();
  TempDir dir_;
  std::string error_;
};

// The registry of one lab, on 198.18.0.101:5000 (its client c1), plain HTTP.
class LabRegistry {
 public:
  static constexpr const char* kAddress = "198.18.0.101:5000";

  explicit LabRegistry(const LabSession& lab) : lab_(lab) {}
  // scripts/lab-registry.sh start|stop; start again serves the same blobs.
  CommandResult start() const;
  CommandResult stop() const;
  // Pushes `archive` under each of `names` ("web:1", "library/web:1").
  CommandResult push(const std::string& archive, const std::vector<std::string>& names) const;
  // The digest ("sha256:…") the registry serves for `name` ("web:1"), "" when none.
  std::string digest(const std::string& name) const;

 private:
  CommandResult script(const std::vector<std::string>& args) const;
  const LabSession& lab_;
};

}  // namespace overmesh::testing
