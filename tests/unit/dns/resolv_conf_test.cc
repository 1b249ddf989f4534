// The node's resolvers as the embedded resolver reads them from resolv.conf.

#include "dns/resolv_conf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace overmesh::dns {
namespace {

std::vector<std::string> upstreamTexts(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& address : parseResolvConf(text)) {
    out.push_back(address.toString());
  }
  return out;
}

TEST(ResolvConfTest, ReadsNameserversInOrder) {
  EXPECT_EQ(upstreamTexts("nameserver 198.18.0.1\nnameserver\t198.18.0.2\n"),
            (std::vector<std::string>{"198.18.0.1", "198.18.0.2"}));
}

TEST(ResolvConfTest, KeepsAtMostThree) {
  EXPECT_EQ(upstreamTexts("nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"
                          "nameserver 4.4.4.4\n"),
            (std::vector<std::string>{"1.1.1.1", "2.2.2.2", "3.3.3.3"}));
}

TEST(ResolvConfTest, IgnoresOurselvesCommentsIpv6AndGarbage) {
  EXPECT_EQ(upstreamTexts("# overmesh lab host\n; old\nsearch lab\noptions ndots:0\n"
                          "nameserver 127.0.0.11\nnameserver ::1\nnameserver 300.1.1.1\n"
                          "nameserver\n  nameserver 198.18.0.9 # trailing words\r\n"
                          "#nameserver 198.18.0.8\n"),
            (std::vector<std::string>{"198.18.0.9"}));
}

TEST(ResolvConfTest, EmptyOrCommentOnlyMeansNoUpstream) {
  EXPECT_TRUE(parseResolvConf("").empty());
  EXPECT_TRUE(parseResolvConf("# no resolvers in the lab\n").empty());
}

}  // namespace
}  // namespace overmesh::dns
