#include "runtime/podman/log_stream.h"

#include <algorithm>
#include <cstdint>

namespace overmesh::runtime::podman {

DemuxedOutput demuxLogStream(std::string_view stream, std::size_t maxBytes) {
  constexpr std::size_t kHeader = 8;
  DemuxedOutput output;
  std::size_t at = 0;
  while (at < stream.size()) {
    if (stream.size() - at < kHeader) {
      output.truncated = true;
      break;
    }
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(stream[at + i]); };
    std::uint8_t kind = byte(0);
    std::size_t length = (std::size_t{byte(4)} << 24) | (std::size_t{byte(5)} << 16) |
                         (std::size_t{byte(6)} << 8) | std::size_t{byte(7)};
    at += kHeader;
    if ((kind != 1 && kind != 2) || length > stream.size() - at) {
      output.truncated = true;
      break;
    }
    std::string& target = kind == 1 ? output.out : output.err;
    std::size_t room = maxBytes > target.size() ? maxBytes - target.size() : 0;
    if (length > room) {
      output.truncated = true;
    }
    target.append(stream.substr(at, std::min(length, room)));
    std::size_t bothRoom = maxBytes > output.both.size() ? maxBytes - output.both.size() : 0;
    output.both.append(stream.substr(at, std::min(length, bothRoom)));
    at += length;
  }
  return output;
}

}  // namespace overmesh::runtime::podman
