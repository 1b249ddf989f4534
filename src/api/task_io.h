#pragma once

// The wire format of exec and logs, on the local API (CLI ↔ daemon) and the node API
// (daemon ↔ daemon, port 2378). Task output is bytes, not text: a task may print any
// byte 0-255, and a JSON string must be UTF-8, so output travels base64-encoded
// ("outBase64", "errBase64", "logsBase64") and the CLI writes the decoded bytes as they are.
//
// Decoders never throw: a missing field, a wrong type or bad base64 is InvalidArgument
// naming the field.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace overmesh::api {

// The longest exec timeout a request may ask for; 0 (or no field) = no limit.
inline constexpr std::chrono::milliseconds kMaxExecTimeout{7LL * 24 * 3600 * 1000};

struct ExecRequest {
  std::vector<std::string> command;
  std::chrono::milliseconds timeout{0};  // 0 = no limit, like `docker exec`
};

struct ExecOutput {
  std::int64_t exitCode = 0;
  std::string out;
  std::string err;
  bool timedOut = false;
};

std::string encodeExecRequest(const ExecRequest& request);
// Body {"command": [..] (required, non-empty), "timeoutMs": 0..kMaxExecTimeout}.
Result<ExecRequest> decodeExecRequest(std::string_view body);

std::string encodeExecOutput(const ExecOutput& output);
Result<ExecOutput> decodeExecOutput(std::string_view body, std::string_view what);

std::string encodeLogs(std::string_view bytes);
Result<std::string> decodeLogs(std::string_view body, std::string_view what);

}  // namespace overmesh::api
