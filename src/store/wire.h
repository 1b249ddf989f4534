#pragma once

// The JSON form of key-values and events, as the manager streams them to agents.

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace overmesh::store {

nlohmann::json toJson(const KeyValue& kv);
nlohmann::json toJson(const Event& event);
nlohmann::json toJson(const WatchResult& result);

// Throw (nlohmann::json::exception, JsonFieldError: both std::exception) on a malformed
// document naming the field; callers catch std::exception at the edge.
KeyValue keyValueFromJson(const nlohmann::json& json);
Event eventFromJson(const nlohmann::json& json);
WatchResult watchResultFromJson(const nlohmann::json& json);

}  // namespace overmesh::store
