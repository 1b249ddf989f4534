#include "runtime/podman/podman_client.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "api/percent_encoding.h"
#include "runtime/podman/pull_stream.h"

namespace overmesh::runtime::podman {
namespace {

constexpr std::string_view kApi = "/v4.0.0/libpod";
constexpr std::chrono::milliseconds kCallTimeout{30000};
// A pull or a load of a large image over a slow link: long, but not forever.
constexpr std::chrono::milliseconds kImageTransferTimeout{30 * 60 * 1000};
// podman's answer to a pull is a few lines a layer; to a load, a few names.
constexpr std::size_t kMaxImageAnswer = 16 << 20;

std::string imagePath(const std::string& reference, std::string_view action) {
  return fmt::format("{}/images/{}{}{}", kApi, api::percentEncode(reference),
                     action.empty() ? "" : "/", action);
}

std::vector<std::string> stringsOf(const nlohmann::json& json, std::string_view field) {
  std::vector<std::string> out;
  auto found = json.find(field);
  if (found != json.end() && found->is_array()) {
    for (const auto& item : *found) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

// json[field] when it has the type of `fallback`, else `fallback`: podman's answers are
// read without trusting their types (nlohmann's value() throws on a mismatch, e.g. a
// null Error).
std::string stringOr(const nlohmann::json& json, std::string_view field, std::string fallback) {
  auto found = json.find(field);
  return found != json.end() && found->is_string() ? found->get<std::string>() : fallback;
}

std::int64_t integerOr(const nlohmann::json& json, std::string_view field, std::int64_t fallback) {
  auto found = json.find(field);
  return found != json.end() && found->is_number_integer() ? found->get<std::int64_t>()
                                                           : fallback;
}

bool boolOr(const nlohmann::json& json, std::string_view field, bool fallback) {
  auto found = json.find(field);
  return found != json.end() && found->is_boolean() ? found->get<bool>() : fallback;
}

// podman's error body: {"cause": "...", "message": "...", "response": 404}.
Error errorOf(const std::string& what, const api::HttpResponse& response) {
  std::string message;
  auto json = nlohmann::json::parse(response.body, nullptr, false);
  if (json.is_object() && json.contains("message") && json["message"].is_string()) {
    message = json["message"].get<std::string>();
  } else {
    message = response.body.substr(0, 200);
  }
  ErrorKind kind = response.status == 404   ? ErrorKind::NotFound
                   : response.status == 409 ? ErrorKind::Conflict
                   : response.status == 400 ? ErrorKind::InvalidArgument
                                            : ErrorKind::Unavailable;
  return Error{kind, fmt::format("podman: {}: {} (HTTP {})", what, message, response.status)};
}

std::string containerPath(const std::string& name, std::string_view action) {
  return fmt::format("{}/containers/{}{}{}", kApi, api::percentEncode(name),
                     action.empty() ? "" : "/", action);
}

}  // namespace

std::string containerCreateBody(const ContainerSpec& spec) {
  nlohmann::json env = nlohmann::json::object();
  for (const auto& entry : spec.env) {
    auto equals = entry.find('=');
    env[entry.substr(0, equals)] = equals == std::string::npos ? "" : entry.substr(equals + 1);
  }
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& mount : spec.mounts) {
    mounts.push_back({{"type", "bind"},
                      {"source", mount.source},
                      {"destination", mount.target},
                      {"options", {"rbind", mount.readOnly ? "ro" : "rw"}}});
  }
  nlohmann::json volumes = nlohmann::json::array();
  for (const auto& volume : spec.volumes) {
    volumes.push_back({{"Name", volume.name},
                       {"Dest", volume.target},
                       {"Options", {volume.readOnly ? "ro" : "rw"}}});
  }
  nlohmann::json body = {
      {"name", spec.name},
      {"image", spec.image},
      {"hostname", spec.hostname},
      {"env", env},
      {"netns", {{"nsmode", "path"}, {"value", spec.netnsPath}}},
      {"r_limits",
       {{{"type", "nofile"}, {"soft", spec.limits.nofile}, {"hard", spec.limits.nofile}},
        {{"type", "nproc"}, {"soft", spec.limits.nproc}, {"hard", spec.limits.nproc}}}},
      {"mounts", mounts},
      {"volumes", volumes},
      {"labels", spec.labels},
      {"read_only_filesystem", spec.readOnly},
      {"init", spec.init},
  };
  if (!spec.command.empty()) {
    body["command"] = spec.command;
  }
  if (!spec.entrypoint.empty()) {
    body["entrypoint"] = spec.entrypoint;
  }
  if (!spec.workdir.empty()) {
    body["work_dir"] = spec.workdir;
  }
  if (!spec.user.empty()) {
    body["user"] = spec.user;
  }
  if (spec.stopSignal > 0) {
    body["stop_signal"] = spec.stopSignal;
  }
  if (spec.stopTimeoutSeconds >= 0) {
    body["stop_timeout"] = spec.stopTimeoutSeconds;
  }
  return body.dump();
}

Result<PodmanClient> PodmanClient::connect(const std::string& socketPath) {
  auto http = api::HttpClient::create("unix://" + socketPath);
  if (!http) {
    return std::unexpected(http.error().withContext("podman"));
  }
  return PodmanClient(std::move(*http));
}

Result<api::HttpResponse> PodmanClient::call(const std::string& method, const std::string& path,
                                             const std::string& body,
                                             std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> headers;
  if (!body.empty()) {
    headers["Content-Type"] = "application/json";
  }
  auto response = http_->request(method, path, body, timeout, headers);
  if (!response) {
    return std::unexpected(response.error().withContext("podman"));
  }
  return response;
}

Status PodmanClient::ping() {
  auto response = call("GET", std::string(kApi) + "/_ping", "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200) {
    return std::unexpected(errorOf("ping", *response));
  }
  return {};
}

Result<std::string> PodmanClient::create(const ContainerSpec& spec) {
  auto response = call("POST", std::string(kApi) + "/containers/create", containerCreateBody(spec),
                       kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 201 && response->status != 200) {
    Error error = errorOf("create container " + spec.name, *response);
    // podman answers 500 for an image missing from the store.
    if (error.message.find("image not known") != std::string::npos) {
      error.kind = ErrorKind::NotFound;
    }
    return std::unexpected(error);
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (!json.is_object() || !json.contains("Id") || !json["Id"].is_string()) {
    return errorf(ErrorKind::Unavailable, "podman: create container {}: no Id in the answer",
                  spec.name);
  }
  return json["Id"].get<std::string>();
}

Status PodmanClient::start(const std::string& name) {
  auto response = call("POST", containerPath(name, "start"), "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  // 304: already running.
  if (response->status != 204 && response->status != 304) {
    return std::unexpected(errorOf("start container " + name, *response));
  }
  return {};
}

Result<ContainerState> PodmanClient::inspect(const std::string& name) {
  auto response = call("GET", containerPath(name, "json"), "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200) {
    return std::unexpected(errorOf("inspect container " + name, *response));
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (!json.is_object() || !json.contains("State") || !json["State"].is_object()) {
    return errorf(ErrorKind::Unavailable, "podman: inspect container {}: no State", name);
  }
  const auto& state = json["State"];
  ContainerState result;
  result.status = stringOr(state, "Status", "");
  result.exitCode = static_cast<int>(integerOr(state, "ExitCode", 0));
  result.pid = static_cast<pid_t>(integerOr(state, "Pid", 0));
  result.conmonPid = static_cast<pid_t>(integerOr(state, "ConmonPid", 0));
  result.oomKilled = boolOr(state, "OOMKilled", false);
  result.error = stringOr(state, "Error", "").substr(0, 1024);
  return result;
}

Status PodmanClient::stop(const std::string& name, std::chrono::seconds timeout) {
  auto response =
      call("POST", containerPath(name, "stop") + fmt::format("?timeout={}", timeout.count()), "",
           kCallTimeout + timeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 204 && response->status != 304) {
    return std::unexpected(errorOf("stop container " + name, *response));
  }
  return {};
}

Status PodmanClient::remove(const std::string& name) {
  auto response =
      call("DELETE", containerPath(name, "") + "?force=true&timeout=0&v=true", "",
           kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200 && response->status != 204 && response->status != 404) {
    return std::unexpected(errorOf("remove container " + name, *response));
  }
  return {};
}

Result<DemuxedOutput> PodmanClient::logs(const std::string& name, std::size_t maxBytes) {
  auto response =
      call("GET", containerPath(name, "logs") + "?stdout=true&stderr=true", "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200) {
    return std::unexpected(errorOf("logs of container " + name, *response));
  }
  return demuxLogStream(response->body, maxBytes);
}

Result<ExecOutput> PodmanClient::exec(const std::string& name, const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout, std::size_t maxBytes,
                                      std::string* execId) {
  nlohmann::json request = {{"Cmd", argv}, {"AttachStdout", true}, {"AttachStderr", true}};
  auto created = call("POST", containerPath(name, "exec"), request.dump(), kCallTimeout);
  if (!created) {
    return std::unexpected(created.error());
  }
  if (created->status != 201 && created->status != 200) {
    return std::unexpected(errorOf("exec in container " + name, *created));
  }
  auto json = nlohmann::json::parse(created->body, nullptr, false);
  if (!json.is_object() || !json.contains("Id") || !json["Id"].is_string()) {
    return errorf(ErrorKind::Unavailable, "podman: exec in container {}: no Id", name);
  }
  std::string id = json["Id"].get<std::string>();
  if (execId != nullptr) {
    *execId = id;
  }
  std::string path = fmt::format("{}/exec/{}", kApi, api::percentEncode(id));
  auto started = call("POST", path + "/start", R"({"Detach":false,"Tty":false})", timeout);
  if (!started) {
    return std::unexpected(started.error());
  }
  if (started->status != 200) {
    return std::unexpected(errorOf("exec in container " + name, *started));
  }
  ExecOutput result;
  result.output = demuxLogStream(started->body, maxBytes);
  auto inspected = call("GET", path + "/json", "", kCallTimeout);
  if (!inspected) {
    return std::unexpected(inspected.error());
  }
  auto state = nlohmann::json::parse(inspected->body, nullptr, false);
  if (inspected->status != 200 || !state.is_object()) {
    return std::unexpected(errorOf("exec in container " + name, *inspected));
  }
  result.exitCode = static_cast<int>(integerOr(state, "ExitCode", -1));
  return result;
}

Result<pid_t> PodmanClient::execPid(const std::string& execId) {
  auto inspected = call("GET", fmt::format("{}/exec/{}/json", kApi, api::percentEncode(execId)), "",
                        kCallTimeout);
  if (!inspected) {
    return std::unexpected(inspected.error());
  }
  auto state = nlohmann::json::parse(inspected->body, nullptr, false);
  if (inspected->status != 200 || !state.is_object()) {
    return std::unexpected(errorOf("exec " + execId, *inspected));
  }
  return static_cast<pid_t>(integerOr(state, "Pid", 0));
}

Result<std::vector<std::string>> PodmanClient::listByLabel(const std::string& key,
                                                           const std::string& value) {
  nlohmann::json filters = {{"label", {key + "=" + value}}};
  auto response = call("GET",
                       fmt::format("{}/containers/json?all=true&filters={}", kApi,
                                   api::percentEncode(filters.dump())),
                       "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200 || !json.is_array()) {
    return std::unexpected(errorOf("list containers", *response));
  }
  std::vector<std::string> names;
  for (const auto& container : json) {
    if (container.is_object() && container.contains("Names") && container["Names"].is_array() &&
        !container["Names"].empty() && container["Names"][0].is_string()) {
      names.push_back(container["Names"][0].get<std::string>());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<bool> PodmanClient::imageExists(const std::string& reference) {
  auto response = call("GET", imagePath(reference, "exists"), "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status == 204 || response->status == 200) {
    return true;
  }
  if (response->status == 404) {
    return false;
  }
  return std::unexpected(errorOf("image exists " + reference, *response));
}

Status PodmanClient::pullImage(const std::string& reference,
                               const std::function<void(const std::string&)>& onProgress) {
  PullStreamParser parser;
  http_->setResponseLimit(kMaxImageAnswer);
  http_->setBodyObserver([&](std::string_view bytes) {
    if (parser.feed(bytes) && onProgress) {
      onProgress(parser.summary());
    }
  });
  auto response = call("POST",
                       fmt::format("{}/images/pull?reference={}&quiet=false&policy=always", kApi,
                                   api::percentEncode(reference)),
                       "", kImageTransferTimeout);
  http_->setBodyObserver(nullptr);
  http_->setResponseLimit(api::kMaxResponseBody);
  if (!response) {
    return std::unexpected(response.error().withContext("pull " + reference));
  }
  if (response->status != 200) {
    Error error = errorOf("pull " + reference, *response);
    error.kind = pullErrorKind(error.message);
    return std::unexpected(error);
  }
  if (parser.finish() && onProgress) {
    onProgress(parser.summary());
  }
  if (!parser.error().empty()) {
    // Without the reference: the agent's message names the image ("pull IMAGE: …").
    return errorf(pullErrorKind(parser.error()), "{}", pullErrorSummary(parser.error()));
  }
  if (parser.imageId().empty()) {
    return errorf(ErrorKind::Unavailable, "pull {}: podman's answer ended without an image",
                  reference);
  }
  return {};
}

Result<std::vector<ImageSummary>> PodmanClient::listImages() {
  auto response = call("GET", std::string(kApi) + "/images/json", "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200 || !json.is_array()) {
    return std::unexpected(errorOf("list images", *response));
  }
  std::vector<ImageSummary> images;
  for (const auto& image : json) {
    if (!image.is_object()) {
      continue;
    }
    ImageSummary summary;
    auto id = image.find("Id");
    summary.id = id != image.end() && id->is_string() ? id->get<std::string>() : "";
    summary.names = stringsOf(image, "RepoTags");
    summary.digests = stringsOf(image, "RepoDigests");
    auto size = image.find("Size");
    summary.sizeBytes = size != image.end() && size->is_number() ? size->get<std::int64_t>() : 0;
    auto created = image.find("Created");
    summary.createdUnix =
        created != image.end() && created->is_number() ? created->get<std::int64_t>() : 0;
    images.push_back(std::move(summary));
  }
  std::sort(images.begin(), images.end(),
            [](const ImageSummary& a, const ImageSummary& b) { return a.id < b.id; });
  return images;
}

Result<std::vector<std::string>> PodmanClient::loadImage(const std::string& archivePath) {
  http_->setBodyFile(archivePath);
  auto response = call("POST", std::string(kApi) + "/images/load", "", kImageTransferTimeout);
  if (!response) {
    return std::unexpected(response.error().withContext("load " + archivePath));
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200 || !json.is_object()) {
    Error error = errorOf("load " + archivePath, *response);
    if (response->status == 500) {
      // podman answers 500 to an archive it cannot read: the file is at fault.
      error.kind = ErrorKind::InvalidArgument;
    }
    return std::unexpected(error);
  }
  return stringsOf(json, "Names");
}

Status PodmanClient::removeImage(const std::string& reference, bool force) {
  auto response =
      call("DELETE", imagePath(reference, "") + (force ? "?force=true" : ""), "", kCallTimeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status == 200 || response->status == 204) {
    return {};
  }
  Error error = errorOf("remove image " + reference, *response);
  if (response->status == 409) {
    error.kind = ErrorKind::FailedPrecondition;
  }
  return std::unexpected(error);
}

}  // namespace overmesh::runtime::podman
