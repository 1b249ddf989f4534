#pragma once

// The building blocks of the compose schema (project_builder.h): every error in the one
// format "<file>:<line>: <key path>: <what is wrong>: <what is valid>", the check that a
// mapping holds only known keys (with a "did you mean"), and readers for the scalar types
// compose files use. A reader never throws; it fails with InvalidArgument naming the key
// path and the value as written.
//
// Scalars are read from their text whether or not they were quoted: after interpolation
// every substituted value is a string, and compose accepts "true" and "3" there.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "compose/project.h"
#include "compose/value.h"

namespace overmesh::compose {

// "services" + "web" → "services.web"; "ports" + 1 → "ports[1]". Key text is made
// printable (a key may hold any bytes) so that the message stays valid text.
std::string childPath(const std::string& path, std::string_view key);
std::string indexPath(const std::string& path, std::size_t index);

// The error for `at` (its mark gives file and line): InvalidArgument
// "<file>:<line>: <path>: <problem>: <valid>". A value without a file (made by a program)
// is named by its path only.
std::unexpected<Error> schemaError(const Value& at, const std::string& path,
                                   std::string_view problem, std::string_view valid);

// Whether `key` is an extension field ("x-…"), ignored wherever a mapping allows keys.
bool isExtensionKey(std::string_view key);

// `value` must be a mapping (or null: an empty one). Its keys must be in `known` (sorted)
// or extension keys. Fails on the first unknown key, in file order, with the keys valid
// there and the closest known key within two edits. `what` names the mapping for the
// "expected a mapping" error ("a service", "deploy").
Status checkMapping(const Value& value, const std::string& path,
                    std::span<const std::string_view> known, std::string_view what);

// The known key closest to `key` (Levenshtein distance ≤ 2), or "" when none is close.
std::string closestKey(std::string_view key, std::span<const std::string_view> known);

// "a, b, c" of the keys.
std::string joinKeys(std::span<const std::string_view> keys);

// A scalar as text. Null ("key:" with nothing) and lists/mappings are refused; `valid`
// says what to write instead ("an image reference").
Result<std::string> readString(const Value& value, const std::string& path, std::string_view valid);

// YAML 1.1's boolean words compose accepts, in any case: true/false, yes/no, on/off.
Result<bool> readBool(const Value& value, const std::string& path);
// Whether `text` is one of those words; sets `out`.
bool boolWord(std::string_view text, bool& out);

// A whole number in [min, max] ("1.5", "3x", "", out of range: refused).
Result<std::int64_t> readWhole(const Value& value, const std::string& path, std::int64_t min,
                               std::int64_t max);

// A Go duration ("1m30s", "500ms", "0") in whole milliseconds, via parseDuration. A bare
// number other than 0 is refused as compose v3 does.
Result<std::int64_t> readDurationMs(const Value& value, const std::string& path);

// One of `choices`; the error lists them.
Result<std::string> readChoice(const Value& value, const std::string& path,
                               std::span<const std::string_view> choices);

// A list of strings (a single string is refused unless `allowSingle`: then it is a list
// of one).
Result<std::vector<std::string>> readStringList(const Value& value, const std::string& path,
                                                bool allowSingle);

// compose's "list_or_dict" for labels and deploy.labels: a mapping of key → scalar/null
// (null → ""), or a list of "K=V" / "K" (→ ""). A duplicate key in the list form is
// refused. Unquoted YAML booleans become "true"/"false" as compose writes them.
Result<StringMap> readLabels(const Value& value, const std::string& path);

// Keys of services, networks and volumes: a letter or digit, then letters, digits, '_',
// '.', '-'.
Status checkName(const Value& keyValue, const std::string& path, std::string_view what);

}  // namespace overmesh::compose
