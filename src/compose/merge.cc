#include "compose/merge.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common/quote.h"

namespace overmesh::compose {
namespace {

using MergePath = std::vector<std::string>;

std::unexpected<Error> formMismatch(const Value& base, const Value& later, const MergePath& path) {
  return errorf(ErrorKind::InvalidArgument,
                "{}:{}: {}: {} cannot be merged with {} given at {}:{}: write both in the "
                "same form",
                printable(later.mark.file), later.mark.line, printable(keyPath(path)),
                describeKind(later), describeKind(base), printable(base.mark.file),
                base.mark.line);
}

// How a value at a key path merges (merge.h lists the rules).
enum class Rule {
  Recursive,       // mappings key by key; anything else in the later file replaces
  ReplaceEntries,  // top-level networks/volumes/secrets/configs: later entries replace whole
  KeyedEquals,     // environment, labels, deploy.labels: "K=V" list or mapping, by key
  KeyedColon,      // extra_hosts: "HOST:IP" list or mapping, by key
  Networks,        // a service's networks: names or a mapping, by key, recursively
  Ports,           // by published port and protocol
  Volumes,         // by target path
  Appended,        // concatenated without duplicates
};

constexpr std::array<std::string_view, 4> kReplacedSections = {"networks", "volumes", "secrets",
                                                               "configs"};
constexpr std::array<std::string_view, 9> kAppendedServiceKeys = {
    "expose",   "env_file",       "dns",          "dns_search", "cap_add",
    "cap_drop", "external_links", "security_opt", "devices"};

template <std::size_t N>
bool isOneOf(std::string_view key, const std::array<std::string_view, N>& keys) {
  for (std::string_view known : keys) {
    if (known == key) {
      return true;
    }
  }
  return false;
}

Rule ruleFor(const MergePath& path) {
  if (path.size() == 1) {
    return isOneOf(path[0], kReplacedSections) ? Rule::ReplaceEntries : Rule::Recursive;
  }
  if (path.empty() || path[0] != "services") {
    return Rule::Recursive;
  }
  if (path.size() == 3) {
    const std::string& key = path[2];
    if (key == "environment" || key == "labels") {
      return Rule::KeyedEquals;
    }
    if (key == "extra_hosts") {
      return Rule::KeyedColon;
    }
    if (key == "networks") {
      return Rule::Networks;
    }
    if (key == "ports") {
      return Rule::Ports;
    }
    if (key == "volumes") {
      return Rule::Volumes;
    }
    if (isOneOf(key, kAppendedServiceKeys)) {
      return Rule::Appended;
    }
    return Rule::Recursive;
  }
  if (path.size() == 4 && path[2] == "deploy" && path[3] == "labels") {
    return Rule::KeyedEquals;
  }
  if (path.size() == 5 && path[2] == "deploy" && path[3] == "placement" &&
      (path[4] == "constraints" || path[4] == "preferences")) {
    return Rule::Appended;
  }
  return Rule::Recursive;
}

// A mapping's keys → their positions in `entries`, so that merging N keys into it costs
// O(N) rather than O(N²) (a 200,000-key mapping is within LoadLimits).
class MappingIndex {
 public:
  explicit MappingIndex(Value& mapping) : mapping_(mapping) {
    index_.reserve(mapping.entries.size());
    for (std::size_t i = 0; i < mapping.entries.size(); ++i) {
      index_.emplace(mapping.entries[i].first.text, i);
    }
  }

  Value* find(const std::string& key) {
    auto found = index_.find(key);
    return found == index_.end() ? nullptr : &mapping_.entries[found->second].second;
  }

  void append(Value key, Value value) {
    index_.emplace(key.text, mapping_.entries.size());
    mapping_.entries.emplace_back(std::move(key), std::move(value));
  }

