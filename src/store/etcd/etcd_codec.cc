#include "store/etcd/etcd_codec.h"

#include <charconv>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "common/base64.h"
#include "common/json.h"
#include "common/quote.h"

namespace overmesh::store::etcd {
namespace {

using nlohmann::json;

// An int64 field as etcd's gateway writes it: a decimal string, or (leniently) a JSON
// number. Missing or null = 0 (the gateway leaves zero values out).
std::int64_t etcdInt(const json& object, const char* name) {
  if (!object.is_object()) {
    throw JsonFieldError(fmt::format("expected an object around field \"{}\"", name));
  }
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return 0;
  }
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    std::int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
      throw JsonFieldError(
          fmt::format("field \"{}\" is not a 64-bit integer: {}", name, quote(text)));
    }
    return number;
  }
  auto number = json_detail::wholeNumber<std::int64_t>(*it);
  if (!number) {
    throw JsonFieldError(fmt::format("field \"{}\" is not a 64-bit integer", name));
  }
  return *number;
}

bool etcdBool(const json& object, const char* name) {
  bool value = false;
  readField(object, name, value);
  return value;
}

// A base64 field (key or value); missing = empty.
std::string etcdBytes(const json& object, const char* name) {
  std::string text;
  readField(object, name, text);
  if (text.empty()) {
    return {};
  }
  auto bytes = base64Decode(text, name);
  if (!bytes) {
    throw JsonFieldError(bytes.error().message);
  }
  return std::move(*bytes);
}

const json& member(const json& object, const char* name) {
  static const json kEmpty = json::object();
  if (!object.is_object()) {
    throw JsonFieldError(fmt::format("expected an object around \"{}\"", name));
  }
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return kEmpty;
  }
  if (!it->is_object()) {
    throw JsonFieldError(fmt::format("field \"{}\" is not an object", name));
  }
  return *it;
}

const json& arrayMember(const json& object, const char* name) {
  static const json kNone = json::array();
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    return kNone;
  }
  if (!it->is_array()) {
    throw JsonFieldError(fmt::format("field \"{}\" is not an array", name));
  }
  return *it;
}

Revision headerRevision(const json& answer) {
  return etcdInt(member(answer, "header"), "revision");
}

KeyValue decodeKeyValue(const json& kv) {
  if (!kv.is_object()) {
    throw JsonFieldError("a key-value is not an object");
  }
  KeyValue out;
  out.key = etcdBytes(kv, "key");
  out.value = etcdBytes(kv, "value");
  out.createRevision = etcdInt(kv, "create_revision");
  out.modRevision = etcdInt(kv, "mod_revision");
  out.version = etcdInt(kv, "version");
  out.lease = etcdInt(kv, "lease");
  return out;
}

// Parses `body` and runs `read` on it, turning every exception into InvalidArgument.
template <typename T, typename Read>
Result<T> decodeAnswer(std::string_view body, std::string_view what, Read&& read) {
  auto parsed = parseJsonObject(body, what);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  try {
    return read(*parsed);
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", what, printable(error.what()));
  }
}

std::string b64(const std::string& bytes) { return base64Encode(bytes); }

json encodeOperation(const Operation& operation) {
  switch (operation.type) {
    case Operation::Type::Put: {
      json put{{"key", b64(operation.key)}, {"value", b64(operation.value)}};
      if (operation.lease != 0) {
        put["lease"] = std::to_string(operation.lease);
      }
      return json{{"request_put", std::move(put)}};
    }
    case Operation::Type::Delete:
      return json{{"request_delete_range", {{"key", b64(operation.key)}}}};
    case Operation::Type::DeletePrefix: {
      // DeletePrefix("") = every key: etcd's ["\0", "\0").
      std::string key = operation.key.empty() ? kAllKeys : operation.key;
      std::string end = operation.key.empty() ? kAllKeys : prefixRangeEnd(operation.key);
      if (end.empty()) {
        end = kAllKeys;  // a prefix of 0xff bytes: no upper bound
      }
      return json{{"request_delete_range", {{"key", b64(key)}, {"range_end", b64(end)}}}};
    }
  }
  return json::object();
}

const char* targetName(Compare::Target target) {
  switch (target) {
    case Compare::Target::Value:
      return "VALUE";
    case Compare::Target::ModRevision:
      return "MOD";
    case Compare::Target::CreateRevision:
      return "CREATE";
    case Compare::Target::Version:
      return "VERSION";
  }
  return "VALUE";
}

