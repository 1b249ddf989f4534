#include "store/wire.h"

#include "common/json.h"

namespace overmesh::store {

nlohmann::json toJson(const KeyValue& kv) {
  return {{"key", kv.key},
          {"value", kv.value},
          {"createRevision", kv.createRevision},
          {"modRevision", kv.modRevision}};
}

nlohmann::json toJson(const Event& event) {
  return {{"type", event.type == Event::Type::Put ? "put" : "delete"}, {"kv", toJson(event.kv)}};
}

nlohmann::json toJson(const WatchResult& result) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& event : result.events) {
    events.push_back(toJson(event));
  }
  return {{"events", events}, {"nextRevision", result.nextRevision}};
}

KeyValue keyValueFromJson(const nlohmann::json& json) {
  KeyValue kv;
  requireField(json, "key", kv.key);
  requireField(json, "value", kv.value);
  requireField(json, "createRevision", kv.createRevision);
  requireField(json, "modRevision", kv.modRevision);
  return kv;
}

Event eventFromJson(const nlohmann::json& json) {
  Event event;
  std::string type;
  requireField(json, "type", type);
  if (type != "put" && type != "delete") {
    throw JsonFieldError(fmt::format("field \"type\" is {}: expected \"put\" or \"delete\"",
                                     quote(type)));
  }
  event.type = type == "put" ? Event::Type::Put : Event::Type::Delete;
  if (!json.contains("kv")) {
    throw JsonFieldError("field \"kv\" is missing: expected an object");
  }
  event.kv = keyValueFromJson(json.at("kv"));
  return event;
}

WatchResult watchResultFromJson(const nlohmann::json& json) {
  WatchResult result;
  if (!json.is_object() || !json.contains("events") || !json.at("events").is_array()) {
    throw JsonFieldError("field \"events\" is missing: expected an array of events");
  }
  for (const auto& event : json.at("events")) {
    result.events.push_back(eventFromJson(event));
  }
  requireField(json, "nextRevision", result.nextRevision);
  return result;
}

}  // namespace overmesh::store
