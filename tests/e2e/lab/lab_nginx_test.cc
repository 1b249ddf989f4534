// scripts/lab-nginx.sh as the routing mesh's demo and benchmark use it: an nginx in a lab
// client in front of several hosts' address:port. The hosts run plain socat responders
// here (no overmesh service), so this tests the script and nginx's settings alone: requests
// spread over every upstream, a dead upstream costs no failed request, the backend sees
// where the request came from, every file stays in the lab's run directory, and `stop`
// ends exactly that nginx.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

namespace fs = std::filesystem;

class LabNginxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    if (runCommand({"/bin/sh", "-c", "command -v nginx && command -v socat && command -v curl"})
            .exitCode != 0) {
      GTEST_SKIP() << "nginx, socat or curl is not installed (scripts/setup.sh installs them)";
    }
  }

  // scripts/lab-nginx.sh ARGS… for `session`'s lab.
  CommandResult script(const LabSession& session, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env", "OVERMESH_LAB_DIR=" + session.runDir(),
                                     "OVERMESH=" + binaryPath("overmesh"),
                                     std::string(OVERMESH_SOURCE_DIR) + "/scripts/lab-nginx.sh"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }

  // Starts on host `host` an HTTP responder on :8080 answering "h<host> <peer address>";
  // returns its pid (it lives in the host's namespace until killed or `lab down`).
  int startResponder(const LabSession& session, int host) {
    std::string responder = fmt::format("{}/responder.sh", session.runDir());
    if (!fs::exists(responder)) {
      std::ofstream(responder)
          << "#!/bin/sh\n"
             "while read -r line && [ ${#line} -gt 1 ]; do :; done\n"
             "printf 'HTTP/1.0 200 OK\\r\\n\\r\\n%s %s\\n' \"$1\" \"$SOCAT_PEERADDR\"\n";
      fs::permissions(responder, fs::perms::owner_all);
    }
    auto started =
        session.exec(host, {"/bin/sh", "-c",
                            fmt::format("socat TCP-LISTEN:8080,fork,reuseaddr EXEC:'{} h{}' "
                                        ">/dev/null 2>&1 & echo $!",
                                        responder, host)});
    EXPECT_EQ(started.exitCode, 0) << started.err;
    return std::atoi(started.out.c_str());
  }

  // N requests from client 1 to `url`; answers counted by their text ("FAILED" for errors).
  std::map<std::string, int> requests(const LabSession& session, const std::string& url, int n) {
    auto result = session.execClient(
        1, {"/bin/sh", "-c",
            fmt::format("for i in $(seq {}); do curl -sf -m 3 {} || echo FAILED; done", n, url)});
    std::map<std::string, int> counts;
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
      ++counts[line];
    }
    return counts;
  }
};

TEST_F(LabNginxTest, SpreadsOverEveryUpstreamAndSkipsADeadOneWithoutAFailure) {
  LabSession session("ngx");
  ASSERT_TRUE(session.up(2, "info", 1)) << session.error();
  int first = startResponder(session, 1);
  int second = startResponder(session, 2);
  ASSERT_GT(first, 1);
  ASSERT_GT(second, 1);
  ASSERT_TRUE(eventually(
      [&] {
        return session.execClient(1, {"curl", "-sf", "-m", "1", "http://198.18.0.2:8080/"})
                   .exitCode == 0;
      },
      std::chrono::seconds(10)));

  auto started = script(
      session, {"start", session.name(), "c1", "8000", "198.18.0.1:8080", "198.18.0.2:8080"});
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
  auto spread = requests(session, "http://127.0.0.1:8000/", 20);
  // nginx in c1 connects from c1's own address; round robin reaches both upstreams.
  EXPECT_GE(spread["h1 198.18.0.101"], 5) << ::testing::PrintToString(spread);
  EXPECT_GE(spread["h2 198.18.0.101"], 5) << ::testing::PrintToString(spread);
  EXPECT_EQ(spread["h1 198.18.0.101"] + spread["h2 198.18.0.101"], 20)
      << ::testing::PrintToString(spread);

  ASSERT_EQ(::kill(second, SIGKILL), 0);
  auto afterKill = requests(session, "http://127.0.0.1:8000/", 10);
  EXPECT_EQ(afterKill["h1 198.18.0.101"], 10) << ::testing::PrintToString(afterKill);
  EXPECT_EQ(afterKill.count("FAILED"), 0u) << ::testing::PrintToString(afterKill);

  // Every file of this nginx is in the lab's run directory.
  std::string dir = fmt::format("{}/{}/c1/nginx-8000", session.runDir(), session.name());
  std::string conf = readFile(dir + "/nginx.conf");
  EXPECT_NE(conf.find("proxy_next_upstream error timeout http_502 http_503 non_idempotent"),
            std::string::npos)
      << conf;
  EXPECT_NE(conf.find("X-Forwarded-For"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("/var/"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("/run/nginx"), std::string::npos) << conf;
  int pid = std::atoi(readFile(dir + "/nginx.pid").c_str());
  ASSERT_GT(pid, 1);
  EXPECT_TRUE(processRuns(pid));

  auto again = script(session, {"start", session.name(), "c1", "8000", "198.18.0.1:8080"});
  EXPECT_EQ(again.exitCode, 2);
  EXPECT_NE(again.err.find("already runs"), std::string::npos) << again.err;

  auto stopped = script(session, {"stop", session.name(), "c1", "8000"});
  EXPECT_EQ(stopped.exitCode, 0) << stopped.err;
  EXPECT_TRUE(eventually([&] { return !processRuns(pid); }, std::chrono::seconds(5)));
  EXPECT_NE(session.execClient(1, {"curl", "-sf", "-m", "1", "http://127.0.0.1:8000/"}).exitCode,
            0);
}

TEST_F(LabNginxTest, RefusesBadArgumentsNamingThemAndWritesNothing) {
  LabSession session("ngb");
  ASSERT_TRUE(session.up(1, "info", 1)) << session.error();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"start", session.name(), "c1", "8000", "198.18.0.1:99999"},
       "invalid UPSTREAM \"198.18.0.1:99999\""},
      {{"start", session.name(), "c1", "8000", "web:80"}, "invalid UPSTREAM \"web:80\""},
      {{"start", session.name(), "c1", "0", "198.18.0.1:80"}, "invalid PORT \"0\""},
      {{"start", session.name(), "x1", "8000", "198.18.0.1:80"}, "invalid WHERE \"x1\""},
      {{"start", session.name(), "c2", "8000", "198.18.0.1:80"}, "has no c2"},
      {{"start", session.name(), "c1", "8000"}, "no UPSTREAM given"},
      {{"restart", session.name(), "c1", "8000", "198.18.0.1:80"}, "unknown action"},
  };
  for (const auto& c : cases) {
    auto result = script(session, c.args);
    EXPECT_EQ(result.exitCode, 2) << c.message;
    EXPECT_NE(result.err.find(c.message), std::string::npos) << result.err;
  }
  EXPECT_FALSE(fs::exists(fmt::format("{}/{}/c1/nginx-8000", session.runDir(), session.name())));
  EXPECT_FALSE(fs::exists(fmt::format("{}/{}/c2", session.runDir(), session.name())));
}

}  // namespace
}  // namespace overmesh::testing
