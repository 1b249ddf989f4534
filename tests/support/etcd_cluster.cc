#include "support/etcd_cluster.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace overmesh::testing {
namespace {

// Reserves `count` distinct free TCP ports on 127.0.0.1: all sockets stay bound until
// every port is known, so no two are the same.
std::vector<int> freeLoopbackPorts(std::size_t count) {
  std::vector<int> sockets;
  std::vector<int> ports;
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
    }
    sockets.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error(fmt::format("bind 127.0.0.1:0: {}", std::strerror(errno)));
    }
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : sockets) {
    ::close(fd);
  }
  return ports;
}

std::size_t keepBody(char* data, std::size_t size, std::size_t count, void* sink) {
  static_cast<std::string*>(sink)->append(data, size * count);
  return size * count;
}

void useClientTls(CURL* curl, const EtcdClusterOptions::Tls& tls) {
  if (!tls.caFile.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, tls.caFile.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.clientCert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.clientKey.c_str());
  }
}

std::string clientScheme(const EtcdClusterOptions::Tls& tls) {
  return tls.caFile.empty() ? "http://" : "https://";
}

// True when GET <endpoint>/health answers 200 ({"health":"true"}).
bool answersHealth(const std::string& endpoint, const EtcdClusterOptions::Tls& tls) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return false;
  }
  useClientTls(curl, tls);
  std::string url = clientScheme(tls) + endpoint + "/health";
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &keepBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return code == CURLE_OK && status == 200;
}

bool reaped(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

bool etcdInstalled() { return ::access(kEtcdBinary, X_OK) == 0; }

EtcdCluster::EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {
  if (!etcdInstalled()) {
    throw std::runtime_error(
        fmt::format("{} is missing: these tests run real etcd members; install etcd-server with "
                    "scripts/setup.sh (as root)",
                    kEtcdBinary));
  }
  if (options_.members == 0 ||
      (!options_.addresses.empty() && options_.addresses.size() != options_.members)) {
    throw std::runtime_error("EtcdCluster: members must be > 0 and match addresses");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (options_.dataRoot.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "om-etcd-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error(fmt::format("mkdtemp: {}", std::strerror(errno)));
    }
    root_ = pattern;
    ownRoot_ = true;
  } else {
    root_ = options_.dataRoot;
    std::filesystem::create_directories(root_);
  }
  std::vector<int> ports;
  if (options_.addresses.empty()) {
    ports = freeLoopbackPorts(2 * options_.members);
  }
  std::vector<std::string> peers;
  for (std::size_t i = 0; i < options_.members; ++i) {
    Member member;
    member.name = fmt::format("member{}", i + 1);
    member.address = options_.addresses.empty() ? "127.0.0.1" : options_.addresses[i];
    member.clientPort = options_.addresses.empty() ? ports[2 * i] : options_.clientPort;
    member.peerPort = options_.addresses.empty() ? ports[2 * i + 1] : options_.peerPort;
    member.client = fmt::format("{}:{}", member.address, member.clientPort);
    member.dataDir = fmt::format("{}/{}", root_, member.name);
    member.logPath = fmt::format("{}/{}.log", root_, member.name);
    peers.push_back(fmt::format("{}=http://{}:{}", member.name, member.address, member.peerPort));
    members_.push_back(std::move(member));
  }
  initialCluster_ = fmt::format("{}", fmt::join(peers, ","));
  try {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      start(i, true);
    }
    for (std::size_t i = 0; i < members_.size(); ++i) {
      waitHealthy(i);
    }
  } catch (...) {
    for (std::size_t i = 0; i < members_.size(); ++i) {
      kill(i);
    }
    if (ownRoot_) {
      std::error_code ignored;
      std::filesystem::remove_all(root_, ignored);
    }
    throw;
  }
}

EtcdCluster::~EtcdCluster() {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    kill(i);
  }
  if (ownRoot_) {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
}

