#include "api/task_io.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/json.h"

namespace overmesh::api {

std::string encodeExecRequest(const ExecRequest& request) {
  return dumpJson({{"command", request.command}, {"timeoutMs", request.timeout.count()}});
}

Result<ExecRequest> decodeExecRequest(std::string_view body) {
  ExecRequest request;
  std::int64_t timeoutMs = 0;
  auto read = decodeFields(body, "exec", [&](const nlohmann::json& json) {
    requireField(json, "command", request.command);
    readField(json, "timeoutMs", timeoutMs);
  });
  if (!read) {
    return std::unexpected(read.error());
  }
  if (request.command.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "exec: field \"command\" is empty: give the command and its arguments");
  }
  if (timeoutMs < 0 || timeoutMs > kMaxExecTimeout.count()) {
    return errorf(ErrorKind::InvalidArgument,
                  "exec: field \"timeoutMs\" is {}: use 0 (no limit) up to {} (7 days)", timeoutMs,
                  kMaxExecTimeout.count());
  }
  request.timeout = std::chrono::milliseconds(timeoutMs);
  return request;
}

std::string encodeExecOutput(const ExecOutput& output) {
  return dumpJson({{"exitCode", output.exitCode},
                   {"timedOut", output.timedOut},
                   {"outBase64", base64Encode(output.out)},
                   {"errBase64", base64Encode(output.err)}});
}

Result<ExecOutput> decodeExecOutput(std::string_view body, std::string_view what) {
  ExecOutput output;
  std::string out;
  std::string err;
  auto read = decodeFields(body, what, [&](const nlohmann::json& json) {
    requireField(json, "exitCode", output.exitCode);
    readField(json, "timedOut", output.timedOut);
    readField(json, "outBase64", out);
    readField(json, "errBase64", err);
  });
  if (!read) {
    return std::unexpected(read.error());
  }
  auto outBytes = base64Decode(out, fmt::format("{}: field \"outBase64\"", what));
  if (!outBytes) {
    return std::unexpected(outBytes.error());
  }
  auto errBytes = base64Decode(err, fmt::format("{}: field \"errBase64\"", what));
  if (!errBytes) {
    return std::unexpected(errBytes.error());
  }
  output.out = std::move(*outBytes);
  output.err = std::move(*errBytes);
  return output;
}

std::string encodeLogs(std::string_view bytes) {
  return dumpJson({{"logsBase64", base64Encode(bytes)}});
}

Result<std::string> decodeLogs(std::string_view body, std::string_view what) {
  std::string logs;
  auto read = decodeFields(
      body, what, [&](const nlohmann::json& json) { requireField(json, "logsBase64", logs); });
  if (!read) {
    return std::unexpected(read.error());
  }
  return base64Decode(logs, fmt::format("{}: field \"logsBase64\"", what));
}

}  // namespace overmesh::api