const char* opName(Compare::Op op) {
  switch (op) {
    case Compare::Op::Equal:
      return "EQUAL";
    case Compare::Op::NotEqual:
      return "NOT_EQUAL";
    case Compare::Op::Less:
      return "LESS";
    case Compare::Op::Greater:
      return "GREATER";
  }
  return "EQUAL";
}

json encodeCompare(const Compare& compare) {
  json out{{"key", b64(compare.key)},
           {"target", targetName(compare.target)},
           {"result", opName(compare.op)}};
  switch (compare.target) {
    case Compare::Target::Value:
      out["value"] = b64(compare.value);
      break;
    case Compare::Target::ModRevision:
      out["mod_revision"] = std::to_string(compare.number);
      break;
    case Compare::Target::CreateRevision:
      out["create_revision"] = std::to_string(compare.number);
      break;
    case Compare::Target::Version:
      out["version"] = std::to_string(compare.number);
      break;
  }
  return out;
}

Status checkKey(const std::string& key, std::string_view what) {
  if (key.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{}: the key is empty (every key needs a name)",
                  what);
  }
  return {};
}

}  // namespace

GatewayError decodeGatewayError(std::string_view body) {
  GatewayError out;
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    out.message = quote(body);
    return out;
  }
  try {
    // A stream wraps its error: {"error": {"grpc_code", "http_code", "message", ...}}.
    const json& inner =
        parsed.contains("error") && parsed["error"].is_object() ? parsed["error"] : parsed;
    std::string message;
    readField(inner, "message", message);
    if (message.empty()) {
      readField(inner, "error", message);
    }
    out.message = printable(message);
    std::int64_t code = etcdInt(inner, inner.contains("grpc_code") ? "grpc_code" : "code");
    out.code = code >= 0 && code < 100 ? static_cast<int>(code) : 0;
  } catch (const std::exception&) {
    out.message = quote(body);
  }
  if (out.message.empty()) {
    out.message = quote(body);
  }
  return out;
}

std::string encodeRangeRequest(const std::string& key, const std::string& rangeEnd,
                               bool countOnly) {
  json request{{"key", b64(key)}};
  if (!rangeEnd.empty()) {
    request["range_end"] = b64(rangeEnd);
  }
  if (countOnly) {
    request["count_only"] = true;
  }
  return dumpJson(request);
}

Result<RangeReply> decodeRangeReply(std::string_view body) {
  return decodeAnswer<RangeReply>(body, "etcd range answer", [](const json& answer) {
    RangeReply reply;
    reply.revision = headerRevision(answer);
    for (const json& kv : arrayMember(answer, "kvs")) {
      reply.kvs.push_back(decodeKeyValue(kv));
    }
    if (etcdBool(answer, "more")) {
      throw JsonFieldError("etcd says the range has more keys than it answered");
    }
    return reply;
  });
}

Result<std::string> encodeTxnRequest(const Txn& txn) {
  json request = json::object();
  json compares = json::array();
  for (const Compare& compare : txn.compares) {
    if (auto status = checkKey(compare.key, "txn compare"); !status) {
      return std::unexpected(status.error());
    }
    compares.push_back(encodeCompare(compare));
  }
  // etcd refuses a transaction that writes one key twice ("duplicate key given in txn
  // request"); the Store's contract (and SQLite) applies operations in order, so for one
  // exact key only its last operation matters: keep that one. (A put under a prefix that
  // the same txn deletes cannot be expressed in etcd and stays refused; nothing does it.)
  auto encodeOps = [](const std::vector<Operation>& operations) -> Result<json> {
    json out = json::array();
    std::map<std::string_view, std::size_t> lastWrite;
    for (std::size_t i = 0; i < operations.size(); ++i) {
      if (operations[i].type != Operation::Type::DeletePrefix) {
        lastWrite[operations[i].key] = i;
      }
    }
    for (std::size_t i = 0; i < operations.size(); ++i) {
      const Operation& operation = operations[i];
      if (operation.type != Operation::Type::DeletePrefix && lastWrite[operation.key] != i) {
        continue;  // a later operation on the same key supersedes this one
      }
      if (operation.type != Operation::Type::DeletePrefix) {
        if (auto status = checkKey(operation.key, "txn operation"); !status) {
          return std::unexpected(status.error());
        }
      }
      out.push_back(encodeOperation(operation));
    }
    return out;
  };
  auto success = encodeOps(txn.success);
  if (!success) {
    return std::unexpected(success.error());
  }
  auto failure = encodeOps(txn.failure);
  if (!failure) {
    return std::unexpected(failure.error());
  }
  if (!compares.empty()) {
    request["compare"] = std::move(compares);
  }
  if (!success->empty()) {
    request["success"] = std::move(*success);
  }
  if (!failure->empty()) {
    request["failure"] = std::move(*failure);
  }
  return dumpJson(request);
}

