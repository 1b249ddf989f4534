#pragma once

// `node update --label-add K=V --label-rm K NODE`: the request body, built apart from the
// command so that its checks are unit-tested.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"

namespace overmesh::cli {

// {"labelAdd": {"k": "v"}, "labelRm": ["k"]} for POST /v1/nodes/{ref}/update. Fails
// (InvalidArgument naming the flag and value) on a label without a key, a key both added
// and removed, or when neither flag is given (there would be nothing to change).
Result<nlohmann::json> nodeUpdateBody(const std::vector<std::string>& labelAdd,
                                      const std::vector<std::string>& labelRm);

}  // namespace overmesh::cli
