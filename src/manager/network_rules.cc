#include "manager/network_rules.h"

#include <cctype>

#include "common/quote.h"

namespace overmesh::manager {

Status validateObjectName(std::string_view kind, const std::string& name) {
  if (name.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{} name is required", kind);
  }
  if (name.size() > 63) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} name {} is {} characters long: at most 63 are allowed", kind, quote(name),
                  name.size());
  }
  auto isAlnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool valid = isAlnum(name.front());
  for (char c : name) {
    valid = valid && (isAlnum(c) || c == '_' || c == '.' || c == '-');
  }
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} name {} is not valid: use letters, digits, '_', '.' and '-', starting "
                  "with a letter or digit",
                  kind, quote(name));
  }
  return {};
}

Status validateNetworkCreate(const api::NetworkCreateRequest& request) {
  if (auto valid = validateObjectName("network", request.name); !valid) {
    return valid;
  }
  if (request.driver != "overlay") {
    return errorf(ErrorKind::InvalidArgument,
                  "network driver \"{}\" is not supported: overmesh networks use the \"overlay\" "
                  "driver (-d overlay)",
                  request.driver);
  }
  for (const auto& [key, value] : request.labels) {
    if (key.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "label \"={}\" has an empty key: labels are key=value", value);
    }
  }
  for (const auto& [key, value] : request.options) {
    return errorf(ErrorKind::InvalidArgument,
                  "network option \"{}={}\" is not supported by the overlay driver yet", key,
                  value);
  }
  if (request.gateway && !request.subnet) {
    return errorf(ErrorKind::InvalidArgument,
                  "gateway {} was given without a subnet: --gateway needs --subnet",
                  *request.gateway);
  }
  return {};
}

}  // namespace overmesh::manager
