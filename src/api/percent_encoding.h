#pragma once

// Percent-encoding (RFC 3986) of one path segment or query word: what the CLI does to a
// user's reference before it goes into a URL path, what a worker does to the query it
// forwards to the manager, and what the server undoes after splitting the path. A name
// may hold any byte ('/', spaces, control characters): libcurl refuses such a URL, and
// an unescaped '/' would split one segment into two.

#include <string>
#include <string_view>

namespace overmesh::api {

// Keeps A-Z a-z 0-9 - _ . ~ and turns every other byte into %HH.
std::string percentEncode(std::string_view text);

// Turns %HH back into its byte; a '%' not followed by two hex digits is kept as it is.
std::string percentDecode(std::string_view text);

}  // namespace overmesh::api
