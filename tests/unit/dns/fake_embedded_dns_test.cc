// The agent's fake of the embedded resolver answers like the real directory would.

#include "support/fake_embedded_dns.h"

#include <gtest/gtest.h>

namespace overmesh::testing {
namespace {

TEST(FakeEmbeddedDnsTest, RecordsCallsAndResolvesThroughTheDirectory) {
  api::Network network;
  network.id = "n1";
  network.name = "front";
  api::Service web;
  web.id = "s1";
  web.spec.name = "web";
  web.attachments.push_back({"n1", "front", {}});
  web.vips.push_back({"n1", "10.0.0.2/24"});
  FakeEmbeddedDns dns;
  dns.setDirectory(dns::DnsDirectory::build({network}, {web}, {}, {}));
  ASSERT_TRUE(dns.attachSandbox("t1", "/run/netns/x", {"n1"}));
  EXPECT_EQ(dns.resolve("t1", "web"), std::vector<std::string>{"10.0.0.2"});
  ASSERT_TRUE(dns.attachSandbox("t2", "/run/netns/y", {"n2"}));
  EXPECT_TRUE(dns.resolve("t2", "web").empty());
  dns.detachSandbox("t1");
  EXPECT_TRUE(dns.resolve("t1", "web").empty());
  EXPECT_EQ(dns.calls, (std::vector<std::string>{"directory", "attach t1 /run/netns/x n1",
                                                 "attach t2 /run/netns/y n2", "detach t1"}));
}

}  // namespace
}  // namespace overmesh::testing
