// Cluster writes on the local API: a manager runs them; a worker answers Docker's
// "not a swarm manager" and runs nothing (writes are no longer forwarded).

#include <gtest/gtest.h>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "daemon/local_api.h"

namespace overmesh::daemon {
namespace {

TEST(ManagerOnlyWrite, WorkerAnswersNotAManagerAndRunsNothing) {
  int calls = 0;
  auto handler = managerOnlyWrite([] { return true; },
                                  [&calls](const api::HttpRequest&) {
                                    ++calls;
                                    return api::HttpResponse{201, "{}"};
                                  });
  auto response = handler(api::HttpRequest{});
  EXPECT_EQ(calls, 0);
  auto error = api::errorFromResponse(response);
  EXPECT_EQ(error.kind, ErrorKind::FailedPrecondition);
  EXPECT_EQ(error.message, api::kNotAManagerMessage);
}

TEST(ManagerOnlyWrite, ManagerRunsTheWrite) {
  int calls = 0;
  auto handler = managerOnlyWrite([] { return false; },
                                  [&calls](const api::HttpRequest&) {
                                    ++calls;
                                    return api::HttpResponse{201, "{}"};
                                  });
  EXPECT_EQ(handler(api::HttpRequest{}).status, 201);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace overmesh::daemon
