#pragma once

// The fixture of the cluster-security tests (issue 12): a 3-host lab of its own per test
// (h1 the manager, h2 and h3 workers, c1 a namespace on the underlay that is no member),
// removed also when the test fails, and the tools an attacker would use against it, run
// inside the lab's namespaces only:
//  - `openssl s_client` for raw TLS 1.3 handshakes, with or without a certificate, and
//    with the join ALPN;
//  - `curl` with a node's own certificate files (<state-dir>/pki of a lab host), to call
//    the cluster routes as that node;
//  - `openssl req/x509` to make a CA of another cluster (in a temporary directory; no
//    network).
// Every negative check has a positive control next to it (the same call with the right
// credentials answers), so a check cannot pass because the call was broken.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {

// A node's TLS files: the cluster CA, its certificate and its key (PEM paths).
struct CertFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

// The last non-empty line of `text` ("" when there is none): OpenSSL's final reason.
inline std::string lastLine(const std::string& text) {
  auto lines = nonEmptyLines(text);
  return lines.empty() ? "" : lines.back();
}

// What an HTTPS call with curl gave: curl's exit code (0 when an HTTP answer came back),
// the HTTP status (0 when none) and the body; curl's own error text in `err`.
struct HttpsAnswer {
  int curlExit = -1;
  int status = 0;
  std::string body;
  std::string err;
};

// What `openssl s_client` saw after sending one HTTP request: `status` is the HTTP status
// of the answer (0: no answer, the handshake or the connection failed; `err` then holds
// OpenSSL's reason, e.g. "alert certificate required").
struct HandshakeProbe {
  int status = 0;
  std::string out;
  std::string err;
};

// tcpdump in a lab host, writing what it captures to a file until stop() (immediate mode:
// otherwise packets still in libpcap's ring when it stops are lost): started with
// `lab exec` in a thread (lab exec forks, so the tcpdump's own PID is read from a file
// and it alone is signalled). Runs as root (-Z root) so that it may write into the
// test's private temporary directory.
class UnderlayCapture {
 public:
  UnderlayCapture(const LabSession& lab, int host, std::string file, const std::string& filter)
      : file_(std::move(file)), pidFile_(file_ + ".pid"), errFile_(file_ + ".err") {
    std::string script =
        fmt::format("tcpdump -i eth0 -n -U --immediate-mode -Z root -w {} '{}' 2>{} & echo $! >{}; wait", file_,
                    filter, errFile_, pidFile_);
    thread_ = std::thread([&lab, host, script] { lab.exec(host, {"sh", "-c", script}); });
    listening_ =
        eventually([&] { return readFile(errFile_).find("listening on") != std::string::npos; },
                   std::chrono::seconds(10));
  }
  ~UnderlayCapture() { stop(); }
  UnderlayCapture(const UnderlayCapture&) = delete;
  UnderlayCapture& operator=(const UnderlayCapture&) = delete;

  // False when tcpdump never said it listens (its stderr is in error()).
  bool listening() const { return listening_; }
  std::string error() const { return readFile(errFile_); }

