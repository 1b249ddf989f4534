// `stack config`: a Value back to YAML text. yaml-cpp's Emitter writes the structure; the
// choice of quoting is ours, because the Value knows how each scalar was written: a quoted
// scalar stays double-quoted (so "3.9", "yes", "0777" remain strings for the schema), a
// plain one stays plain unless its text cannot be read back as the same plain text (it
// came from interpolation: an empty value, "null", "a: b", leading spaces…). Its output
// is meant to be deployed again (`stack config > all.yml`; `stack deploy -c all.yml`), so
// it reads back, interpolation included, to the same tree.

#include <yaml-cpp/yaml.h>

#include <array>
#include <string_view>

#include "compose/compose.h"
#include "compose/interpolation.h"

namespace overmesh::compose {
namespace {

bool isNullText(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

// True when `text` written plain reads back as a plain scalar with the same text. Errs on
// the side of quoting: a quoted plain value still loads with the same text.
bool safeAsPlain(std::string_view text) {
  if (isNullText(text) || text == "<<") {
    return false;
  }
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  char first = text.front();
  if (kIndicators.find(first) != std::string_view::npos) {
    // "-1", "-x" and ":x" are plain in YAML, but a lone or spaced indicator is not.
    bool signOrColon = first == '-' || first == '?' || first == ':';
    if (!signOrColon || text.size() == 1 || text[1] == ' ') {
      return false;
    }
    if (text.starts_with("---") || text.starts_with("...")) {
      return false;
    }
  }
  if (text.front() == ' ' || text.back() == ' ' || text.back() == ':') {
    return false;
  }
  if (text.find(": ") != std::string_view::npos || text.find(" #") != std::string_view::npos) {
    return false;
  }
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return false;  // tabs, newlines, control bytes: only a quoted form keeps them
    }
  }
  return true;
}

void emitValue(YAML::Emitter& out, const Value& value, bool interpolated, bool top);

// Values in the interpolated sections (interpolation.h: services, networks, volumes,
// secrets, configs) are written with `$` as `$$`: the output goes through interpolation
// again when it is deployed, which must give back this text, not expand it a second time.
// Keys, `version` and top-level `x-*` values are not interpolated, so they are written as
// they are.
void emitScalar(YAML::Emitter& out, const std::string& raw, bool quoted, bool escapeDollars) {
  std::string escaped;
  if (escapeDollars && raw.find('$') != std::string::npos) {
    for (char c : raw) {
      escaped += c;
      if (c == '$') {
        escaped += '$';
      }
    }
  }
  const std::string& text = escaped.empty() ? raw : escaped;
  if (quoted || !safeAsPlain(text)) {
    out << YAML::DoubleQuoted << text;
  } else {
    out << text;
  }
}

// `interpolated`: the value is inside a section that loading interpolates; `top`: it is
// the file's root mapping, whose sections are named by its keys.
void emitValue(YAML::Emitter& out, const Value& value, bool interpolated, bool top) {
  switch (value.kind) {
    case Value::Kind::Null:
      out << YAML::Null;
      return;
    case Value::Kind::Scalar:
      emitScalar(out, value.text, value.quoted, interpolated);
      return;
    case Value::Kind::Sequence:
      if (value.items.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const Value& item : value.items) {
        emitValue(out, item, interpolated, false);
      }
      out << YAML::EndSeq;
      return;
    case Value::Kind::Mapping:
      if (value.entries.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.entries) {
        out << YAML::Key;
        // Keys are always strings: quote any whose plain form would not read back as the
        // same key (a quoted "<<" must not become a merge key).
        emitScalar(out, key.text, false, false);
        out << YAML::Value;
        emitValue(out, item, interpolated || (top && isInterpolatedSection(key.text)), false);
      }
      out << YAML::EndMap;
      return;
  }
}

}  // namespace

std::string emitYaml(const Value& value) {
  YAML::Emitter out;
  out.SetNullFormat(YAML::LowerNull);
  out.SetOutputCharset(YAML::EmitNonAscii);
  out.SetIndent(2);
  emitValue(out, value, false, true);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  return text;
}

}  // namespace overmesh::compose
