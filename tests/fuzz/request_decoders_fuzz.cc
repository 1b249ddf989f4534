// libFuzzer target for every decoder of what users and peers send: the local API's
// request bodies, the cluster protocol (join, task status, watch), the node API's exec
// and logs answers, error bodies, base64 and the router's path handling.
//
// Input: the first byte picks the decoder, the rest is its input. Each decoder must
// return (a value or a typed error) without throwing or crashing, and an error must
// serialise as a valid API error body.
//
// Built two ways (tests/fuzz/CMakeLists.txt): with clang as a real -fsanitize=fuzzer
// binary; with GCC (the normal build) linked to fuzz_driver.cc, which runs it over the
// seed corpus and a bounded number of random mutations as a unit test.

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_error.h"
#include "api/http_server.h"
#include "api/network_detail.h"
#include "api/service_types.h"
#include "api/task_io.h"
#include "api/types.h"
#include "common/base64.h"
#include "common/json.h"
#include "daemon/local_api.h"
#include "manager/cluster_api.h"
#include "store/wire.h"

namespace {

using overmesh::Error;
using overmesh::Result;

// An error must make a valid error body (the daemon sends it back).
void checkError(const Error& error) {
  auto response = overmesh::api::errorResponse(error);
  if (nlohmann::json::parse(response.body, nullptr, false).is_discarded()) {
    std::abort();
  }
}

template <typename T>
void check(const Result<T>& result) {
  if (!result) {
    checkError(result.error());
  }
}

// A router with the shapes of the real routes, whose handlers decode like the real ones.
const overmesh::api::HttpServer& router() {
  static overmesh::api::HttpServer* server = [] {
    spdlog::set_level(spdlog::level::off);  // the barrier logs every "boom"
    auto* made = new overmesh::api::HttpServer();
    auto decodeBody = [](const overmesh::api::HttpRequest& request) {
      check(overmesh::api::decodeExecRequest(request.body));
      return overmesh::api::HttpResponse{200, "{}"};
    };
    made->route("POST", "/v1/tasks/{ref}/exec", decodeBody);
    made->route("GET", "/v1/tasks/{ref}/logs", decodeBody);
    made->route("POST", "/cluster/v1/tasks/{id}/status", decodeBody);
    made->route("POST", "/v1/stacks/deploy", [](const overmesh::api::HttpRequest& request) {
      check(overmesh::daemon::decodeStackDeployRequest(request.body));
      return overmesh::api::HttpResponse{200, "{}"};
    });
    made->route("POST", "/v1/stacks/{name}/remove", decodeBody);
    made->route("GET", "/v1/boom",
                [](const overmesh::api::HttpRequest&) -> overmesh::api::HttpResponse {
                  throw std::runtime_error("boom");
                });
    return made;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace overmesh;
  switch (data[0] % 17) {
    case 0:
      check(decodeJson<api::NetworkCreateRequest>(input, "network create"));
      break;
    case 1:
      check(decodeJson<api::SwarmInitRequest>(input, "swarm init"));
      break;
    case 2:
      // Records agents and clients read: tasks, services, network details.
      check(decodeJson<api::Task>(input, "task record"));
      check(decodeJson<api::Service>(input, "service record"));
      check(decodeJson<api::NetworkDetail>(input, "network detail"));
      break;
    case 3:
      check(decodeJson<std::vector<api::Network>>(input, "networks"));
      break;
    case 4:
      check(decodeJson<api::Node>(input, "node record"));
      break;
    case 5:
      check(api::decodeExecRequest(input));
      break;
    case 6:
      check(api::decodeExecOutput(input, "exec answer"));
      break;
    case 7:
      check(api::decodeLogs(input, "logs answer"));
      break;
    case 8:
      check(manager::decodeJoinRequest(input));
      break;
    case 9:
      check(manager::decodeStatusReport(input));
      break;
    case 10:
      // The local API's object bodies: run, service create/update, node update.
      check(daemon::decodeRunRequest(input));
      check(decodeJson<api::ServiceSpec>(input, "service create"));
      check(decodeJson<api::ServiceUpdateRequest>(input, "service update"));
      check(daemon::decodeNodeUpdateRequest(input));
      break;
    case 11:
      check(daemon::decodeSwarmJoinRequest(input));
      break;
    case 12: {
      // The store wire format throws by contract; its callers catch std::exception.
      auto json = nlohmann::json::parse(input, nullptr, false);
      try {
        (void)store::watchResultFromJson(json);
      } catch (const std::exception& error) {
        checkError(Error{ErrorKind::Internal, printable(error.what())});
      }
      break;
    }
    case 13:
      checkError(api::errorFromResponse(api::HttpResponse{500, std::string(input)}));
      break;
    case 14:
      check(base64Decode(input, "base64"));
      break;
    case 16:
      check(daemon::decodeStackDeployRequest(input));
      break;
    default: {
      // METHOD PATH\nBODY through the router and its barrier.
      std::size_t space = input.find(' ');
      std::size_t newline = input.find('\n');
      api::HttpRequest request;
      request.method = std::string(input.substr(0, space == std::string_view::npos ? 0 : space));
      std::size_t pathStart = space == std::string_view::npos ? 0 : space + 1;
      request.path = std::string(input.substr(pathStart, newline == std::string_view::npos
                                                             ? std::string_view::npos
                                                             : newline - pathStart));
      if (newline != std::string_view::npos && newline >= pathStart) {
        request.body = std::string(input.substr(newline + 1));
      }
      auto response = router().dispatch(request);
      if (nlohmann::json::parse(response.body, nullptr, false).is_discarded()) {
        std::abort();
      }
      break;
    }
  }
  return 0;
}