  // SIGINT to the tcpdump (it flushes and exits), then waits for it. A moment first, for
  // the last packets to be written (--immediate-mode hands them over at once).
  void stop() {
    if (!thread_.joinable()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    pid_t pid = 0;
    eventually(
        [&] {
          pid = static_cast<pid_t>(std::atoi(readFile(pidFile_).c_str()));
          return pid > 1;
        },
        std::chrono::seconds(5));
    if (pid > 1) {
      ::kill(pid, SIGINT);
    }
    thread_.join();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string pidFile_;
  std::string errFile_;
  std::thread thread_;
  bool listening_ = false;
};

class SecurityLabTest : public ::testing::Test {
 protected:
  static constexpr int kHosts = 3;
  static constexpr int kClusterPort = 2377;
  static constexpr int kNodePort = 2378;
  // Bound for state to reach every host (it normally takes milliseconds).
  static constexpr auto kConverge = std::chrono::seconds(15);

  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    for (const char* tool : {"openssl", "curl", "tcpdump"}) {
      if (!toolInstalled(tool)) {
        GTEST_SKIP() << tool << " is not installed (scripts/setup.sh installs it)";
      }
    }
    lab_ = std::make_unique<LabSession>("sec");
    ASSERT_TRUE(lab_->up(kHosts, "debug", 1)) << lab_->error();
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    lab_.reset();
  }

  std::string hostname(int host) const { return lab_->hostNamespace(host); }

  // The node ID of host `host`, from its own `info`.
  std::string nodeId(int host) const {
    auto info = lab_->json(host, {"info"});
    return info.is_object() ? info.value("nodeId", "") : "";
  }

  // The IDs of the nodes the manager lists.
  std::vector<std::string> listedNodeIds() const {
    std::vector<std::string> ids;
    auto nodes = lab_->json(1, {"node", "ls"});
    if (nodes.is_array()) {
      for (const auto& node : nodes) {
        ids.push_back(node.value("id", ""));
      }
    }
    return ids;
  }

  bool managerLists(const std::string& id) const {
    auto ids = listedNodeIds();
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }

  // Every node the manager lists is ready, and there are `count` of them.
  bool allReady(std::size_t count) const {
    auto nodes = lab_->json(1, {"node", "ls"});
    if (!nodes.is_array() || nodes.size() != count) {
      return false;
    }
    for (const auto& node : nodes) {
      if (node.value("state", "") != "ready") {
        return false;
      }
    }
    return true;
  }

  // The clear worker join token (`swarm join-token -q worker` on the manager).
  std::string workerToken() const {
    auto shown = lab_->cli(1, {"swarm", "join-token", "-q", "worker"});
    EXPECT_EQ(shown.exitCode, 0) << shown.out << shown.err;
    auto lines = nonEmptyLines(shown.out);
    return lines.empty() ? "" : lines.front();
  }

  // `swarm leave` on `host`, then waits until the manager no longer lists it.
  void leave(int host) {
    std::string id = nodeId(host);
    auto left = lab_->cli(host, {"swarm", "leave"});
    ASSERT_EQ(left.exitCode, 0) << left.out << left.err;
    ASSERT_TRUE(eventually([&] { return !managerLists(id); }, kConverge))
        << lab_->cli(1, {"node", "ls"}).out;
  }

  // `swarm join` of `host` with `token`, advertising its own underlay address.
  CommandResult join(int host, const std::string& token) const {
    return lab_->cli(
        host, {"swarm", "join", "--token", token, "--advertise-addr", LabSession::hostAddress(host),
               fmt::format("{}:{}", LabSession::hostAddress(1), kClusterPort)});
  }

  // The TLS files of host `host` where its daemon keeps them.
  CertFiles pkiOf(int host) const {
    std::string dir = lab_->stateDir(host) + "/pki";
    return CertFiles{dir + "/ca.pem", dir + "/node.pem", dir + "/node.key"};
  }

  // A copy of host `host`'s TLS files in `dir` (they outlive the node's leave).
  CertFiles copyPki(int host, const std::string& dir) const {
    namespace fs = std::filesystem;
    CertFiles from = pkiOf(host);
    CertFiles to{dir + "/ca.pem", dir + "/node.pem", dir + "/node.key"};
    for (const auto& [source, target] :
         {std::pair{from.ca, to.ca}, std::pair{from.cert, to.cert}, std::pair{from.key, to.key}}) {
      std::error_code error;
      fs::copy_file(source, target, fs::copy_options::overwrite_existing, error);
      EXPECT_FALSE(error) << "copy " << source << ": " << error.message();
    }
    return to;
  }

  // Runs `argv` in host `host` (>= 1) or, for a negative number, in client -host.
  CommandResult inNamespace(int where, const std::vector<std::string>& argv) const {
    return where > 0 ? lab_->exec(where, argv) : lab_->execClient(-where, argv);
  }

  // An HTTPS request from `where` (see inNamespace) as the owner of `files`, to
  // `serverName` (the name its certificate must carry) at address:port. curl offers no
  // ALPN (the server treats that as the cluster protocol) and only TLS 1.3.
  HttpsAnswer https(int where, const CertFiles& files, const std::string& serverName,
                    const std::string& address, int port, const std::string& method,
                    const std::string& path, const std::string& body = "",
                    int maxSeconds = 10) const {
    std::vector<std::string> argv = {"curl",
                                     "-sS",
                                     "--no-alpn",
                                     "--http1.1",
                                     "--tlsv1.3",
                                     "--max-time",
                                     std::to_string(maxSeconds),
                                     "--cacert",
                                     files.ca,
                                     "--connect-to",
                                     fmt::format("{}:{}:{}:{}", serverName, port, address, port),
                                     "-X",
                                     method,
                                     "-w",
                                     "\n%{http_code}"};
    if (!files.cert.empty()) {
      argv.insert(argv.end(), {"--cert", files.cert, "--key", files.key});
    }
    if (!body.empty()) {
      argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
    }
    argv.push_back(fmt::format("https://{}:{}{}", serverName, port, path));
    auto result = inNamespace(where, argv);
    HttpsAnswer answer;
    answer.curlExit = result.exitCode;
    answer.err = result.err;
    auto newline = result.out.rfind('\n');
    if (newline != std::string::npos) {
      answer.body = result.out.substr(0, newline);
      answer.status = std::atoi(result.out.substr(newline + 1).c_str());
    }
    return answer;
  }

  // One HTTP GET of `path` through `openssl s_client` (TLS 1.3) from `where` to
  // address:port, presenting `cert`/`key` when given and offering `alpn` when given.
  // The server's certificate is not checked: these probes test the server.
  HandshakeProbe probe(int where, const std::string& address, int port, const std::string& path,
                       const std::string& cert = "", const std::string& key = "",
                       const std::string& alpn = "") const {
    std::string options;
    if (!cert.empty()) {
      options += fmt::format(" -cert {} -key {}", cert, key);
    }
    if (!alpn.empty()) {
      options += " -alpn " + alpn;
    }
    std::string script = fmt::format(
        "printf 'GET {} HTTP/1.1\\r\\nHost: overmesh\\r\\nConnection: close\\r\\n\\r\\n' | "
        "timeout 10 openssl s_client -connect {}:{} -tls1_3 -quiet{}",
        path, address, port, options);
    auto result = inNamespace(where, {"sh", "-c", script});
    HandshakeProbe seen;
    seen.out = result.out;
    seen.err = result.err;
    auto head = result.out.find("HTTP/1.1 ");
    if (head != std::string::npos) {
      seen.status = std::atoi(result.out.substr(head + 9, 3).c_str());
    }
    return seen;
  }

  // Runs `openssl ARGS…` here (files only, no network).
  static CommandResult openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }

