#pragma once

// Base64 (RFC 4648, standard alphabet, with padding): how task output, which is bytes
// and not text, travels inside JSON (a JSON string must be UTF-8).

#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh {

std::string base64Encode(std::string_view bytes);

// Fails with InvalidArgument naming `what` when `text` is not padded standard base64.
Result<std::string> base64Decode(std::string_view text, std::string_view what);

}  // namespace overmesh
