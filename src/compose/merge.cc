#include "compose/merge.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace overmesh::compose {
namespace {

using MergePath = std::vector<std::string>;

std::string_view mergeFormName(const Value& value) {
  switch (value.kind) {
    case Value::Kind::Null:
      return "an empty value";
    case Value::Kind::Scalar:
      return "a single value";
    case Value::Kind::Sequence:
      return "a list";
    case Value::Kind::Mapping:
      return "a mapping";
  }
  return "a value";
}

std::unexpected<Error> formMismatch(const Value& base, const Value& later, const MergePath& path) {
  return errorf(ErrorKind::InvalidArgument,
                "{}:{}: {}: {} cannot be merged with {} given at {}:{}: write both in the "
                "same form",
                later.mark.file, later.mark.line, keyPath(path), mergeFormName(later),
                mergeFormName(base), base.mark.file, base.mark.line);
}

// Structural equality of the texts and kinds (marks and `quoted` aside): how `ports`
// entries are compared.
bool sameContent(const Value& a, const Value& b) {
  if (a.kind != b.kind) {
    return false;
  }
  switch (a.kind) {
    case Value::Kind::Null:
      return true;
    case Value::Kind::Scalar:
      return a.text == b.text;
    case Value::Kind::Sequence:
      return std::equal(a.items.begin(), a.items.end(), b.items.begin(), b.items.end(),
                        sameContent);
    case Value::Kind::Mapping:
      return std::equal(a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end(),
                        [](const Value::Entry& x, const Value::Entry& y) {
                          return x.first.text == y.first.text && sameContent(x.second, y.second);
                        });
  }
  return false;
}

// A `environment`/`labels`/`extra_hosts`/`networks` value in list form ("K=V", "K", "K:V")
// as a mapping: "K=V" → K: V, "K" → K: null (environment: taken from the environment).
// `separator` is '=' (environment, labels), ':' (extra_hosts) or none (networks: the item
// is the key).
Result<Value> listToMapping(const Value& list, std::optional<char> separator,
                            const MergePath& path) {
  Value mapping = Value::mapping(list.mark);
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const Value& item = list.items[i];
    if (!item.isScalar()) {
      MergePath itemPath = path;
      itemPath.push_back(fmt::format("[{}]", i));
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: {}: {} in a list of {}: each entry is one string", item.mark.file,
                    item.mark.line, keyPath(itemPath), mergeFormName(item),
                    separator == '=' ? "\"KEY=VALUE\" entries"
                    : separator      ? "\"HOST:IP\" entries"
                                     : "network names");
    }
    std::size_t at = separator ? item.text.find(*separator) : std::string::npos;
    Value key = Value::scalar(item.text.substr(0, at), item.mark);
    Value value;
    value.mark = item.mark;
    if (at != std::string::npos) {
      value = Value::scalar(item.text.substr(at + 1), item.mark);
    }
    if (Value* existing = mapping.find(key.text)) {
      *existing = std::move(value);  // a list that names a key twice: the last one counts
    } else {
      mapping.entries.emplace_back(std::move(key), std::move(value));
    }
  }
  return mapping;
}

Result<Value> mergeValues(Value base, Value later, MergePath& path);

// Both sides as mappings (a list is read with `separator`), merged key by key: the later
// value wins (for networks, a mapping value merges with the earlier one).
Result<Value> mergeKeyed(Value base, Value later, std::optional<char> separator, MergePath& path,
                         bool recurse) {
  if (later.isNull() || later.isScalar()) {
    return later;
  }
  if (base.isNull() || base.isScalar()) {
    return later;
  }
  if (base.isSequence() && later.isSequence() && !separator) {
    // Both networks lists: the union of the names, in order.
    for (Value& item : later.items) {
      bool present = std::any_of(base.items.begin(), base.items.end(), [&](const Value& known) {
        return known.isScalar() && item.isScalar() && known.text == item.text;
      });
      if (!present) {
        base.items.push_back(std::move(item));
      }
    }
    return base;
  }
  if (base.isSequence()) {
    auto converted = listToMapping(base, separator, path);
    if (!converted) {
      return converted;
    }
    base = std::move(*converted);
  }
  if (later.isSequence()) {
    auto converted = listToMapping(later, separator, path);
    if (!converted) {
      return converted;
    }
    later = std::move(*converted);
  }
  for (auto& [key, value] : later.entries) {
    Value* existing = base.find(key.text);
    if (existing == nullptr) {
      base.entries.emplace_back(std::move(key), std::move(value));
      continue;
    }
    if (recurse) {
      path.push_back(key.text);
      auto merged = mergeValues(std::move(*existing), std::move(value), path);
      path.pop_back();
      if (!merged) {
        return merged;
      }
      *existing = std::move(*merged);
    } else {
      *existing = std::move(value);
    }
  }
  return base;
}

// `ports`, `expose`, `env_file`: the later entries appended unless equal to one present.
// A single string (env_file: .env) counts as a list of one.
Result<Value> mergeConcatenated(Value base, Value later, const MergePath& path) {
  if (later.isNull()) {
    return later;
  }
  if (base.isNull()) {
    return later;
  }
  auto asList = [](Value value) {
    if (value.isScalar()) {
      Value list = Value::sequence(value.mark);
      list.items.push_back(std::move(value));
      return list;
    }
    return value;
  };
  base = asList(std::move(base));
  later = asList(std::move(later));
  if (!base.isSequence() || !later.isSequence()) {
    return formMismatch(base, later, path);
  }
  for (Value& item : later.items) {
    bool present = std::any_of(base.items.begin(), base.items.end(),
                               [&](const Value& known) { return sameContent(known, item); });
    if (!present) {
      base.items.push_back(std::move(item));
    }
  }
  return base;
}

