#include "dataplane/linux/conntrack.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <optional>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "dataplane/linux/netns.h"

namespace overmesh::dataplane::kernel {
namespace {

// CTA_FILTER_{ORIG,REPLY}_FLAGS bits: which tuple attributes a filtered flush compares.
// The kernel keeps them in net/netfilter/nf_internals.h, outside the uapi headers, but
// they are ABI (libnetfilter_conntrack sends the same values).
constexpr std::uint32_t kFilterIpSrc = 1u << 0;
constexpr std::uint32_t kFilterIpDst = 1u << 1;
constexpr std::uint32_t kFilterProtoNum = 1u << 3;
constexpr std::uint32_t kFilterProtoSrcPort = 1u << 4;

// A netlink message built in place: header, nfgenmsg, then attributes (nested ones
// closed by end()).
class Message {
 public:
  Message(std::uint16_t type, std::uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = 1;
    append(&header, sizeof(header));
    nfgenmsg family{};
    family.nfgen_family = AF_INET;
    // Version 1: the kernel then honours nfgen_family for the flush (version 0 means
    // "every family", the legacy flush-all).
    family.version = 1;
    append(&family, sizeof(family));
  }

  std::size_t begin(std::uint16_t type) {
    std::size_t at = bytes_.size();
    nlattr attr{0, static_cast<std::uint16_t>(type | NLA_F_NESTED)};
    append(&attr, sizeof(attr));
    return at;
  }
  void end(std::size_t at) {
    auto length = static_cast<std::uint16_t>(bytes_.size() - at);
    std::memcpy(bytes_.data() + at, &length, sizeof(length));
  }
  void put(std::uint16_t type, const void* data, std::size_t size) {
    nlattr attr{static_cast<std::uint16_t>(NLA_HDRLEN + size), type};
    append(&attr, sizeof(attr));
    append(data, size);
    bytes_.resize(NLA_ALIGN(bytes_.size()));
  }
  void putU8(std::uint16_t type, std::uint8_t value) { put(type, &value, sizeof(value)); }
  void putBe16(std::uint16_t type, std::uint16_t value) {
    std::uint16_t network = htons(value);
    put(type, &network, sizeof(network));
  }
  void putBe32(std::uint16_t type, std::uint32_t value) {
    std::uint32_t network = htonl(value);
    put(type, &network, sizeof(network));
  }

  std::vector<char>& finish() {
    auto length = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.data(), &length, sizeof(length));
    return bytes_;
  }

 private:
  void append(const void* data, std::size_t size) {
    const char* from = static_cast<const char*>(data);
    bytes_.insert(bytes_.end(), from, from + size);
  }

  std::vector<char> bytes_;
};

// A tuple with the attributes a filter compares: an address (when given), the protocol,
// and a source port (when given).
void putTuple(Message& message, std::uint16_t tupleType, std::uint16_t addressType,
              std::optional<Ipv4Address> address, std::uint8_t protocol,
              std::optional<std::uint16_t> sourcePort = std::nullopt) {
  auto tuple = message.begin(tupleType);
  if (address) {
    auto ip = message.begin(CTA_TUPLE_IP);
    message.putBe32(addressType, address->value());
    message.end(ip);
  }
  auto proto = message.begin(CTA_TUPLE_PROTO);
  message.putU8(CTA_PROTO_NUM, protocol);
  if (sourcePort) {
    message.putBe16(CTA_PROTO_SRC_PORT, *sourcePort);
  }
  message.end(proto);
  message.end(tuple);
}

// Sends `message` (a filtered delete) from inside the namespace and reads the kernel's ack.
Status sendFlush(int namespaceFd, std::string_view namespaceName, Message& message,
                 const std::string& what);

}  // namespace