Result<TxnReply> decodeTxnReply(std::string_view body) {
  return decodeAnswer<TxnReply>(body, "etcd txn answer", [](const json& answer) {
    return TxnReply{etcdBool(answer, "succeeded"), headerRevision(answer)};
  });
}

Result<Revision> decodeHeaderRevision(std::string_view body) {
  return decodeAnswer<Revision>(body, "etcd answer",
                                [](const json& answer) { return headerRevision(answer); });
}

std::string encodeLeaseGrant(std::int64_t ttlSeconds) {
  return dumpJson(json{{"TTL", std::to_string(ttlSeconds)}});
}

Result<LeaseGrantReply> decodeLeaseGrantReply(std::string_view body) {
  return decodeAnswer<LeaseGrantReply>(body, "etcd lease grant answer", [](const json& answer) {
    LeaseGrantReply reply;
    reply.id = etcdInt(answer, "ID");
    reply.ttlSeconds = etcdInt(answer, "TTL");
    readField(answer, "error", reply.error);
    reply.error = printable(reply.error);
    return reply;
  });
}

std::string encodeLeaseId(LeaseId lease) { return dumpJson(json{{"ID", std::to_string(lease)}}); }

Result<std::int64_t> decodeKeepAliveReply(std::string_view body) {
  // One streamed message; a trailing newline (or more messages) is cut off first.
  std::string_view first = body.substr(0, body.find('\n'));
  return decodeAnswer<std::int64_t>(first, "etcd lease keep-alive answer", [](const json& answer) {
    if (answer.contains("error")) {
      throw JsonFieldError(fmt::format("etcd refused the keep-alive: {}",
                                       decodeGatewayError(dumpJson(answer)).message));
    }
    return etcdInt(member(answer, "result"), "TTL");
  });
}

std::string encodeCompaction(Revision revision) {
  return dumpJson(json{{"revision", std::to_string(revision)}});
}

std::string encodeWatchCreate(const std::string& key, const std::string& rangeEnd,
                              Revision startRevision) {
  json create{{"key", b64(key)}, {"start_revision", std::to_string(startRevision)}};
  if (!rangeEnd.empty()) {
    create["range_end"] = b64(rangeEnd);
  }
  return dumpJson(json{{"create_request", std::move(create)}});
}

Result<WatchMessage> decodeWatchLine(std::string_view line) {
  return decodeAnswer<WatchMessage>(line, "etcd watch message", [](const json& answer) {
    WatchMessage message;
    if (answer.contains("error")) {
      message.streamError = true;
      message.error = decodeGatewayError(dumpJson(answer));
      return message;
    }
    const json& result = member(answer, "result");
    message.headerRevision = headerRevision(result);
    message.created = etcdBool(result, "created");
    message.canceled = etcdBool(result, "canceled");
    message.compactRevision = etcdInt(result, "compact_revision");
    readField(result, "cancel_reason", message.cancelReason);
    message.cancelReason = printable(message.cancelReason);
    for (const json& event : arrayMember(result, "events")) {
      if (!event.is_object()) {
        throw JsonFieldError("a watch event is not an object");
      }
      std::string type = "PUT";
      readField(event, "type", type);
      Event out;
      if (type == "PUT") {
        out.type = Event::Type::Put;
      } else if (type == "DELETE") {
        out.type = Event::Type::Delete;
      } else {
        throw JsonFieldError(fmt::format("unknown watch event type {}", quote(type)));
      }
      out.kv = decodeKeyValue(member(event, "kv"));
      if (out.kv.modRevision <= 0) {
        throw JsonFieldError("a watch event without a mod_revision");
      }
      message.events.push_back(std::move(out));
    }
    return message;
  });
}

}  // namespace overmesh::store::etcd
