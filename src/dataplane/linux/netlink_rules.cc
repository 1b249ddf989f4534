// Netlink: IPv4 policy rules whose action is a table lookup (RTM_NEWRULE / RTM_DELRULE /
// RTM_GETRULE), as raw messages like the routes: one fib_rule_hdr and the FRA_* attributes
// `ip rule` sends.

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <algorithm>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netlink_internal.h"

namespace overmesh::dataplane::kernel {

using netlink_internal::kindOf;
using netlink_internal::MsgPtr;
using netlink_internal::newRequest;

namespace {

constexpr std::uint32_t kAllMarkBits = 0xffffffff;

// A request of `type` for `rule`; null when out of memory.
MsgPtr ruleRequest(int type, int flags, const PolicyRule& rule) {
  fib_rule_hdr header{};
  header.family = AF_INET;
  header.action = FR_ACT_TO_TBL;
  header.table = rule.table < 256 ? static_cast<unsigned char>(rule.table)
                                  : static_cast<unsigned char>(RT_TABLE_UNSPEC);
  MsgPtr msg = newRequest(type, flags, header);
  if (!msg || nla_put_u32(msg.get(), FRA_TABLE, rule.table) < 0 ||
      nla_put_u32(msg.get(), FRA_PRIORITY, rule.priority) < 0) {
    return nullptr;
  }
  if (rule.fwmark != 0 && (nla_put_u32(msg.get(), FRA_FWMARK, rule.fwmark) < 0 ||
                           nla_put_u32(msg.get(), FRA_FWMASK, kAllMarkBits) < 0)) {
    return nullptr;
  }
  if (rule.ipProtocol != 0 && nla_put_u8(msg.get(), FRA_IP_PROTO, rule.ipProtocol) < 0) {
    return nullptr;
  }
  if (rule.sourcePort != 0) {
    fib_rule_port_range range{rule.sourcePort, rule.sourcePort};
    if (nla_put(msg.get(), FRA_SPORT_RANGE, sizeof(range), &range) < 0) {
      return nullptr;
    }
  }
  if (rule.suppressPrefixLength >= 0 &&
      nla_put_u32(msg.get(), FRA_SUPPRESS_PREFIXLEN,
                  static_cast<std::uint32_t>(rule.suppressPrefixLength)) < 0) {
    return nullptr;
  }
  return msg;
}

std::string describe(const PolicyRule& rule) {
  std::string text = fmt::format("priority {}", rule.priority);
  if (rule.fwmark != 0) {
    text += fmt::format(" fwmark {:#x}", rule.fwmark);
  }
  if (rule.ipProtocol != 0) {
    text += fmt::format(" ipproto {}", rule.ipProtocol);
  }
  if (rule.sourcePort != 0) {
    text += fmt::format(" sport {}", rule.sourcePort);
  }
  text += fmt::format(" lookup {}", rule.table);
  if (rule.suppressPrefixLength >= 0) {
    text += fmt::format(" suppress_prefixlength {}", rule.suppressPrefixLength);
  }
  return text;
}

}  // namespace

Status Netlink::addRule(const PolicyRule& rule) {
  if (rule.table == 0 || rule.table == RT_TABLE_LOCAL) {
    return errorf(ErrorKind::InvalidArgument,
                  "add rule \"{}\" in {}: table {} cannot be looked up by a rule of ours",
                  describe(rule), where(), rule.table);
  }
  // NLM_F_EXCL: without it the kernel adds an identical rule again.
  MsgPtr msg = ruleRequest(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule);
  if (!msg) {
    return std::unexpected(error(-NLE_NOMEM, "add rule", describe(rule)));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    if (kindOf(err) == ErrorKind::Conflict) {
      return {};
    }
    return std::unexpected(error(err, "add rule", describe(rule)));
  }
  return {};
}

Status Netlink::deleteRule(const PolicyRule& rule) {
  MsgPtr msg = ruleRequest(RTM_DELRULE, 0, rule);
  if (!msg) {
    return std::unexpected(error(-NLE_NOMEM, "delete rule", describe(rule)));
  }
  if (int err = sendRequest(msg.get()); err < 0) {
    // ENOENT: no such rule.
    if (kindOf(err) == ErrorKind::NotFound) {
      return {};
    }
    return std::unexpected(error(err, "delete rule", describe(rule)));
  }
  return {};
}

Result<std::vector<PolicyRule>> Netlink::listRules() {
  std::vector<PolicyRule> rules;
  fib_rule_hdr request{};
  request.family = AF_INET;
  auto onMessage = [&](nlmsghdr* header) {
    if (header->nlmsg_type != RTM_NEWRULE) {
      return;
    }
    const auto* message = static_cast<const fib_rule_hdr*>(nlmsg_data(header));
    if (message->family != AF_INET || message->action != FR_ACT_TO_TBL) {
      return;
    }
    nlattr* attributes[FRA_MAX + 1] = {};
    if (nlmsg_parse(header, sizeof(fib_rule_hdr), attributes, FRA_MAX, nullptr) < 0) {
      return;
    }
    PolicyRule rule;
    rule.priority = attributes[FRA_PRIORITY] != nullptr ? nla_get_u32(attributes[FRA_PRIORITY]) : 0;
    rule.table =
        attributes[FRA_TABLE] != nullptr ? nla_get_u32(attributes[FRA_TABLE]) : message->table;
    rule.fwmark = attributes[FRA_FWMARK] != nullptr ? nla_get_u32(attributes[FRA_FWMARK]) : 0;
    rule.ipProtocol =
        attributes[FRA_IP_PROTO] != nullptr ? nla_get_u8(attributes[FRA_IP_PROTO]) : 0;
    if (attributes[FRA_SPORT_RANGE] != nullptr &&
        nla_len(attributes[FRA_SPORT_RANGE]) == static_cast<int>(sizeof(fib_rule_port_range))) {
      fib_rule_port_range range{};
      std::memcpy(&range, nla_data(attributes[FRA_SPORT_RANGE]), sizeof(range));
      rule.sourcePort = range.start == range.end ? range.start : 0;
    }
    if (attributes[FRA_SUPPRESS_PREFIXLEN] != nullptr) {
      auto length = static_cast<std::int32_t>(nla_get_u32(attributes[FRA_SUPPRESS_PREFIXLEN]));
      rule.suppressPrefixLength = length < 0 ? -1 : length;
    }
    rules.push_back(rule);
  };
  if (int err =
          dump(RTM_GETRULE, &request, sizeof(request), onMessage, [&rules] { rules.clear(); });
      err < 0) {
    return std::unexpected(error(err, "list rules of", "IPv4"));
  }
  std::sort(rules.begin(), rules.end());
  return rules;
}

}  // namespace overmesh::dataplane::kernel
