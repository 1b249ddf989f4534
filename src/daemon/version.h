#pragma once

namespace overmesh::daemon {

inline constexpr const char* kVersion = "0.2.0";

}  // namespace overmesh::daemon
