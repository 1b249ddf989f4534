// The etcd members of `lab up --store etcd`: where they are, how they are run, which
// namespaces `lab down` claims for them, and the flags that ask for them.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lab/lab_internal.h"

namespace overmesh::lab::internal {
namespace {

std::vector<LabEtcdMember> threeMembers() {
  std::vector<LabEtcdMember> members;
  for (int i = 1; i <= kEtcdMembers; ++i) {
    members.push_back(describeEtcdMember("/run/x", "om", i));
  }
  return members;
}

// The value after `flag` in `args`, or "" when absent.
std::string valueOf(const std::vector<std::string>& args, const std::string& flag) {
  auto at = std::find(args.begin(), args.end(), flag);
  return at == args.end() || at + 1 == args.end() ? "" : *(at + 1);
}

TEST(LabEtcdTest, MembersGetAFixedBlockAboveTheClients) {
  auto members = threeMembers();
  EXPECT_EQ(members[0].address, "198.18.0.201");
  EXPECT_EQ(members[2].address, "198.18.0.203");
  EXPECT_GT(kEtcdAddressOffset, kClientAddressOffset + kMaxClients);
  EXPECT_EQ(members[1].name, "etcd2");
  EXPECT_EQ(members[1].namespaceName, "om-etcd2");
  EXPECT_EQ(members[1].dir, "/run/x/om/etcd2");
  EXPECT_EQ(members[1].clientEndpoint(), "198.18.0.202:2379");
}

TEST(LabEtcdTest, EachMemberListensOnItsUnderlayAddressAndKnowsThePeers) {
  auto members = threeMembers();
  auto args = etcdArguments("/usr/bin/etcd", members[1], members);
  EXPECT_EQ(args.front(), "/usr/bin/etcd");
  EXPECT_EQ(valueOf(args, "--name"), "etcd2");
  EXPECT_EQ(valueOf(args, "--data-dir"), "/run/x/om/etcd2/data");
  EXPECT_EQ(valueOf(args, "--listen-client-urls"), "http://198.18.0.202:2379");
  EXPECT_EQ(valueOf(args, "--advertise-client-urls"), "http://198.18.0.202:2379");
  EXPECT_EQ(valueOf(args, "--listen-peer-urls"), "http://198.18.0.202:2380");
  EXPECT_EQ(valueOf(args, "--initial-advertise-peer-urls"), "http://198.18.0.202:2380");
  EXPECT_EQ(valueOf(args, "--initial-cluster"),
            "etcd1=http://198.18.0.201:2380,etcd2=http://198.18.0.202:2380,"
            "etcd3=http://198.18.0.203:2380");
  EXPECT_EQ(valueOf(args, "--initial-cluster-token"), "overmesh-lab-om");
}

TEST(LabEtcdTest, TheStoreUrlNamesEveryClientEndpoint) {
  EXPECT_EQ(etcdStoreUrl(threeMembers()),
            "etcd://198.18.0.201:2379,198.18.0.202:2379,198.18.0.203:2379");
}

TEST(LabEtcdTest, DownClaimsTheMembersButNotLookalikes) {
  EXPECT_TRUE(isLabNamespace("om", "om-etcd1"));
  EXPECT_TRUE(isLabNamespace("om", "om-etcd3"));
  EXPECT_FALSE(isLabNamespace("om", "om-etcd4"));
  EXPECT_FALSE(isLabNamespace("om", "om-etcd"));
  EXPECT_FALSE(isLabNamespace("om", "omx-etcd1"));
  EXPECT_FALSE(isLabNamespace("om", "om-etcd1x"));
}

TEST(LabEtcdTest, AMemberIsNamedByNumberNameOrNamespace) {
  EXPECT_EQ(resolveEtcdMember("om", "2").value_or(0), 2);
  EXPECT_EQ(resolveEtcdMember("om", "etcd2").value_or(0), 2);
  EXPECT_EQ(resolveEtcdMember("om", "om-etcd3").value_or(0), 3);
  auto bad = resolveEtcdMember("om", "etcd4");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("etcd1 to etcd3"), std::string::npos);
  EXPECT_TRUE(namesEtcdMember("om", "etcd2"));
  EXPECT_TRUE(namesEtcdMember("om", "om-etcd2"));
  EXPECT_FALSE(namesEtcdMember("om", "h2"));
  EXPECT_FALSE(namesEtcdMember("etcdx", "etcdx-h2"));
}

LabOptions optionsFor(int hosts, int managers, std::string store) {
  LabOptions options;
  options.hosts = hosts;
  options.managers = managers;
  options.store = std::move(store);
  options.etcdPath = "/bin/sh";  // any executable: the check is only that it runs
  return options;
}

TEST(LabEtcdTest, SeveralManagersNeedTheEtcdStore) {
  EXPECT_TRUE(checkStoreOptions(optionsFor(5, 3, "etcd")));
  EXPECT_TRUE(checkStoreOptions(optionsFor(3, 1, "sqlite")));
  auto sqlite = checkStoreOptions(optionsFor(5, 3, "sqlite"));
  ASSERT_FALSE(sqlite);
  EXPECT_EQ(sqlite.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(sqlite.error().message.find("--store etcd"), std::string::npos);
}

TEST(LabEtcdTest, ManagersAreBetweenOneAndTheHostCount) {
  EXPECT_FALSE(checkStoreOptions(optionsFor(2, 3, "etcd")));
  EXPECT_FALSE(checkStoreOptions(optionsFor(2, 0, "etcd")));
  EXPECT_TRUE(checkStoreOptions(optionsFor(2, 2, "etcd")));
}

TEST(LabEtcdTest, AnUnknownStoreOrAMissingEtcdIsRefused) {
  auto unknown = checkStoreOptions(optionsFor(3, 1, "consul"));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("\"consul\""), std::string::npos);
  auto options = optionsFor(3, 1, "etcd");
  options.etcdPath = "/nonexistent/etcd";
  auto missing = checkStoreOptions(options);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/etcd"), std::string::npos);
}

}  // namespace
}  // namespace overmesh::lab::internal
