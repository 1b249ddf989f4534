// mergeFiles(): compose's override rules for several -c files, with marks kept.

#include "compose/merge.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "compose/compose.h"

namespace overmesh::compose {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Value parse(const std::string& text, const std::string& file) {
  auto parsed = parseYaml(text, file);
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  return parsed ? *parsed : Value{};
}

Value merge(const std::string& first, const std::string& second) {
  auto merged = mergeFiles({parse(first, "a.yml"), parse(second, "b.yml")});
  EXPECT_TRUE(merged.has_value()) << merged.error().message;
  return merged ? *merged : Value{};
}

const Value& service(const Value& root, const std::string& name = "web") {
  return *root.find("services")->find(name);
}

std::vector<std::string> texts(const Value& sequence) {
  std::vector<std::string> out;
  for (const Value& item : sequence.items) {
    out.push_back(item.isScalar() ? item.text : emitYaml(item));
  }
  return out;
}

std::vector<std::string> keyedTexts(const Value& mapping) {
  std::vector<std::string> out;
  for (const auto& [key, value] : mapping.entries) {
    out.push_back(key.text + "=" + (value.isNull() ? "<null>" : value.text));
  }
  return out;
}

TEST(MergeFilesTest, MappingsMergeAndScalarsReplaceKeepingTheLaterMark) {
  Value root = merge("version: \"3.8\"\nservices:\n  web:\n    image: a\n    user: u\n",
                     "version: \"3.9\"\nservices:\n  web:\n    image: b\n  api:\n    image: c\n");
  EXPECT_EQ(root.find("version")->text, "3.9");
  EXPECT_EQ(service(root).find("image")->text, "b");
  EXPECT_EQ(service(root).find("image")->mark.file, "b.yml");
  EXPECT_EQ(service(root).find("image")->mark.line, 4);
  EXPECT_EQ(service(root).find("user")->mark.file, "a.yml");
  EXPECT_EQ(service(root, "api").find("image")->text, "c");
}

TEST(MergeFilesTest, EnvironmentMergesListAndMapFormsByKey) {
  Value root = merge("services:\n  web:\n    environment:\n      - A=1\n      - B=2\n      - C\n",
                     "services:\n  web:\n    environment:\n      B: 3\n      D: 4\n");
  EXPECT_THAT(keyedTexts(*service(root).find("environment")),
              ElementsAre("A=1", "B=3", "C=<null>", "D=4"));
  root = merge("services:\n  web:\n    labels:\n      a: 1\n",
               "services:\n  web:\n    labels:\n      - a=2\n      - b=x=y\n");
  EXPECT_THAT(keyedTexts(*service(root).find("labels")), ElementsAre("a=2", "b=x=y"));
}

TEST(MergeFilesTest, DeployLabelsAndExtraHostsMergeByKey) {
  Value root = merge(
      "services:\n  web:\n    deploy:\n      replicas: 1\n      labels: [a=1]\n"
      "    extra_hosts: [\"db:10.0.0.1\"]\n",
      "services:\n  web:\n    deploy:\n      labels: {b: 2}\n"
      "    extra_hosts: [\"db:10.0.0.2\", \"v6:fe80::1\"]\n");
  const Value& deploy = *service(root).find("deploy");
  EXPECT_EQ(deploy.find("replicas")->text, "1");
  EXPECT_THAT(keyedTexts(*deploy.find("labels")), ElementsAre("a=1", "b=2"));
  EXPECT_THAT(keyedTexts(*service(root).find("extra_hosts")),
              ElementsAre("db=10.0.0.2", "v6=fe80::1"));
}

TEST(MergeFilesTest, PortsConcatenateWithoutRepeatingEqualEntries) {
  Value root = merge(
      "services:\n  web:\n    ports:\n      - \"80:80\"\n      - target: 443\n        published: "
      "8443\n",
      "services:\n  web:\n    ports:\n      - \"80:80\"\n      - \"81:81\"\n"
      "      - {target: 443, published: 8443}\n      - {target: 443, published: 9443}\n");
  const Value& ports = *service(root).find("ports");
  ASSERT_EQ(ports.items.size(), 4u);
  EXPECT_EQ(ports.items[0].text, "80:80");
  EXPECT_EQ(ports.items[1].find("published")->text, "8443");
  EXPECT_EQ(ports.items[2].text, "81:81");
  EXPECT_EQ(ports.items[3].find("published")->text, "9443");
}

TEST(MergeFilesTest, VolumesMergeByTarget) {
  Value root = merge(
      "services:\n  web:\n    volumes:\n      - data:/data\n      - /srv:/site:ro\n"
      "      - /cache\n",
      "services:\n  web:\n    volumes:\n      - other:/data:rw\n"
      "      - {type: bind, source: /x, target: /site}\n      - /cache\n      - logs:/logs\n");
  const Value& volumes = *service(root).find("volumes");
  ASSERT_EQ(volumes.items.size(), 4u);
  EXPECT_EQ(volumes.items[0].text, "other:/data:rw");
  EXPECT_EQ(volumes.items[0].mark.file, "b.yml");
  EXPECT_EQ(volumes.items[1].find("source")->text, "/x");
  EXPECT_EQ(volumes.items[2].text, "/cache");
  EXPECT_EQ(volumes.items[3].text, "logs:/logs");
}

TEST(MergeFilesTest, NetworksMergeListAndMapForms) {
  Value root = merge("services:\n  web:\n    networks: [front, back]\n",
                     "services:\n  web:\n    networks:\n      back:\n        aliases: [b]\n"
                     "      extra:\n");
  const Value& networks = *service(root).find("networks");
  ASSERT_TRUE(networks.isMapping());
  EXPECT_THAT(keyedTexts(networks), ElementsAre("front=<null>", "back=", "extra=<null>"));
  EXPECT_THAT(texts(*networks.find("back")->find("aliases")), ElementsAre("b"));
  root = merge("services:\n  web:\n    networks: [front]\n",
               "services:\n  web:\n    networks: [back, front]\n");
  EXPECT_THAT(texts(*service(root).find("networks")), ElementsAre("front", "back"));
}

TEST(MergeFilesTest, CommandAndOtherSequencesAreReplaced) {
  Value root = merge(
      "services:\n  web:\n    command: [a, b]\n    entrypoint: [e]\n    tmpfs: [/a]\n"
      "    healthcheck:\n      test: [CMD, x]\n      retries: 3\n",
      "services:\n  web:\n    command: [c]\n    entrypoint: [f]\n    tmpfs: [/b]\n"
      "    healthcheck:\n      test: [CMD, y]\n");
  EXPECT_THAT(texts(*service(root).find("command")), ElementsAre("c"));
  EXPECT_THAT(texts(*service(root).find("entrypoint")), ElementsAre("f"));
  EXPECT_THAT(texts(*service(root).find("tmpfs")), ElementsAre("/b"));
  EXPECT_THAT(texts(*service(root).find("healthcheck")->find("test")), ElementsAre("CMD", "y"));
  EXPECT_EQ(service(root).find("healthcheck")->find("retries")->text, "3");
}

TEST(MergeFilesTest, ExposeAndEnvFileConcatenateWithoutDuplicates) {
  Value root = merge("services:\n  web:\n    expose: [\"80\"]\n    env_file: a.env\n",
                     "services:\n  web:\n    expose: [\"80\", \"81\"]\n"
                     "    env_file: [a.env, b.env]\n");
  EXPECT_THAT(texts(*service(root).find("expose")), ElementsAre("80", "81"));
  EXPECT_THAT(texts(*service(root).find("env_file")), ElementsAre("a.env", "b.env"));
}

TEST(MergeFilesTest, TopLevelEntriesAreReplacedWholeAndExtensionsMergeAsMappings) {
  Value root = merge("networks:\n  front:\n    driver: overlay\nx-meta:\n  a: 1\n",
                     "networks:\n  front:\n    external: true\n  back: {}\nx-meta:\n  b: 2\n"
                     "volumes:\n  data:\n");
  EXPECT_EQ(root.find("networks")->find("front")->find("driver"), nullptr);
  EXPECT_EQ(root.find("networks")->find("front")->find("external")->text, "true");
  EXPECT_TRUE(root.find("networks")->find("back")->isMapping());
  EXPECT_THAT(keyedTexts(*root.find("x-meta")), ElementsAre("a=1", "b=2"));
  EXPECT_TRUE(root.find("volumes")->find("data")->isNull());
}

// docker/cli: a later file's network, volume, secret or config replaces the earlier one
// with the same key whole.
TEST(MergeFilesTest, AnExternalNetworkOverridesTheBaseDefinitionWhole) {
  Value root = merge(
      "networks:\n  default:\n    driver: overlay\n    attachable: true\n  keep:\n"
      "volumes:\n  data:\n    driver: local\nsecrets:\n  s:\n    file: a\n"
      "configs:\n  c:\n    file: a\n",
      "networks:\n  default:\n    external: true\n    name: chaos_net\n"
      "volumes:\n  data:\n    external: true\nsecrets:\n  s:\n    external: true\n"
      "configs:\n  c:\n    external: true\n");
  EXPECT_THAT(keyedTexts(*root.find("networks")->find("default")),
              ElementsAre("external=true", "name=chaos_net"));
  EXPECT_TRUE(root.find("networks")->find("keep")->isNull());
  for (const char* section : {"volumes", "secrets", "configs"}) {
    const Value& entry = root.find(section)->entries[0].second;
    EXPECT_THAT(keyedTexts(entry), ElementsAre("external=true")) << section;
  }
}

TEST(MergeFilesTest, PortsMergeByPublishedPortAndProtocol) {
  Value root = merge(
      "services:\n  web:\n    ports:\n      - \"8080:80\"\n      - \"53:53/udp\"\n"
      "      - \"9000\"\n      - \"127.0.0.1:7000:70\"\n",
      "services:\n  web:\n    ports:\n      - \"8080:81\"\n      - \"53:54/tcp\"\n"
      "      - \"9000\"\n      - \"9001\"\n      - {target: 71, published: 7000}\n");
  const Value& ports = *service(root).find("ports");
  ASSERT_EQ(ports.items.size(), 6u);
  EXPECT_EQ(ports.items[0].text, "8080:81");  // the later entry, in the earlier one's place
  EXPECT_EQ(ports.items[0].mark.file, "b.yml");
  EXPECT_EQ(ports.items[1].text, "53:53/udp");  // another protocol: another port
  EXPECT_EQ(ports.items[2].text, "9000");
  EXPECT_EQ(ports.items[3].find("target")->text, "71");
  EXPECT_EQ(ports.items[4].text, "53:54/tcp");
  EXPECT_EQ(ports.items[5].text, "9001");
}

TEST(MergeFilesTest, ListsSwarmAppendsAreAppendedWithoutDuplicates) {
  Value root = merge(
      "services:\n  web:\n    dns: 1.1.1.1\n    dns_search: [a.example]\n"
      "    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    external_links: [x]\n"
      "    security_opt: [a]\n    devices: [/dev/a]\n"
      "    deploy:\n      placement:\n        constraints: [node.role==manager]\n"
      "        preferences:\n          - spread: node.labels.zone\n",
      "services:\n  web:\n    dns: [1.1.1.1, 8.8.8.8]\n    dns_search: [b.example]\n"
      "    cap_add: [SYS_TIME, NET_ADMIN]\n    cap_drop: [NET_RAW]\n    external_links: [y]\n"
      "    security_opt: [b]\n    devices: [/dev/b]\n"
      "    deploy:\n      placement:\n        constraints: [node.labels.ssd==true, "
      "node.role==manager]\n        preferences:\n          - spread: node.labels.rack\n");
  const Value& web = service(root);
  EXPECT_THAT(texts(*web.find("dns")), ElementsAre("1.1.1.1", "8.8.8.8"));
  EXPECT_THAT(texts(*web.find("dns_search")), ElementsAre("a.example", "b.example"));
  EXPECT_THAT(texts(*web.find("cap_add")), ElementsAre("NET_ADMIN", "SYS_TIME"));
  EXPECT_THAT(texts(*web.find("cap_drop")), ElementsAre("ALL", "NET_RAW"));
  EXPECT_THAT(texts(*web.find("external_links")), ElementsAre("x", "y"));
  EXPECT_THAT(texts(*web.find("security_opt")), ElementsAre("a", "b"));
  EXPECT_THAT(texts(*web.find("devices")), ElementsAre("/dev/a", "/dev/b"));
  const Value& placement = *web.find("deploy")->find("placement");
  EXPECT_THAT(texts(*placement.find("constraints")),
              ElementsAre("node.role==manager", "node.labels.ssd==true"));
  const Value& preferences = *placement.find("preferences");
  ASSERT_EQ(preferences.items.size(), 2u);
  EXPECT_EQ(preferences.items[1].find("spread")->text, "node.labels.rack");
}

TEST(MergeFilesTest, FileNamesInMessagesArePrintable) {
  auto merged = mergeFiles({parse("services:\n  web:\n    command: [a]\n", "a\x1b.yml"),
                            parse("services:\n  web:\n    command:\n      x: 1\n", "b\n.yml")});
  ASSERT_FALSE(merged.has_value());
  EXPECT_THAT(merged.error().message, HasSubstr("b\\n.yml:4: services.web.command"));
  EXPECT_THAT(merged.error().message, HasSubstr("given at a\\x1b.yml:3"));
}

// 200,000 keys in one mapping, merged over another: linear work (the time is printed, not
// asserted: a loaded machine must not fail the test).
TEST(MergeFilesTest, MergesAFlatMappingOf200kKeysInLinearTime) {
  constexpr int kKeys = 200'000;
  auto build = [](int offset) {
    Value root = Value::mapping();
    Value meta = Value::mapping();
    meta.entries.reserve(kKeys);
    for (int i = 0; i < kKeys; ++i) {
      meta.entries.emplace_back(Value::scalar(fmt::format("k{}", i + offset)), Value::scalar("v"));
    }
    root.entries.emplace_back(Value::scalar("x-meta"), std::move(meta));
    return root;
  };
  std::vector<Value> files;
  files.push_back(build(0));
  files.push_back(build(kKeys / 2));
  auto start = std::chrono::steady_clock::now();
  auto merged = mergeFiles(std::move(files));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(merged.has_value()) << merged.error().message;
  EXPECT_EQ(merged->find("x-meta")->entries.size(), static_cast<std::size_t>(kKeys * 3 / 2));
  std::printf("merged 2 x %d keys in %lld ms\n", kKeys,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(MergeFilesTest, ALaterNullOrScalarReplaces) {
  Value root = merge("services:\n  web:\n    deploy:\n      replicas: 2\n",
                     "services:\n  web:\n    deploy:\n");
  EXPECT_TRUE(service(root).find("deploy")->isNull());
}

TEST(MergeFilesTest, RefusesAMappingOverAListNamingBothFiles) {
  auto merged = mergeFiles({parse("services:\n  web:\n    command: [a]\n", "a.yml"),
                            parse("services:\n  web:\n    command:\n      x: 1\n", "b.yml")});
  ASSERT_FALSE(merged.has_value());
  EXPECT_EQ(merged.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(merged.error().message,
              HasSubstr("b.yml:4: services.web.command: a mapping cannot be merged with a "
                        "list given at a.yml:3"));
}

TEST(MergeFilesTest, RefusesAListEntryThatIsNotAString) {
  auto merged = mergeFiles({parse("services:\n  web:\n    environment: [[A]]\n", "a.yml"),
                            parse("services:\n  web:\n    environment: {B: 1}\n", "b.yml")});
  ASSERT_FALSE(merged.has_value());
  EXPECT_THAT(merged.error().message, HasSubstr("a.yml:3: services.web.environment[0]"));
}

TEST(MergeFilesTest, AnEmptyFileAddsNothingAndAScalarFileIsRefused) {
  Value root = merge("services:\n  web:\n    image: a\n", "");
  EXPECT_EQ(service(root).find("image")->text, "a");
  auto merged = mergeFiles({parse("just text", "a.yml")});
  ASSERT_FALSE(merged.has_value());
  EXPECT_THAT(merged.error().message, HasSubstr("a.yml:1: the file is a single value"));
  EXPECT_FALSE(mergeFiles({}).has_value());
}

TEST(MergeFilesTest, ThreeFilesApplyInOrder) {
  auto merged = mergeFiles({parse("services:\n  web:\n    image: a\n", "a.yml"),
                            parse("services:\n  web:\n    image: b\n", "b.yml"),
                            parse("services:\n  web:\n    image: c\n", "c.yml")});
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(service(*merged).find("image")->text, "c");
  EXPECT_EQ(service(*merged).find("image")->mark.file, "c.yml");
}

}  // namespace
}  // namespace overmesh::compose