// The container path a `volumes:` entry mounts at: "src:target[:mode]" → target, "target"
// → target; long form → its `target:`. Empty when it cannot tell (then the entry is kept
// as it is, and the schema judges it).
std::string volumeTarget(const Value& entry) {
  if (entry.isMapping()) {
    const Value* target = entry.find("target");
    return target != nullptr && target->isScalar() ? target->text : std::string();
  }
  if (!entry.isScalar()) {
    return {};
  }
  std::size_t first = entry.text.find(':');
  if (first == std::string::npos) {
    return entry.text;
  }
  std::size_t second = entry.text.find(':', first + 1);
  return entry.text.substr(first + 1,
                           second == std::string::npos ? std::string::npos : second - first - 1);
}

Result<Value> mergeVolumes(Value base, Value later, const MergePath& path) {
  if (later.isNull() || base.isNull()) {
    return later;
  }
  if (!base.isSequence() || !later.isSequence()) {
    return formMismatch(base, later, path);
  }
  for (Value& item : later.items) {
    std::string target = volumeTarget(item);
    auto same = std::find_if(base.items.begin(), base.items.end(), [&](const Value& known) {
      return !target.empty() && volumeTarget(known) == target;
    });
    if (same != base.items.end()) {
      *same = std::move(item);
    } else {
      base.items.push_back(std::move(item));
    }
  }
  return base;
}

Result<Value> mergeService(Value base, Value later, MergePath& path) {
  if (!base.isMapping() || !later.isMapping()) {
    return mergeValues(std::move(base), std::move(later), path);
  }
  for (auto& [key, value] : later.entries) {
    Value* existing = base.find(key.text);
    if (existing == nullptr) {
      base.entries.emplace_back(std::move(key), std::move(value));
      continue;
    }
    path.push_back(key.text);
    Result<Value> merged;
    const std::string& name = key.text;
    if (name == "environment" || name == "labels") {
      merged = mergeKeyed(std::move(*existing), std::move(value), '=', path, false);
    } else if (name == "extra_hosts") {
      merged = mergeKeyed(std::move(*existing), std::move(value), ':', path, false);
    } else if (name == "networks") {
      merged = mergeKeyed(std::move(*existing), std::move(value), std::nullopt, path, true);
    } else if (name == "ports" || name == "expose" || name == "env_file") {
      merged = mergeConcatenated(std::move(*existing), std::move(value), path);
    } else if (name == "volumes") {
      merged = mergeVolumes(std::move(*existing), std::move(value), path);
    } else if (name == "deploy" && existing->isMapping() && value.isMapping()) {
      // deploy.labels merges by key; the rest of deploy as any mapping.
      Value deploy = std::move(*existing);
      merged = [&]() -> Result<Value> {
        for (auto& [deployKey, deployValue] : value.entries) {
          Value* known = deploy.find(deployKey.text);
          if (known == nullptr) {
            deploy.entries.emplace_back(std::move(deployKey), std::move(deployValue));
            continue;
          }
          path.push_back(deployKey.text);
          auto inner = deployKey.text == "labels"
                           ? mergeKeyed(std::move(*known), std::move(deployValue), '=', path, false)
                           : mergeValues(std::move(*known), std::move(deployValue), path);
          path.pop_back();
          if (!inner) {
            return inner;
          }
          *known = std::move(*inner);
        }
        return deploy;
      }();
    } else {
      merged = mergeValues(std::move(*existing), std::move(value), path);
    }
    path.pop_back();
    if (!merged) {
      return merged;
    }
    *existing = std::move(*merged);
  }
  return base;
}

// The general rule: mappings merge key by key; anything else in the later file replaces.
Result<Value> mergeValues(Value base, Value later, MergePath& path) {
  if (!later.isMapping() || base.isNull() || base.isScalar()) {
    return later;
  }
  if (!base.isMapping()) {
    return formMismatch(base, later, path);
  }
  bool services = path.size() == 1 && path[0] == "services";
  for (auto& [key, value] : later.entries) {
    Value* existing = base.find(key.text);
    if (existing == nullptr) {
      base.entries.emplace_back(std::move(key), std::move(value));
      continue;
    }
    path.push_back(key.text);
    auto merged = services ? mergeService(std::move(*existing), std::move(value), path)
                           : mergeValues(std::move(*existing), std::move(value), path);
    path.pop_back();
    if (!merged) {
      return merged;
    }
    *existing = std::move(*merged);
  }
  return base;
}

}  // namespace

Result<Value> mergeFiles(std::vector<Value> files) {
  if (files.empty()) {
    return errorf(ErrorKind::InvalidArgument, "at least one compose file (-c FILE) is needed");
  }
  for (Value& file : files) {
    if (file.isNull()) {
      file = Value::mapping(file.mark);  // an empty file adds nothing
    } else if (!file.isMapping()) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: the file is {}: a compose file is a mapping (version:, services:, "
                    "networks: …)",
                    file.mark.file, file.mark.line, mergeFormName(file));
    }
  }
  Value merged = std::move(files.front());
  MergePath path;
  for (std::size_t i = 1; i < files.size(); ++i) {
    auto next = mergeValues(std::move(merged), std::move(files[i]), path);
    if (!next) {
      return next;
    }
    merged = std::move(*next);
  }
  return merged;
}

}  // namespace overmesh::compose
