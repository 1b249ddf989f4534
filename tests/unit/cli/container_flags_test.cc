// The container flags of run and service create/update (cli/container_flags.h): parsing,
// Docker's --mount long syntax, shell splitting of --entrypoint, and the errors.

#include "cli/container_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/scratch.h"

namespace overmesh::cli {
namespace {

using overmesh::testing::must;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string errorOf(const auto& result) {
  EXPECT_FALSE(result.has_value());
  return result.has_value() ? std::string() : result.error().message;
}

TEST(SplitShellWordsTest, SplitsOnBlanksAndKeepsQuotedTextLiterally) {
  EXPECT_THAT(must(splitShellWords("--entrypoint", "  /bin/sh   -c\t'echo $HOME; x' ")),
              ElementsAre("/bin/sh", "-c", "echo $HOME; x"));
  EXPECT_THAT(must(splitShellWords("--entrypoint", R"(a"b c"d 'e'"f" g\ h)")),
              ElementsAre("ab cd", "ef", "g h"));
  EXPECT_THAT(must(splitShellWords("--entrypoint", R"("say \"hi\" \\ \n")")),
              ElementsAre(R"(say "hi" \ \n)"));
  EXPECT_THAT(must(splitShellWords("--entrypoint", R"(x '' y)")), ElementsAre("x", "", "y"));
  EXPECT_THAT(must(splitShellWords("--entrypoint", "")), IsEmpty());
}

TEST(SplitShellWordsTest, RefusesUnclosedQuotesAndATrailingBackslash) {
  EXPECT_THAT(errorOf(splitShellWords("--entrypoint", "sh -c 'echo")),
              AllOf(HasSubstr("--entrypoint"), HasSubstr("single quote is not closed")));
  EXPECT_THAT(errorOf(splitShellWords("--entrypoint", "sh \"x")),
              HasSubstr("double quote is not closed"));
  EXPECT_THAT(errorOf(splitShellWords("--entrypoint", "sh \\")), HasSubstr("backslash"));
}

TEST(ParseMountFlagTest, ReadsDockersLongSyntaxAndItsAliases) {
  auto bind = must(parseMountFlag("--mount", "type=bind,src=/srv/data,dst=/data,ro"));
  EXPECT_EQ(bind, (api::Mount{"bind", "/srv/data", "/data", true}));
  auto volume = must(parseMountFlag("--mount", "source=cache,destination=/cache,readonly=false"));
  EXPECT_EQ(volume, (api::Mount{"volume", "cache", "/cache", false}));
  auto anonymous = must(parseMountFlag("--mount", "target=/tmp/x,readonly=true"));
  EXPECT_EQ(anonymous, (api::Mount{"volume", "", "/tmp/x", true}));
}

struct BadMountCase {
  std::string label;
  std::string value;
  std::vector<std::string> expected;
};

class BadMountTest : public ::testing::TestWithParam<BadMountCase> {};

TEST_P(BadMountTest, IsRefusedNamingTheFlagAndTheKey) {
  auto message = errorOf(parseMountFlag("--mount", GetParam().value));
  EXPECT_THAT(message, HasSubstr("--mount"));
  for (const auto& part : GetParam().expected) {
    EXPECT_THAT(message, HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadMountTest,
    ::testing::Values(
        BadMountCase{"UnknownKey", "target=/d,volume-opt=x", {"unknown key \"volume-opt\""}},
        BadMountCase{"BadType", "type=tmpfs,target=/d", {"type \"tmpfs\"", "bind or volume"}},
        BadMountCase{"NoTarget", "type=volume,source=v", {"target is missing"}},
        BadMountCase{"BindWithoutSource", "type=bind,target=/d", {"needs key source"}},
        BadMountCase{"KeyTwice", "target=/a,dst=/b", {"target is given twice"}},
        BadMountCase{"BadReadonly", "target=/a,readonly=maybe", {"readonly", "\"maybe\""}},
        BadMountCase{"EmptyEntry", "target=/a,,ro", {"empty"}},
        BadMountCase{"KeyWithoutValue", "target", {"key target needs a value"}}),
    [](const ::testing::TestParamInfo<BadMountCase>& paramInfo) { return paramInfo.param.label; });

TEST(ContainerSpecFromFlagsTest, CarriesEveryFlag) {
  ContainerFlags flags;
  flags.image = "web:1";
  flags.entrypoint = "/bin/sh -c";
  flags.workdir = "/srv";
  flags.user = "1000:1000";
  flags.mounts = {"type=volume,source=data,target=/data",
                  "type=bind,source=/etc/ssl,target=/ssl,ro"};
  flags.readOnly = true;
  flags.init = true;
  flags.stopSignal = "QUIT";

  auto spec = must(containerSpecFromFlags(flags));

  EXPECT_EQ(spec.image, "web:1");  // as typed: the manager normalises
  EXPECT_THAT(spec.entrypoint, ElementsAre("/bin/sh", "-c"));
  EXPECT_EQ(spec.workdir, "/srv");
  EXPECT_EQ(spec.user, "1000:1000");
  EXPECT_THAT(spec.mounts, ElementsAre(api::Mount{"volume", "data", "/data", false},
                                       api::Mount{"bind", "/etc/ssl", "/ssl", true}));
  EXPECT_TRUE(spec.readOnly);
  EXPECT_TRUE(spec.init);
  EXPECT_EQ(spec.stopSignal, "QUIT");
}

TEST(ContainerSpecFromFlagsTest, NoFlagsIsAProcessTask) {
  EXPECT_EQ(must(containerSpecFromFlags({})), api::ContainerSpec{});
}

TEST(ContainerSpecFromFlagsTest, RefusesABadImageReferenceNamingTheFlag) {
  ContainerFlags flags;
  flags.image = "Web:1";
  EXPECT_THAT(errorOf(containerSpecFromFlags(flags)),
              AllOf(HasSubstr("--image"), HasSubstr("Web:1")));
}

TEST(ContainerSpecFromFlagsTest, ContainerFlagsNeedAnImage) {
  ContainerFlags flags;
  flags.init = true;
  EXPECT_THAT(errorOf(containerSpecFromFlags(flags)),
              HasSubstr("--init needs --image: a process task runs on the node's own filesystem"));
}

TEST(ContainerSpecFromFlagsTest, RefusesAnEmptyEntrypointWord) {
  ContainerFlags flags;
  flags.image = "web";
  flags.entrypoint = "sh ''";
  EXPECT_THAT(errorOf(containerSpecFromFlags(flags)),
              AllOf(HasSubstr("--entrypoint"), HasSubstr("word 2 is empty")));
}

api::ContainerSpec imageSpec() {
  api::ContainerSpec spec;
  spec.image = "docker.io/library/web:1";
  spec.entrypoint = {"/entry"};
  spec.workdir = "/srv";
  spec.user = "app";
  spec.mounts = {{"volume", "data", "/data", false}, {"bind", "/etc/ssl", "/ssl", true}};
  spec.stopSignal = "SIGQUIT";
  return spec;
}

TEST(ApplyContainerUpdateFlagsTest, NoFlagsKeepTheSpec) {
  EXPECT_EQ(must(applyContainerUpdateFlags(imageSpec(), {})), imageSpec());
}

TEST(ApplyContainerUpdateFlagsTest, EmptyValuesRestoreTheImagesOwn) {
  ContainerUpdateFlags flags;
  flags.entrypoint = "";
  flags.workdir = "";
  flags.user = "";
  flags.stopSignal = "";

  auto spec = must(applyContainerUpdateFlags(imageSpec(), flags));

  EXPECT_THAT(spec.entrypoint, IsEmpty());
  EXPECT_EQ(spec.workdir, "");
  EXPECT_EQ(spec.user, "");
  EXPECT_EQ(spec.stopSignal, "");
  EXPECT_EQ(spec.image, imageSpec().image);
}

TEST(ApplyContainerUpdateFlagsTest, MountRmThenMountAddReplacingBySameTarget) {
  ContainerUpdateFlags flags;
  flags.mountRm = {"/ssl/"};
  flags.mountAdd = {"type=bind,source=/srv,target=/data", "target=/cache"};

  auto spec = must(applyContainerUpdateFlags(imageSpec(), flags));

  EXPECT_THAT(spec.mounts, ElementsAre(api::Mount{"bind", "/srv", "/data", false},
                                       api::Mount{"volume", "", "/cache", false}));
}

TEST(ApplyContainerUpdateFlagsTest, MountRmOfAnUnknownTargetNamesTheMountedOnes) {
  ContainerUpdateFlags flags;
  flags.mountRm = {"/nope"};
  EXPECT_THAT(errorOf(applyContainerUpdateFlags(imageSpec(), flags)),
              AllOf(HasSubstr("--mount-rm \"/nope\""), HasSubstr("/data, /ssl")));
}

TEST(ApplyContainerUpdateFlagsTest, BooleansTakeTrueOrFalse) {
  ContainerUpdateFlags flags;
  flags.readOnly = "true";
  flags.init = "true";
  auto on = must(applyContainerUpdateFlags(imageSpec(), flags));
  EXPECT_TRUE(on.readOnly);
  EXPECT_TRUE(on.init);

  flags.readOnly = "false";
  flags.init = "0";
  auto off = must(applyContainerUpdateFlags(on, flags));
  EXPECT_FALSE(off.readOnly);
  EXPECT_FALSE(off.init);

  flags.init = "yes";
  EXPECT_THAT(errorOf(applyContainerUpdateFlags(on, flags)),
              AllOf(HasSubstr("--init \"yes\""), HasSubstr("true or false")));
}

TEST(ApplyContainerUpdateFlagsTest, ImageChangesAndIsChecked) {
  ContainerUpdateFlags flags;
  flags.image = "web:2";
  EXPECT_EQ(must(applyContainerUpdateFlags(imageSpec(), flags)).image, "web:2");
  flags.image = "web:";
  EXPECT_THAT(errorOf(applyContainerUpdateFlags(imageSpec(), flags)), HasSubstr("--image"));
}

TEST(ApplyContainerUpdateFlagsTest, AProcessServiceGetsContainerFlagsOnlyWithAnImage) {
  ContainerUpdateFlags flags;
  flags.workdir = "/srv";
  EXPECT_THAT(errorOf(applyContainerUpdateFlags({}, flags)), HasSubstr("--workdir needs --image"));
  flags.image = "busybox";
  EXPECT_EQ(must(applyContainerUpdateFlags({}, flags)).workdir, "/srv");
}

}  // namespace
}  // namespace overmesh::cli
