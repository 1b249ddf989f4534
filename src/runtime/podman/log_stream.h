#pragma once

// Podman's (and Docker's) multiplexed log and attach stream, as the REST API sends it for
// a container without a TTY: frames of an 8-byte header (stream: 1 stdout, 2 stderr;
// 3 bytes zero; a 32-bit big-endian length) followed by that many bytes. Untrusted input:
// a frame that claims more than is there, or an unknown stream, ends the parse with what
// was read so far, and the output is capped.

#include <cstddef>
#include <string>
#include <string_view>

namespace overmesh::runtime::podman {

struct DemuxedOutput {
  std::string out;
  std::string err;
  std::string both;        // stdout and stderr interleaved as written
  bool truncated = false;  // a malformed frame or the cap ended the parse early
};

// Splits `stream` into stdout and stderr, keeping at most `maxBytes` of each (and of
// `both`).
DemuxedOutput demuxLogStream(std::string_view stream, std::size_t maxBytes);

}  // namespace overmesh::runtime::podman
