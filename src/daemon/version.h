#pragma once

namespace overmesh::daemon {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace overmesh::daemon
