#pragma once

// UTF-8 validation for the compose loader: a compose file and every value substituted into
// it must be UTF-8 text, because the values end up in JSON requests (nlohmann's dump()
// throws on other bytes) and in `stack config`'s YAML.

#include <cstddef>
#include <string_view>

namespace overmesh::compose {

// The offset of the first byte that does not start a valid UTF-8 sequence (a stray
// continuation byte, a truncated or overlong sequence, a surrogate, a code point above
// U+10FFFF), or npos when `text` is valid UTF-8. NUL bytes count as invalid: no text here
// has a use for them.
std::size_t firstInvalidUtf8(std::string_view text);

}  // namespace overmesh::compose
