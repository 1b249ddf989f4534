#include "common/atomic_file.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>

#include "support/scratch.h"

namespace overmesh {
namespace {

namespace fs = std::filesystem;
using testing::must;
using testing::ScratchDir;

std::string readAll(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

std::vector<std::string> entriesOf(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Calls writeFileAtomically as an unprivileged user: root ignores directory permissions,
// so a test that needs EACCES drops to nobody in a child process. Returns the error
// message, or "" when the write succeeded.
std::string writeAsNobody(const std::string& path, const std::string& content) {
  if (geteuid() != 0) {
    auto written = writeFileAtomically(path, content);
    return written ? "" : written.error().message;
  }
  int pipeFds[2];
  if (pipe(pipeFds) != 0) {
    return "pipe failed";
  }
  pid_t child = fork();
  if (child == 0) {
    close(pipeFds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(2);
    }
    auto written = writeFileAtomically(path, content);
    std::string message = written ? "" : written.error().message;
    ssize_t ignored = write(pipeFds[1], message.data(), message.size());
    (void)ignored;
    _exit(written ? 0 : 1);
  }
  close(pipeFds[1]);
  std::string message;
  char buffer[512];
  ssize_t n = 0;
  while ((n = read(pipeFds[0], buffer, sizeof(buffer))) > 0) {
    message.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipeFds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    return "could not drop privileges";
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : message;
}

TEST(AtomicFileTest, CreatesAFileWithTheContentAndMode) {
  ScratchDir scratch;
  auto path = scratch.path() / "node.json";
  must(writeFileAtomically(path.string(), "{\"a\":1}", 0600));
  EXPECT_EQ(readAll(path), "{\"a\":1}");
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(AtomicFileTest, ReplacesTheContentAndLeavesNoTemporaryFile) {
  ScratchDir scratch;
  auto path = scratch.path() / "lab.json";
  must(writeFileAtomically(path.string(), "old content that is longer"));
  must(writeFileAtomically(path.string(), "new"));
  EXPECT_EQ(readAll(path), "new");
  EXPECT_EQ(entriesOf(scratch.path()), std::vector<std::string>{"lab.json"});
}

TEST(AtomicFileTest, WritesAnEmptyFile) {
  ScratchDir scratch;
  auto path = scratch.path() / "empty";
  must(writeFileAtomically(path.string(), ""));
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::file_size(path), 0u);
}

TEST(AtomicFileTest, AnUnwritableDirectoryIsAnErrorNamingThePathAndKeepsTheOldFile) {
  ScratchDir scratch;
  fs::permissions(scratch.path(), fs::perms::owner_all | fs::perms::group_exec |
                                      fs::perms::others_exec);
  auto directory = scratch.path() / "readonly";
  fs::create_directory(directory);
  auto path = directory / "spec.json";
  must(writeFileAtomically(path.string(), "old"));
  fs::permissions(directory, fs::perms::owner_read | fs::perms::owner_exec |
                                 fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);

  std::string message = writeAsNobody(path.string(), "new");
  fs::permissions(directory, fs::perms::owner_all);

  ASSERT_NE(message, "") << "the write into a read-only directory succeeded";
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
  EXPECT_EQ(readAll(path), "old");
  EXPECT_EQ(entriesOf(directory), std::vector<std::string>{"spec.json"});
}

TEST(AtomicFileTest, AFailedRenameRemovesTheTemporaryFile) {
  ScratchDir scratch;
  // A non-empty directory in the way: rename() refuses to replace it.
  auto path = scratch.path() / "taken";
  fs::create_directory(path);
  std::ofstream(path / "inside") << "x";

  auto written = writeFileAtomically(path.string(), "content");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(written.error().message.find("rename"), std::string::npos) << written.error().message;
  EXPECT_NE(written.error().message.find(path.string()), std::string::npos);
  EXPECT_EQ(entriesOf(scratch.path()), std::vector<std::string>{"taken"});
}

TEST(AtomicFileTest, AMissingDirectoryIsUnavailable) {
  ScratchDir scratch;
  auto path = scratch.path() / "missing" / "file";
  auto written = writeFileAtomically(path.string(), "content");
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(written.error().message.find(path.string()), std::string::npos);
}

}  // namespace
}  // namespace overmesh
