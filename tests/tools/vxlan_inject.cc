// vxlan_inject: sends one crafted VXLAN datagram, as an attacker on the underlay would, for
// the underlay filter's end-to-end test (tests/e2e/security/underlay_filter_test.cc). Run it
// inside a lab namespace (`overmesh lab exec c1 -- vxlan_inject …`); it sends from that
// namespace's own address through an ordinary UDP socket, so it needs no privileges.
//
//   vxlan_inject --to 198.18.0.2 --vni 4097 --mac 02:42:0a:00:0f:03 --ip 10.0.15.3
//                --port 9999 --payload INJECTED-1234 [--from-ip 10.0.15.250]
//                [--from-mac 02:00:00:00:00:fe] [--vxlan-port 4789]
//
// Exit status 0 when the datagram left the socket, 2 for bad arguments (the message names
// the flag), 1 when sending failed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "tools/vxlan_frame.h"

namespace {

using overmesh::Ipv4Address;
using overmesh::MacAddress;

int usage(const std::string& problem) {
  std::fprintf(stderr,
               "vxlan_inject: %s\nusage: vxlan_inject --to IP --vni N --mac MAC --ip IP --port N "
               "--payload TEXT [--from-ip IP] [--from-mac MAC] [--vxlan-port N]\n",
               problem.c_str());
  return 2;
}

std::optional<std::uint32_t> number(const std::string& text, std::uint32_t max) {
  std::uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {{"--from-ip", "10.255.255.250"},
                                              {"--from-mac", "02:00:00:00:00:fe"},
                                              {"--vxlan-port", "4789"}};
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) {
      return usage("\"" + flag + "\" is not a flag followed by its value");
    }
    flags[flag] = argv[i + 1];
  }
  for (const char* required : {"--to", "--vni", "--mac", "--ip", "--port", "--payload"}) {
    if (!flags.contains(required)) {
      return usage(std::string(required) + " is missing");
    }
  }
  auto to = Ipv4Address::parse(flags["--to"]);
  auto vni = number(flags["--vni"], 0xffffff);
  auto mac = MacAddress::parse(flags["--mac"]);
  auto ip = Ipv4Address::parse(flags["--ip"]);
  auto port = number(flags["--port"], 65535);
  auto fromIp = Ipv4Address::parse(flags["--from-ip"]);
  auto fromMac = MacAddress::parse(flags["--from-mac"]);
  auto vxlanPort = number(flags["--vxlan-port"], 65535);
  if (!to || !ip || !fromIp) {
    return usage("--to, --ip and --from-ip take an IPv4 address");
  }
  if (!mac || !fromMac) {
    return usage("--mac and --from-mac take a MAC address (02:42:0a:00:0f:03)");
  }
  if (!vni || !port || !vxlanPort) {
    return usage("--vni takes 0-16777215, --port and --vxlan-port 0-65535");
  }
  overmesh::testing::InnerUdpPacket inner{
      *fromMac, *mac, *fromIp, *ip, 40000, static_cast<std::uint16_t>(*port), flags["--payload"]};
  auto datagram = overmesh::testing::vxlanDatagram(*vni, inner);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "vxlan_inject: socket: %s\n", std::strerror(errno));
    return 1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(*vxlanPort));
  address.sin_addr.s_addr = htonl(to->value());
  ssize_t sent = sendto(fd, datagram.data(), datagram.size(), 0,
                        reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int sendErrno = errno;
  close(fd);
  if (sent != static_cast<ssize_t>(datagram.size())) {
    std::fprintf(stderr, "vxlan_inject: send to %s:%u: %s\n", flags["--to"].c_str(), *vxlanPort,
                 std::strerror(sendErrno));
    return 1;
  }
  std::printf("sent %zu bytes to %s:%u (VNI %u, inner %s -> %s:%u)\n", datagram.size(),
              flags["--to"].c_str(), *vxlanPort, *vni, flags["--from-ip"].c_str(),
              flags["--ip"].c_str(), *port);
  return 0;
}
