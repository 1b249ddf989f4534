#include "compose/value.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <sstream>
#include <unordered_set>

#include "common/quote.h"
#include "compose/utf8.h"

namespace overmesh::compose {

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.text == key) {
      return &v;
    }
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  for (auto& [k, v] : entries) {
    if (k.text == key) {
      return &v;
    }
  }
  return nullptr;
}

Value Value::scalar(std::string text, Mark mark) {
  Value value;
  value.kind = Kind::Scalar;
  value.text = std::move(text);
  value.mark = std::move(mark);
  return value;
}

Value Value::mapping(Mark mark) {
  Value value;
  value.kind = Kind::Mapping;
  value.mark = std::move(mark);
  return value;
}

Value Value::sequence(Mark mark) {
  Value value;
  value.kind = Kind::Sequence;
  value.mark = std::move(mark);
  return value;
}

std::string_view describeKind(const Value& value) {
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

std::string keyPath(const std::vector<std::string>& parts) {
  std::string path;
  for (const std::string& part : parts) {
    if (!path.empty() && !part.starts_with('[')) {
      path += '.';
    }
    path += part;
  }
  return path;
}

namespace {

// Copies yaml-cpp's node graph into Values. Aliases share nodes in yaml-cpp's graph, so a
// copy expands them: the node budget is what refuses a "billion laughs" file.
class YamlCopier {
 public:
  YamlCopier(const std::string& file, const LoadLimits& limits)
      : file_(file), shown_(printable(file)), limits_(limits) {}

  Result<Value> copy(const YAML::Node& node, std::size_t depth, std::vector<std::string>& path) {
    Mark mark{file_, node.Mark().line + 1, node.Mark().column + 1};
    if (++nodes_ > limits_.maxNodes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: the file expands to more than {} values (anchors and aliases "
                    "included): refused, as a YAML bomb would be",
                    shown_, mark.line, limits_.maxNodes);
    }
    if (depth > limits_.maxDepth) {
      return errorf(ErrorKind::InvalidArgument, "{}:{}: {}: nested deeper than {} levels: refused",
                    shown_, mark.line, keyPath(path), limits_.maxDepth);
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: {
        Value value;
        value.mark = mark;
        return value;
      }
      case YAML::NodeType::Scalar: {
        if (node.Scalar().size() > limits_.maxScalarBytes) {
          return errorf(ErrorKind::InvalidArgument, "{}:{}: {}: a value longer than {} bytes",
                        shown_, mark.line, keyPath(path), limits_.maxScalarBytes);
        }
        if (auto charged = chargeBytes(node.Scalar().size(), mark.line); !charged) {
          return std::unexpected(charged.error());
        }
        Value value = Value::scalar(node.Scalar(), mark);
        // yaml-cpp tags a plain scalar "?"; a quoted or block scalar "!", and an explicit
        // tag (`!!str 3`) names it: all of those are strings whatever their text.
        value.quoted = node.Tag() != "?";
        return value;
      }
      case YAML::NodeType::Sequence: {
        Value value = Value::sequence(mark);
        std::size_t index = 0;
        for (const YAML::Node& item : node) {
          path.push_back(fmt::format("[{}]", index++));
          auto copied = copy(item, depth + 1, path);
          path.pop_back();
          if (!copied) {
            return copied;
          }
          value.items.push_back(std::move(*copied));
        }
        return value;
      }
      case YAML::NodeType::Map:
        return copyMapping(node, mark, depth, path);
    }
    return errorf(ErrorKind::Internal, "{}:{}: unknown YAML node type", shown_, mark.line);
  }

 private:
  // Counts copied scalar bytes against LoadLimits::maxExpandedBytes.
  Status chargeBytes(std::size_t bytes, int line) {
    bytes_ += bytes;
    if (bytes_ > limits_.maxExpandedBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: the file expands to more than {} bytes of values (anchors and "
                    "aliases included): refused, as a YAML bomb would be",
                    shown_, line, limits_.maxExpandedBytes);
    }
    return {};
  }

  Result<Value> copyMapping(const YAML::Node& node, const Mark& mark, std::size_t depth,
                            std::vector<std::string>& path) {
    Value value = Value::mapping(mark);
    std::vector<Value> merged;  // `<<` sources, in the order given
    // The keys so far: a duplicate is found in O(1), so a mapping of N keys is copied in
    // O(N).
    std::unordered_set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node& keyNode = entry.first;
      if (!keyNode.IsScalar()) {
        return errorf(ErrorKind::InvalidArgument,
                      "{}:{}: {}: a key must be a plain string, not a list or a mapping", shown_,
                      keyNode.Mark().line + 1, keyPath(path));
      }
      const std::string& key = keyNode.Scalar();
      if (auto charged = chargeBytes(key.size(), keyNode.Mark().line + 1); !charged) {
        return std::unexpected(charged.error());
      }
      bool mergeKey = key == "<<" && keyNode.Tag() != "!";
      path.push_back(mergeKey ? std::string("<<") : key);
      auto copied = copy(entry.second, depth + 1, path);
      path.pop_back();
      if (!copied) {
        return copied;
      }
      if (mergeKey) {
        if (copied->isMapping()) {
          merged.push_back(std::move(*copied));
        } else if (copied->isSequence()) {
          for (Value& item : copied->items) {
            if (!item.isMapping()) {
              return errorf(ErrorKind::InvalidArgument,
                            "{}:{}: {}: a merge key (<<) takes a mapping or a list of "
                            "mappings",
                            shown_, item.mark.line, keyPath(path));
            }
            merged.push_back(std::move(item));
          }
        } else {
          return errorf(ErrorKind::InvalidArgument,
                        "{}:{}: {}: a merge key (<<) takes a mapping or a list of mappings", shown_,
                        copied->mark.line, keyPath(path));
        }
        continue;
      }
      if (!seen.insert(key).second) {
        path.push_back(key);
        std::string where = keyPath(path);
        path.pop_back();
        return errorf(ErrorKind::InvalidArgument, "{}:{}: {}: the key is given twice", shown_,
                      keyNode.Mark().line + 1, where);
      }
      Value keyValue = Value::scalar(key, Mark{file_, keyNode.Mark().line + 1,
                                               keyNode.Mark().column + 1});
      value.entries.emplace_back(std::move(keyValue), std::move(*copied));
    }
    // Merge keys: the mapping's own keys win, then the first source that has a key.
    for (Value& source : merged) {
      for (auto& [key, item] : source.entries) {
        if (seen.insert(key.text).second) {
          value.entries.emplace_back(std::move(key), std::move(item));
        }
      }
    }
    return value;
  }

  const std::string& file_;
  std::string shown_;  // file_ as messages show it (a -c name may hold any bytes)
  const LoadLimits& limits_;
  std::size_t nodes_ = 0;
  std::size_t bytes_ = 0;
};

// One cheap pass over the text before yaml-cpp sees it. It refuses what yaml-cpp would
// either accept and hand on as bytes that later break JSON (not UTF-8, NUL), or meet only
// deep inside its recursive descent: nesting far beyond LoadLimits::maxDepth
// (`[[[[…`, `{a: {a: …`, `- - - - …`). yaml-cpp's own guard stops at 2000 levels with the
// message "bad file"; this one names the limit and the line. The nesting count is an
// estimate: quotes and comments are skipped, and in block context a bracket counts only
// where a value starts. It can err high only for a plain scalar whose continuation lines
// start with brackets (over 64 of them unclosed); it errs low elsewhere, where yaml-cpp's
// guard and the copy's depth check still bound the file.
Status prescan(std::string_view text, const std::string& file, const LoadLimits& limits) {
  const std::string shown = printable(file);
  std::size_t line = 1;
  std::size_t flowDepth = 0;
  enum class State { Plain, Single, Double, Comment } state = State::Plain;
  bool lineStart = true;           // only indentation and `- ` seen on this line so far
  std::size_t lineIndicators = 0;  // `- ` / `? ` at the start of this line
  char previous = '\n';
  char lastSignificant = '\n';  // the last character on this line that is not a space
  if (std::size_t invalid = firstInvalidUtf8(text); invalid != std::string_view::npos) {
    auto byte = static_cast<unsigned char>(text[invalid]);
    auto lineOf =
        1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(invalid), '\n');
    if (byte == 0) {
      return errorf(ErrorKind::InvalidArgument, "{}:{}: a NUL byte: a compose file is UTF-8 text",
                    shown, lineOf);
    }
    return errorf(ErrorKind::InvalidArgument,
                  "{}:{}: byte 0x{:02X} is not UTF-8: a compose file is UTF-8 text", shown, lineOf,
                  byte);
  }
  auto tooDeep = [&]() {
    return errorf(ErrorKind::InvalidArgument,
                  "{}:{}: nested deeper than {} levels (lists and mappings): refused", shown, line,
                  limits.maxDepth);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) {
      previous = 'x';  // a byte of a valid multi-byte character: part of a plain scalar
      lastSignificant = 'x';
      lineStart = false;
      continue;
    }
    char c = text[i];
    if (c == '\n') {
      ++line;
      lineStart = true;
      lineIndicators = 0;
      lastSignificant = '\n';
      if (state == State::Comment) {
        state = State::Plain;
      }
      previous = c;
      continue;
    }
    switch (state) {
      case State::Comment:
        break;
      case State::Single:
        if (c == '\'') {
          state = State::Plain;  // '' (an escaped quote) reopens at the next quote
        }
        break;
      case State::Double:
        if (c == '\\') {
          ++i;  // the escaped character, whatever it is
          if (i < text.size() && text[i] == '\n') {
            ++line;
          }
        } else if (c == '"') {
          state = State::Plain;
        }
        break;
      case State::Plain: {
        bool previousIsSpace = previous == ' ' || previous == '\t' || previous == '\n';
        bool afterSeparator = previous == ' ' || previous == '\t' || previous == '\n' ||
                              previous == '[' || previous == '{' || previous == ',' ||
                              previous == ':';
        if (c == '#' && (previous == ' ' || previous == '\t' || previous == '\n')) {
          state = State::Comment;
        } else if (c == '\'' && afterSeparator) {
          state = State::Single;
        } else if (c == '"' && afterSeparator) {
          state = State::Double;
        } else if ((c == '[' || c == '{') &&
                   (flowDepth > 0 ||
                    (previousIsSpace && (lastSignificant == '\n' || lastSignificant == ':' ||
                                         lastSignificant == '-' || lastSignificant == '?')))) {
          // In block context a bracket opens a flow collection only where a value starts
          // (after "key:", "-", "?" or at the line's start); elsewhere it is part of a
          // plain scalar ("echo [x", "imag[e") and must not count.
          if (++flowDepth > limits.maxDepth) {
            return tooDeep();
          }
        } else if ((c == ']' || c == '}') && flowDepth > 0) {
          --flowDepth;
        } else if (lineStart && (c == '-' || c == '?') &&
                   (i + 1 == text.size() || text[i + 1] == ' ')) {
          if (++lineIndicators > limits.maxDepth) {
            return tooDeep();
          }
        } else if (c != ' ' && c != '\t') {
          lineStart = false;
        }
        break;
      }
    }
    if (c != ' ' && c != '\t') {
      lastSignificant = c;
    }
    previous = c;
  }
  return {};
}