  // A CA of another cluster made in `dir`, and a client certificate it signed whose
  // subject copies a real node's (CN=nodeId, OU=role, O=clusterId): a forgery that is
  // right in every field but the signer.
  CertFiles foreignCertificate(const std::string& dir, const std::string& subject) const {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    CertFiles files{dir + "/foreign-ca.pem", dir + "/foreign.pem", dir + "/foreign.key"};
    std::string caKey = dir + "/foreign-ca.key";
    std::string csr = dir + "/foreign.csr";
    auto ca = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                       "-nodes", "-keyout", caKey, "-out", files.ca, "-subj",
                       "/CN=overmesh-ca-foreign/O=foreign", "-days", "2"});
    EXPECT_EQ(ca.exitCode, 0) << ca.err;
    auto request = openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", files.key, "-out", csr, "-subj", subject});
    EXPECT_EQ(request.exitCode, 0) << request.err;
    auto signedCert = openssl({"x509", "-req", "-in", csr, "-CA", files.ca, "-CAkey", caKey,
                               "-CAcreateserial", "-out", files.cert, "-days", "2"});
    EXPECT_EQ(signedCert.exitCode, 0) << signedCert.err;
    return files;
  }

  // The serial of the certificate in `pemPath` ("" when unreadable).
  static std::string serialOf(const std::string& pemPath) {
    auto shown = openssl({"x509", "-serial", "-noout", "-in", pemPath});
    if (shown.exitCode != 0) {
      return "";
    }
    auto lines = nonEmptyLines(shown.out);
    return lines.empty() ? "" : lines.front();
  }

  // The subject of host `host`'s certificate, in `openssl req -subj` form.
  std::string subjectOf(int host) const {
    auto shown =
        openssl({"x509", "-subject", "-noout", "-nameopt", "compat", "-in", pkiOf(host).cert});
    EXPECT_EQ(shown.exitCode, 0) << shown.err;
    auto lines = nonEmptyLines(shown.out);
    // "subject=/CN=…/OU=…/O=…"
    return lines.empty() ? "" : lines.front().substr(lines.front().find('=') + 1);
  }

  // The state the manager lists for task `name` ("" when it lists none).
  std::string taskState(const std::string& name) const {
    auto tasks = lab_->json(1, {"ps"});
    for (const auto& task : tasks.is_array() ? tasks : nlohmann::json::array()) {
      if (task.value("name", "") == name) {
        return task.value("state", "");
      }
    }
    return "";
  }

  // Creates an attachable overlay network once and runs a task pinned to `host` on it;
  // returns the task's ID once the manager lists it running ("" on failure).
  std::string runTask(const std::string& name, int host) {
    if (!networkMade_) {
      auto made = lab_->cli(1, {"network", "create", "-d", "overlay", "--attachable", "secnet"});
      EXPECT_EQ(made.exitCode, 0) << made.err;
      networkMade_ = true;
    }
    auto ran = lab_->cli(1, {"run", "--name", name, "--node", hostname(host), "--network", "secnet",
                             "--", "sleep", "600"});
    EXPECT_EQ(ran.exitCode, 0) << ran.err;
    std::string id;
    eventually(
        [&] {
          auto tasks = lab_->json(1, {"ps"});
          for (const auto& task : tasks.is_array() ? tasks : nlohmann::json::array()) {
            if (task.value("name", "") == name && task.value("state", "") == "running") {
              id = task.value("id", "");
              return true;
            }
          }
          return false;
        },
        kConverge);
    EXPECT_FALSE(id.empty()) << name << " never ran: " << lab_->cli(1, {"ps"}).out;
    return id;
  }

  std::unique_ptr<LabSession> lab_;
  TempDir files_;
  bool networkMade_ = false;
};

}  // namespace overmesh::testing
