#include "dataplane/gateway_nat.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace overmesh::dataplane {

bool isPlainDeviceName(std::string_view name) {
  if (name.empty() || name.size() > 15) {
    return false;
  }
  for (char c : name) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
    if (!plain) {
      return false;
    }
  }
  return true;
}

std::string gatewayNatRuleset(const Ipv4Prefix& gatewaySubnet, std::string_view bridgeName) {
  if (!isPlainDeviceName(bridgeName)) {
    std::fprintf(stderr, "fatal: gatewayNatRuleset: \"%.*s\" is not a valid bridge name\n",
                 static_cast<int>(bridgeName.size()), bridgeName.data());
    std::abort();
  }
  // The first line makes the delete valid when the table does not exist yet; the three
  // lines are one batch, so the old table stays in place until the new one is complete.
  return fmt::format(
      "table {family} {table} {{}}\n"
      "delete table {family} {table}\n"
      "table {family} {table} {{\n"
      "  chain postrouting {{\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr {subnet} oifname != \"{bridge}\" masquerade;\n"
      "  }}\n"
      "  chain forward {{\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"{bridge}\" oifname \"{bridge}\" drop;\n"
      "  }}\n"
      "}}\n",
      fmt::arg("family", kGatewayNatFamily), fmt::arg("table", kGatewayNatTable),
      fmt::arg("subnet", gatewaySubnet.masked()), fmt::arg("bridge", bridgeName));
}

}  // namespace overmesh::dataplane