// Events of a parse that are only counted: how many documents a text holds, without
// building them.
class DiscardEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// 0, 1, or 2 meaning "more than one". Never YAML::LoadAll: on a text that starts with a
// stray "," (or "]", "}") yaml-cpp 0.7 returns an empty document without consuming the
// token, again and again, and LoadAll collects them until memory runs out (found by
// fuzz_compose_loader: 4 GB from a 961-byte file). Stopping at two bounds it. Throws what
// yaml-cpp throws.
std::size_t countDocuments(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DiscardEvents events;
  std::size_t documents = 0;
  while (documents < 2 && parser.HandleNextDocument(events)) {
    ++documents;
  }
  return documents;
}

// yaml-cpp's message for a line indented with a tab ("illegal map value", "end of map not
// found") does not say why; this adds it.
std::string tabHint(std::string_view text, int line) {
  std::size_t start = 0;
  for (int current = 0; current < line && start != std::string_view::npos; ++current) {
    start = text.find('\n', start);
    start = start == std::string_view::npos ? start : start + 1;
  }
  if (start == std::string_view::npos) {
    return {};
  }
  for (std::size_t i = start; i < text.size() && (text[i] == ' ' || text[i] == '\t'); ++i) {
    if (text[i] == '\t') {
      return " (a tab in the indentation: YAML indents with spaces only)";
    }
  }
  return {};
}

}  // namespace