 private:
  Value& mapping_;
  std::unordered_map<std::string, std::size_t> index_;
};

// The content of a value as one string (kinds and texts; marks and `quoted` aside), so
// that equal list entries are found through a hash set. Lengths prefix the texts, so two
// different values never give the same string.
void appendContentKey(const Value& value, std::string& out) {
  switch (value.kind) {
    case Value::Kind::Null:
      out += '~';
      return;
    case Value::Kind::Scalar:
      out += fmt::format("s{}:", value.text.size());
      out += value.text;
      return;
    case Value::Kind::Sequence:
      out += '[';
      for (const Value& item : value.items) {
        appendContentKey(item, out);
      }
      out += ']';
      return;
    case Value::Kind::Mapping:
      out += '{';
      for (const auto& [key, item] : value.entries) {
        appendContentKey(key, out);
        appendContentKey(item, out);
      }
      out += '}';
      return;
  }
}

std::string contentKey(const Value& value) {
  std::string key;
  appendContentKey(value, key);
  return key;
}

// A `environment`/`labels`/`extra_hosts`/`networks` value in list form ("K=V", "K", "K:V")
// as a mapping: "K=V" → K: V, "K" → K: null (environment: taken from the environment).
// `separator` is '=' (environment, labels), ':' (extra_hosts) or none (networks: the item
// is the key).
Result<Value> listToMapping(const Value& list, std::optional<char> separator,
                            const MergePath& path) {
  Value mapping = Value::mapping(list.mark);
  MappingIndex index(mapping);
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const Value& item = list.items[i];
    if (!item.isScalar()) {
      MergePath itemPath = path;
      itemPath.push_back(fmt::format("[{}]", i));
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: {}: {} in a list of {}: each entry is one string",
                    printable(item.mark.file), item.mark.line, printable(keyPath(itemPath)),
                    describeKind(item),
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
    if (Value* existing = index.find(key.text)) {
      *existing = std::move(value);  // a list that names a key twice: the last one counts
    } else {
      index.append(std::move(key), std::move(value));
    }
  }
  return mapping;
}

Result<Value> mergeValues(Value base, Value later, MergePath& path);

// Merges the entries of the mapping `later` into the mapping `base`: a new key is
// appended; a known one is replaced (`recurse` false) or merged by mergeValues.
Result<Value> mergeEntries(Value base, Value later, MergePath& path, bool recurse) {
  MappingIndex index(base);
  for (auto& [key, value] : later.entries) {
    Value* existing = index.find(key.text);
    if (existing == nullptr) {
      index.append(std::move(key), std::move(value));
      continue;
    }
    if (!recurse) {
      *existing = std::move(value);
      continue;
    }
    path.push_back(key.text);
    auto merged = mergeValues(std::move(*existing), std::move(value), path);
    path.pop_back();
    if (!merged) {
      return merged;
    }
    *existing = std::move(*merged);
  }
  return base;
}

// Both sides as mappings (a list is read with `separator`), merged key by key: the later
// value wins (for networks, a mapping value merges with the earlier one).
Result<Value> mergeKeyed(Value base, Value later, std::optional<char> separator, MergePath& path,
                         bool recurse) {
  if (later.isNull() || later.isScalar() || base.isNull() || base.isScalar()) {
    return later;
  }
  if (base.isSequence() && later.isSequence() && !separator) {
    // Both networks lists: the union of the names, in order.
    std::unordered_set<std::string> known;
    for (const Value& item : base.items) {
      known.insert(contentKey(item));
    }
    for (Value& item : later.items) {
      if (known.insert(contentKey(item)).second) {
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
  return mergeEntries(std::move(base), std::move(later), path, recurse);
}

// Both sides as lists (a single string is a list of one), or the form mismatch.
Result<std::pair<Value, Value>> asLists(Value base, Value later, const MergePath& path) {
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
  return std::pair{std::move(base), std::move(later)};
}

// The later entries appended unless equal to one present.
Result<Value> mergeAppended(Value base, Value later, const MergePath& path) {
  if (later.isNull() || base.isNull()) {
    return later;
  }
  auto lists = asLists(std::move(base), std::move(later), path);
  if (!lists) {
    return std::unexpected(lists.error());
  }
  auto& [merged, added] = *lists;
  std::unordered_set<std::string> known;
  for (const Value& item : merged.items) {
    known.insert(contentKey(item));
  }
  for (Value& item : added.items) {
    if (known.insert(contentKey(item)).second) {
      merged.items.push_back(std::move(item));
    }
  }
  return std::move(merged);
}

// "published/protocol" of a `ports:` entry, or "" when it publishes no port (then it is
// compared whole). Short form "[IP:]PUBLISHED:TARGET[/PROTO]" (the published part is the
// one before the last colon; ranges are kept as text); long form `published:` and
// `protocol:`. The schema judges the entry later: anything unreadable here counts as not
// published.
std::string publishedKey(const Value& entry) {
  if (entry.isMapping()) {
    const Value* published = entry.find("published");
    if (published == nullptr || !published->isScalar() || published->text.empty()) {
      return {};
    }
    const Value* protocol = entry.find("protocol");
    std::string proto = protocol != nullptr && protocol->isScalar() ? protocol->text : "tcp";
    return published->text + "/" + proto;
  }
  if (!entry.isScalar()) {
    return {};
  }
  std::string_view text = entry.text;
  std::string_view proto = "tcp";
  if (std::size_t slash = text.rfind('/'); slash != std::string_view::npos) {
    proto = text.substr(slash + 1);
    text = text.substr(0, slash);
  }
  std::size_t last = text.rfind(':');
  if (last == std::string_view::npos) {
    return {};
  }
  std::size_t before = text.rfind(':', last == 0 ? 0 : last - 1);
  std::size_t start = (before == std::string_view::npos || last == 0) ? 0 : before + 1;
  std::string_view published = text.substr(start, last - start);
  if (published.empty()) {
    return {};
  }
  return fmt::format("{}/{}", published, proto);
}

Result<Value> mergePorts(Value base, Value later, const MergePath& path) {
  if (later.isNull() || base.isNull()) {
    return later;
  }
  auto lists = asLists(std::move(base), std::move(later), path);
  if (!lists) {
    return std::unexpected(lists.error());
  }
  auto& [merged, added] = *lists;
  std::unordered_map<std::string, std::size_t> byPublished;
  std::unordered_set<std::string> unpublished;
  for (std::size_t i = 0; i < merged.items.size(); ++i) {
    std::string key = publishedKey(merged.items[i]);
    if (key.empty()) {
      unpublished.insert(contentKey(merged.items[i]));
    } else {
      byPublished.emplace(std::move(key), i);
    }
  }
  for (Value& item : added.items) {
    std::string key = publishedKey(item);
    if (key.empty()) {
      if (unpublished.insert(contentKey(item)).second) {
        merged.items.push_back(std::move(item));
      }
      continue;
    }
    if (auto found = byPublished.find(key); found != byPublished.end()) {
      merged.items[found->second] = std::move(item);
      continue;
    }
    byPublished.emplace(std::move(key), merged.items.size());
    merged.items.push_back(std::move(item));
  }
  return std::move(merged);
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
  std::unordered_map<std::string, std::size_t> byTarget;
  for (std::size_t i = 0; i < base.items.size(); ++i) {
    if (std::string target = volumeTarget(base.items[i]); !target.empty()) {
      byTarget.emplace(std::move(target), i);
    }
  }
  for (Value& item : later.items) {
    std::string target = volumeTarget(item);
    if (!target.empty()) {
      if (auto found = byTarget.find(target); found != byTarget.end()) {
        base.items[found->second] = std::move(item);
        continue;
      }
      byTarget.emplace(std::move(target), base.items.size());
    }
    base.items.push_back(std::move(item));
  }
  return base;
}

// Merges `later` over `base` at `path`, by the rule for that path.
Result<Value> mergeValues(Value base, Value later, MergePath& path) {
  switch (ruleFor(path)) {
    case Rule::KeyedEquals:
      return mergeKeyed(std::move(base), std::move(later), '=', path, false);
    case Rule::KeyedColon:
      return mergeKeyed(std::move(base), std::move(later), ':', path, false);
    case Rule::Networks:
      return mergeKeyed(std::move(base), std::move(later), std::nullopt, path, true);
    case Rule::Ports:
      return mergePorts(std::move(base), std::move(later), path);
    case Rule::Volumes:
      return mergeVolumes(std::move(base), std::move(later), path);
    case Rule::Appended:
      return mergeAppended(std::move(base), std::move(later), path);
    case Rule::ReplaceEntries:
    case Rule::Recursive:
      break;
  }
  if (!later.isMapping() || base.isNull() || base.isScalar()) {
    return later;
  }
  if (!base.isMapping()) {
    return formMismatch(base, later, path);
  }
  return mergeEntries(std::move(base), std::move(later), path, ruleFor(path) == Rule::Recursive);
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
                    printable(file.mark.file), file.mark.line, describeKind(file));
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
