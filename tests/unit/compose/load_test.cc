// The loading pipeline (loadMerged / loadCompose) with an in-memory FileReader, and
// localFileReader on a scratch directory.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>

#include "compose/compose.h"
#include "support/compose_fixtures.h"
#include "support/scratch.h"

namespace overmesh::compose {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Reads from a map of path → text; a missing path is NotFound naming it. Records what was
// asked for.
struct MemoryFiles {
  std::map<std::string, std::string> files;
  std::vector<std::string> asked;

  FileReader reader() {
    return [this](const std::string& path) -> Result<std::string> {
      asked.push_back(path);
      auto found = files.find(path);
      if (found == files.end()) {
        return errorf(ErrorKind::NotFound, "cannot open {}: No such file or directory", path);
      }
      return found->second;
    };
  }
};

// The schema (buildProject) is lane st-schema's; until it is merged, this branch's
// project_builder.cc stops with this message and the tests that need a Project skip.
bool schemaMissing(const Error& error) {
  return error.kind == ErrorKind::Internal &&
         error.message.find("the compose schema is not in this build yet") != std::string::npos;
}

TEST(LoadMergedTest, ReadsInterpolatesAndMergesInOrder) {
  MemoryFiles files;
  auto dir = overmesh::testing::composeFixtureDir("core");
  files.files["base.yml"] = overmesh::testing::readComposeFixture(dir / "base.yml");
  files.files["override.yml"] = overmesh::testing::readComposeFixture(dir / "override.yml");
  auto loaded = loadMerged({{"base.yml", std::nullopt}, {"override.yml", std::nullopt}},
                           Environment{{"TAG", "1.27"}}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_THAT(files.asked, ElementsAre("base.yml", "override.yml"));
  const Value& web = *loaded->merged.find("services")->find("web");
  EXPECT_EQ(web.find("image")->text, "nginx:1.27");
  EXPECT_EQ(web.find("deploy")->find("replicas")->text, "3");
  EXPECT_EQ(web.find("deploy")->find("replicas")->mark.file, "override.yml");
  EXPECT_EQ(loaded->merged.find("services")->find("api")->find("image")->text,
            "example/api:latest");
  EXPECT_TRUE(loaded->warnings.empty());
}

TEST(LoadMergedTest, GivenTextIsNotReadAgain) {
  MemoryFiles files;
  auto loaded =
      loadMerged({{"-", std::string("services:\n  web:\n    image: x\n")}}, {}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_TRUE(files.asked.empty());
  EXPECT_EQ(loaded->merged.find("services")->find("web")->find("image")->mark.file, "-");
}

TEST(LoadMergedTest, WarningsAreDeduplicatedAcrossFilesInOrder) {
  MemoryFiles files;
  files.files["a.yml"] = "services:\n  web:\n    image: \"x:$TAG\"\n    user: $U\n";
  files.files["b.yml"] = "services:\n  web:\n    hostname: \"$U-$TAG-$V\"\n";
  auto loaded = loadMerged({{"a.yml", std::nullopt}, {"b.yml", std::nullopt}}, {}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_THAT(loaded->warnings,
              ElementsAre("The \"TAG\" variable is not set. Defaulting to a blank string.",
                          "The \"U\" variable is not set. Defaulting to a blank string.",
                          "The \"V\" variable is not set. Defaulting to a blank string."));
}

TEST(LoadMergedTest, WarningsAreCappedAtFiftyLines) {
  MemoryFiles files;
  std::string text = "services:\n  web:\n    environment:\n";
  for (int i = 0; i < 60; ++i) {
    text += fmt::format("      V{0}: $UNSET{0}\n", i);
  }
  files.files["a.yml"] = text;
  auto loaded = loadMerged({{"a.yml", std::nullopt}}, {}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  ASSERT_EQ(loaded->warnings.size(), kMaxWarningLines + 1);
  EXPECT_EQ(loaded->warnings[49],
            "The \"UNSET49\" variable is not set. Defaulting to a blank "
            "string.");
  EXPECT_EQ(loaded->warnings.back(), "… and 10 more warnings");
}

// docker/cli: relative env_file and bind paths start from the first -c file's directory,
// even when a later file names them; "-" (stdin) is the current directory.
TEST(LoadComposeTest, RelativePathsResolveAgainstTheFirstFilesDirectory) {
  MemoryFiles files;
  files.files["stacks/base.yml"] = "services:\n  web:\n    image: web:1\n";
  files.files["overrides/env.yml"] = "services:\n  web:\n    env_file: web.env\n";
  files.files["stacks/web.env"] = "A=1\n";
  auto loaded = loadCompose(
      {{"stacks/base.yml", std::nullopt}, {"overrides/env.yml", std::nullopt}}, {}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->project.services[0].directory, "stacks");
  EXPECT_EQ(loaded->project.services[0].environment, (StringMap{{"A", "1"}}));

  files.files["web.env"] = "A=2\n";
  loaded = loadCompose({{"-", std::string("services:\n  web:\n    image: web:1\n")},
                        {"overrides/env.yml", std::nullopt}},
                       {}, files.reader());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->project.services[0].directory, ".");
  EXPECT_EQ(loaded->project.services[0].environment, (StringMap{{"A", "2"}}));
  EXPECT_EQ(workingDirectory("/abs/stack.yml"), "/abs");
  EXPECT_EQ(workingDirectory("/stack.yml"), "/");
}

struct ErrorCase {
  std::string name;
  std::map<std::string, std::string> files;
  ErrorKind kind;
  std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class LoadErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(LoadErrorTest, StopsWithTheEarliestStepsError) {
  MemoryFiles files;
  files.files = GetParam().files;
  std::vector<ComposeSource> sources{{"a.yml", std::nullopt}, {"b.yml", std::nullopt}};
  auto merged = loadMerged(sources, {}, files.reader());
  ASSERT_FALSE(merged.has_value());
  EXPECT_EQ(merged.error().kind, GetParam().kind);
  EXPECT_THAT(merged.error().message, HasSubstr(GetParam().message));
  auto loaded = loadCompose(sources, {}, files.reader());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().message, merged.error().message);
}

const std::string kValid = "services:\n  web:\n    image: nginx\n";

INSTANTIATE_TEST_SUITE_P(
    Steps, LoadErrorTest,
    ::testing::Values(
        ErrorCase{"Unreadable", {{"a.yml", kValid}}, ErrorKind::NotFound, "cannot open b.yml"},
        ErrorCase{"BadYaml",
                  {{"a.yml", kValid}, {"b.yml", "services: [\n"}},
                  ErrorKind::InvalidArgument,
                  "b.yml:"},
        ErrorCase{"RequiredVariable",
                  {{"a.yml", "services:\n  web:\n    image: ${IMAGE:?give an image}\n"},
                   {"b.yml", kValid}},
                  ErrorKind::InvalidArgument,
                  "a.yml:3: services.web.image: required variable IMAGE is missing a value"},
        ErrorCase{"MergeForms",
                  {{"a.yml", "services:\n  web:\n    command: [a]\n"},
                   {"b.yml", "services:\n  web:\n    command: {a: 1}\n"}},
                  ErrorKind::InvalidArgument,
                  "b.yml:3: services.web.command: a mapping cannot be merged"}),
    [](const auto& param) { return param.param.name; });

TEST(LoadComposeTest, RefusesAnEmptyFileList) {
  MemoryFiles files;
  auto loaded = loadCompose({}, {}, files.reader());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(loaded.error().message, "at least one compose file (-c FILE) is needed");
}

TEST(LoadComposeTest, BuildsTheProjectOfValidFixtures) {
  auto dir = overmesh::testing::composeFixtureDir("core");
  MemoryFiles files;
  for (const char* name : {"base.yml", "override.yml", "anchors.yml", "quoting.yml"}) {
    files.files[name] = overmesh::testing::readComposeFixture(dir / name);
  }
  auto loaded = loadCompose({{"base.yml", std::nullopt}, {"override.yml", std::nullopt}},
                            Environment{{"TAG", "1.27"}}, files.reader());
  if (!loaded && schemaMissing(loaded.error())) {
    GTEST_SKIP() << "buildProject (lane st-schema) is not merged into this branch yet";
  }
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->merged.find("services")->find("web")->find("image")->text, "nginx:1.27");
  ASSERT_EQ(loaded->project.services.size(), 2u);
  for (const char* name : {"anchors.yml", "quoting.yml"}) {
    auto one = loadCompose({{name, std::nullopt}}, {}, files.reader());
    ASSERT_TRUE(one.has_value()) << name << ": " << one.error().message;
  }
}

TEST(LocalFileReaderTest, ReadsARegularFile) {
  overmesh::testing::ScratchDir scratch;
  auto path = scratch.path() / "stack.yml";
  std::ofstream(path) << kValid;
  auto read = localFileReader()(path.string());
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(*read, kValid);
}

TEST(LocalFileReaderTest, RefusesAFileLargerThanTheBound) {
  overmesh::testing::ScratchDir scratch;
  auto path = scratch.path() / "big.yml";
  std::ofstream(path) << std::string(100, 'x');
  auto read = localFileReader(99)(path.string());
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(read.error().message, HasSubstr("big.yml is 100 bytes: at most 99 are read"));
  EXPECT_TRUE(localFileReader(100)(path.string()).has_value());
}

TEST(LocalFileReaderTest, MissingFileIsNotFoundWithPathAndErrno) {
  overmesh::testing::ScratchDir scratch;
  auto path = (scratch.path() / "none.yml").string();
  auto read = localFileReader()(path);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(read.error().message, "cannot open " + path + ": No such file or directory");
}

TEST(LocalFileReaderTest, RefusesDirectoriesFifosAndDevicesWithoutBlocking) {
  overmesh::testing::ScratchDir scratch;
  auto fifo = scratch.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  struct Case {
    std::string path;
    std::string what;
  };
  for (const Case& c : {Case{scratch.path().string(), "is a directory"},
                        Case{fifo.string(), "is a FIFO"}, Case{"/dev/null", "is a device"}}) {
    auto read = localFileReader()(c.path);
    ASSERT_FALSE(read.has_value()) << c.path;
    EXPECT_EQ(read.error().kind, ErrorKind::InvalidArgument);
    EXPECT_EQ(read.error().message, c.path + " " + c.what + ": a compose file is a regular file");
  }
}

TEST(LocalFileReaderTest, UnreadableFileNamesTheErrno) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root reads a mode-000 file";
  }
  overmesh::testing::ScratchDir scratch;
  auto path = scratch.path() / "secret.yml";
  std::ofstream(path) << kValid;
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  auto read = localFileReader()(path.string());
  ASSERT_FALSE(read.has_value());
  EXPECT_THAT(read.error().message, HasSubstr("Permission denied"));
}

}  // namespace
}  // namespace overmesh::compose