Status deleteConntrackFlows(int namespaceFd, std::string_view namespaceName, Ipv4Address vip,
                            Ipv4Address backend, std::uint8_t protocol) {
  std::string what = fmt::format("conntrack: delete flows {} -> {} in namespace \"{}\"", vip,
                                 backend, namespaceName);
  Message message((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK);
  putTuple(message, CTA_TUPLE_ORIG, CTA_IP_V4_DST, vip, protocol);
  putTuple(message, CTA_TUPLE_REPLY, CTA_IP_V4_SRC, backend, protocol);
  auto filter = message.begin(CTA_FILTER);
  std::uint32_t origFlags = kFilterIpDst | kFilterProtoNum;
  std::uint32_t replyFlags = kFilterIpSrc | kFilterProtoNum;
  message.put(CTA_FILTER_ORIG_FLAGS, &origFlags, sizeof(origFlags));
  message.put(CTA_FILTER_REPLY_FLAGS, &replyFlags, sizeof(replyFlags));
  message.end(filter);
  return sendFlush(namespaceFd, namespaceName, message, what);
}

Status deleteConntrackFlowsFrom(int namespaceFd, std::string_view namespaceName,
                                Ipv4Address backend, std::uint16_t backendPort,
                                std::uint8_t protocol) {
  std::string what = fmt::format("conntrack: delete flows answered by {}:{} in namespace \"{}\"",
                                 backend, backendPort, namespaceName);
  Message message((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK);
  putTuple(message, CTA_TUPLE_ORIG, CTA_IP_V4_DST, std::nullopt, protocol);
  putTuple(message, CTA_TUPLE_REPLY, CTA_IP_V4_SRC, backend, protocol, backendPort);
  auto filter = message.begin(CTA_FILTER);
  std::uint32_t origFlags = kFilterProtoNum;
  std::uint32_t replyFlags = kFilterIpSrc | kFilterProtoNum | kFilterProtoSrcPort;
  message.put(CTA_FILTER_ORIG_FLAGS, &origFlags, sizeof(origFlags));
  message.put(CTA_FILTER_REPLY_FLAGS, &replyFlags, sizeof(replyFlags));
  message.end(filter);
  return sendFlush(namespaceFd, namespaceName, message, what);
}

namespace {

Status sendFlush(int namespaceFd, std::string_view namespaceName, Message& message,
                 const std::string& what) {
  UniqueFd sock;
  {
    auto inside = NamespaceSwitch::enter(namespaceFd, namespaceName);
    if (!inside) {
      return std::unexpected(inside.error().withContext(what));
    }
    sock = UniqueFd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  }
  if (!sock.valid()) {
    return errorf(ErrorKind::Unavailable, "{}: open a netfilter socket: {}", what,
                  errnoText(errno));
  }
  auto& bytes = message.finish();

  sockaddr_nl kernelAddress{};
  kernelAddress.nl_family = AF_NETLINK;
  if (sendto(sock.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernelAddress),
             sizeof(kernelAddress)) < 0) {
    return errorf(ErrorKind::Unavailable, "{}: send: {}", what, errnoText(errno));
  }
  // The answer is one ack (nlmsgerr, error 0) or an error. Bounded wait: the kernel
  // answers synchronously, the timeout only guards against a lost socket.
  timeval timeout{5, 0};
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::array<char, 4096> answer{};
  ssize_t got = recv(sock.get(), answer.data(), answer.size(), 0);
  if (got < 0) {
    return errorf(ErrorKind::Unavailable, "{}: receive the answer: {}", what, errnoText(errno));
  }
  auto length = static_cast<std::size_t>(got);
  if (length < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
    return errorf(ErrorKind::Unavailable, "{}: short answer ({} bytes)", what, length);
  }
  nlmsghdr header{};
  std::memcpy(&header, answer.data(), sizeof(header));
  if (header.nlmsg_type != NLMSG_ERROR) {
    return errorf(ErrorKind::Unavailable, "{}: unexpected answer type {}", what, header.nlmsg_type);
  }
  nlmsgerr error{};
  std::memcpy(&error, answer.data() + NLMSG_HDRLEN, sizeof(error));
  // ENOENT: nothing matched, which is what we want.
  if (error.error != 0 && error.error != -ENOENT) {
    return errorf(ErrorKind::Unavailable, "{}: {}", what, errnoText(-error.error));
  }
  return {};
}

}  // namespace

}  // namespace overmesh::dataplane::kernel