std::vector<std::string> EtcdCluster::argvOf(std::size_t index, bool fresh) const {
  const Member& member = members_[index];
  std::string clientUrl =
      fmt::format("{}{}:{}", clientScheme(options_.tls), member.address, member.clientPort);
  std::string peerUrl = fmt::format("http://{}:{}", member.address, member.peerPort);
  std::vector<std::string> argv{kEtcdBinary,
                                "--name",
                                member.name,
                                "--data-dir",
                                member.dataDir,
                                "--listen-client-urls",
                                clientUrl,
                                "--advertise-client-urls",
                                clientUrl,
                                "--listen-peer-urls",
                                peerUrl,
                                "--initial-advertise-peer-urls",
                                peerUrl,
                                "--initial-cluster",
                                initialCluster_,
                                "--initial-cluster-state",
                                fresh ? "new" : "existing",
                                "--initial-cluster-token",
                                "overmesh-test",
                                "--heartbeat-interval",
                                std::to_string(options_.heartbeat.count()),
                                "--election-timeout",
                                std::to_string(options_.electionTimeout.count())};
  if (!options_.tls.caFile.empty()) {
    argv.insert(argv.end(),
                {"--cert-file", options_.tls.serverCert, "--key-file", options_.tls.serverKey,
                 "--trusted-ca-file", options_.tls.caFile, "--client-cert-auth"});
  }
  if (options_.wrapCommand) {
    return options_.wrapCommand(index, std::move(argv));
  }
  return argv;
}

void EtcdCluster::start(std::size_t index, bool fresh) {
  Member& member = members_[index];
  std::vector<std::string> argv = argvOf(index, fresh);
  std::vector<char*> args;
  for (auto& arg : argv) {
    args.push_back(arg.data());
  }
  args.push_back(nullptr);
  int logFd = ::open(member.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    throw std::runtime_error(fmt::format("open {}: {}", member.logPath, std::strerror(errno)));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(logFd);
    throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: dies with the test process, whatever ends it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      _exit(126);
    }
    ::dup2(logFd, STDOUT_FILENO);
    ::dup2(logFd, STDERR_FILENO);
    int devNull = ::open("/dev/null", O_RDONLY);
    if (devNull >= 0) {
      ::dup2(devNull, STDIN_FILENO);
    }
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(logFd);
  member.pid = pid;
}

void EtcdCluster::waitHealthy(std::size_t index) {
  Member& member = members_[index];
  auto deadline = std::chrono::steady_clock::now() + options_.startTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (options_.healthy ? options_.healthy(member.client)
                         : answersHealth(member.client, options_.tls)) {
      return;
    }
    if (member.pid > 0 && reaped(member.pid)) {
      member.pid = -1;
      throw std::runtime_error(
          fmt::format("etcd {} exited while starting; its log:\n{}", member.name, log(index)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(fmt::format("etcd {} did not answer {}/health within {} s; its log:\n{}",
                                       member.name, member.client, options_.startTimeout.count(),
                                       log(index)));
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const Member& member : members_) {
    out.push_back(member.client);
  }
  return out;
}

std::string EtcdCluster::storeUrl() const {
  return fmt::format("etcd://{}", fmt::join(endpoints(), ","));
}

void EtcdCluster::kill(std::size_t index) {
  Member& member = members_[index];
  if (member.pid > 0) {
    ::kill(member.pid, SIGKILL);
    ::waitpid(member.pid, nullptr, 0);
    member.pid = -1;
  }
}

void EtcdCluster::restart(std::size_t index) {
  kill(index);
  start(index, false);
  waitHealthy(index);
}

std::string EtcdCluster::post(std::size_t index, const std::string& path,
                              const std::string& body) const {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return {};
  }
  useClientTls(curl, options_.tls);
  std::string url = clientScheme(options_.tls) + members_[index].client + path;
  std::string answer;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &keepBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  return code == CURLE_OK ? answer : std::string();
}

std::string EtcdCluster::log(std::size_t index) const {
  std::ifstream in(members_[index].logPath);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  constexpr std::size_t kShownLog = 8000;
  return all.size() > kShownLog ? "..." + all.substr(all.size() - kShownLog) : all;
}

}  // namespace overmesh::testing
