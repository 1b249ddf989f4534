#include "compose/value.h"

#include <yaml-cpp/yaml.h>

#include <exception>

#include "common/quote.h"

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

void Value::set(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  entries.emplace_back(Value::scalar(std::move(key), value.mark), std::move(value));
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
  YamlCopier(const std::string& file, const LoadLimits& limits) : file_(file), limits_(limits) {}

  Result<Value> copy(const YAML::Node& node, std::size_t depth, std::vector<std::string>& path) {
    Mark mark{file_, node.Mark().line + 1, node.Mark().column + 1};
    if (++nodes_ > limits_.maxNodes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: the file expands to more than {} values (anchors and aliases "
                    "included): refused, as a YAML bomb would be",
                    file_, mark.line, limits_.maxNodes);
    }
    if (depth > limits_.maxDepth) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}:{}: {}: nested deeper than {} levels: refused", file_, mark.line,
                    keyPath(path), limits_.maxDepth);
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
                        file_, mark.line, keyPath(path), limits_.maxScalarBytes);
        }
        Value value = Value::scalar(node.Scalar(), mark);
        // yaml-cpp tags a quoted or block scalar "!", a plain one "?".
        value.quoted = node.Tag() == "!";
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
    return errorf(ErrorKind::Internal, "{}:{}: unknown YAML node type", file_, mark.line);
  }

 private:
  Result<Value> copyMapping(const YAML::Node& node, const Mark& mark, std::size_t depth,
                            std::vector<std::string>& path) {
    Value value = Value::mapping(mark);
    std::vector<Value> merged;  // `<<` sources, in the order given
    for (const auto& entry : node) {
      const YAML::Node& keyNode = entry.first;
      if (!keyNode.IsScalar()) {
        return errorf(ErrorKind::InvalidArgument,
                      "{}:{}: {}: a key must be a plain string, not a list or a mapping",
                      file_, keyNode.Mark().line + 1, keyPath(path));
      }
      const std::string& key = keyNode.Scalar();
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
                            file_, item.mark.line, keyPath(path));
            }
            merged.push_back(std::move(item));
          }
        } else {
          return errorf(ErrorKind::InvalidArgument,
                        "{}:{}: {}: a merge key (<<) takes a mapping or a list of mappings",
                        file_, copied->mark.line, keyPath(path));
        }
        continue;
      }
      if (value.find(key) != nullptr) {
        path.push_back(key);
        std::string where = keyPath(path);
        path.pop_back();
        return errorf(ErrorKind::InvalidArgument, "{}:{}: {}: the key is given twice",
                      file_, keyNode.Mark().line + 1, where);
      }
      Value keyValue = Value::scalar(key, Mark{file_, keyNode.Mark().line + 1,
                                               keyNode.Mark().column + 1});
      value.entries.emplace_back(std::move(keyValue), std::move(*copied));
    }
    // Merge keys: the mapping's own keys win, then the first source that has a key.
    for (Value& source : merged) {
      for (auto& [key, item] : source.entries) {
        if (value.find(key.text) == nullptr) {
          value.entries.emplace_back(std::move(key), std::move(item));
        }
      }
    }
    return value;
  }

  const std::string& file_;
  const LoadLimits& limits_;
  std::size_t nodes_ = 0;
};

}  // namespace

Result<Value> parseYaml(std::string_view text, const std::string& file,
                        const LoadLimits& limits) {
  if (text.size() > limits.maxBytes) {
    return errorf(ErrorKind::InvalidArgument, "{}: the file is {} bytes: at most {} are read",
                  file, text.size(), limits.maxBytes);
  }
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
    if (documents.size() > 1) {
      return errorf(ErrorKind::InvalidArgument,
                    "{}: the file holds {} YAML documents: a compose file is one document",
                    file, documents.size());
    }
    if (documents.empty()) {
      Value empty;
      empty.mark = Mark{file, 1, 1};
      return empty;
    }
    YamlCopier copier(file, limits);
    std::vector<std::string> path;
    return copier.copy(documents.front(), 0, path);
  } catch (const YAML::Exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}:{}: not valid YAML: {}", file,
                  error.mark.line + 1, printable(error.msg));
  } catch (const std::exception& error) {
    return errorf(ErrorKind::InvalidArgument, "{}: not valid YAML: {}", file,
                  printable(error.what()));
  }
}

}  // namespace overmesh::compose