Result<Value> parseYaml(std::string_view text, const std::string& file,
                        const LoadLimits& limits) {
  const std::string shown = printable(file);
  if (text.size() > limits.maxBytes) {
    return errorf(ErrorKind::InvalidArgument, "{}: the file is {} bytes: at most {} are read",
                  shown, text.size(), limits.maxBytes);
  }
  if (auto checked = prescan(text, file, limits); !checked) {
    return std::unexpected(checked.error());
  }
  try {
    std::string owned(text);
    std::size_t documents = countDocuments(owned);
    if (documents > 1) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: the file holds more than one YAML document (a \"---\" separator, or "
                    "a stray \",\", \"]\" or \"}}\" outside brackets): a compose file is one "
                    "document",
                    shown);
    }
    if (documents == 0) {
      Value empty;
      empty.mark = Mark{file, 1, 1};
      return empty;
    }
    YAML::Node document = YAML::Load(owned);
    YamlCopier copier(file, limits);
    std::vector<std::string> path;
    return copier.copy(document, 0, path);
  } catch (const YAML::DeepRecursion& error) {
    return errorf(ErrorKind::InvalidArgument,
                  "{}:{}: nested deeper than {} levels (lists and mappings): refused", shown,
                  error.mark.line + 1, limits.maxDepth);
  } catch (const YAML::Exception& error) {
    if (error.mark.is_null()) {
      return errorf(ErrorKind::InvalidArgument, "{}: not valid YAML: {}", shown,
                    printable(error.msg));
    }
    return errorf(ErrorKind::InvalidArgument, "{}:{}:{}: not valid YAML: {}{}", shown,
                  error.mark.line + 1, error.mark.column + 1, printable(error.msg),
                  tabHint(text, error.mark.line));
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: not valid YAML: {}", shown,
                  printable(error.what()));
  }
}

}  // namespace overmesh::compose
