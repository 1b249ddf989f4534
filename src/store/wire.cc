#include "store/wire.h"

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
  kv.key = json.at("key").get<std::string>();
  kv.value = json.at("value").get<std::string>();
  kv.createRevision = json.at("createRevision").get<Revision>();
  kv.modRevision = json.at("modRevision").get<Revision>();
  return kv;
}

Event eventFromJson(const nlohmann::json& json) {
  Event event;
  event.type = json.at("type").get<std::string>() == "put" ? Event::Type::Put : Event::Type::Delete;
  event.kv = keyValueFromJson(json.at("kv"));
  return event;
}

WatchResult watchResultFromJson(const nlohmann::json& json) {
  WatchResult result;
  for (const auto& event : json.at("events")) {
    result.events.push_back(eventFromJson(event));
  }
  result.nextRevision = json.at("nextRevision").get<Revision>();
  return result;
}

}  // namespace overmesh::store
