#include "dns/dns_message.h"

#include <algorithm>

namespace overmesh::dns {

namespace {

constexpr std::size_t kMaxWireName = 255;
constexpr std::size_t kRecordFixedSize = 10;                    // type, class, ttl, rdlength
constexpr std::size_t kARecordSize = 2 + kRecordFixedSize + 4;  // pointer to the question name
constexpr std::size_t kOptRecordSize = 1 + kRecordFixedSize;
constexpr std::uint16_t kFlagResponse = 0x8000;
constexpr std::uint16_t kFlagAuthoritative = 0x0400;
constexpr std::uint16_t kFlagTruncated = 0x0200;
constexpr std::uint16_t kFlagRecursionDesired = 0x0100;
constexpr std::uint16_t kFlagRecursionAvailable = 0x0080;

std::uint16_t read16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

void write16(std::uint8_t* at, std::uint16_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value);
}

void write32(std::uint8_t* at, std::uint32_t value) {
  write16(at, static_cast<std::uint16_t>(value >> 16));
  write16(at + 2, static_cast<std::uint16_t>(value));
}

bool plainNameByte(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Skips a name anywhere in the message (compression allowed: answers from other
// software may use it). Returns the offset after it, or 0 when it runs off the end.
std::size_t skipName(std::span<const std::uint8_t> message, std::size_t at) {
  for (std::size_t labels = 0; labels < 128; ++labels) {
    if (at >= message.size()) {
      return 0;
    }
    std::uint8_t length = message[at];
    if ((length & 0xc0) == 0xc0) {
      return at + 2 <= message.size() ? at + 2 : 0;
    }
    if ((length & 0xc0) != 0) {
      return 0;
    }
    if (length == 0) {
      return at + 1;
    }
    at += 1 + length;
  }
  return 0;
}

// Writes the header of an answer to `query`.
void writeHeader(std::uint8_t* at, const DnsQuery& query, Rcode rcode, bool truncated,
                 std::uint16_t questions, std::uint16_t answers, bool opt) {
  std::uint16_t flags = kFlagResponse | kFlagAuthoritative | kFlagRecursionAvailable |
                        static_cast<std::uint16_t>((query.opcode & 0x0f) << 11) |
                        static_cast<std::uint16_t>(rcode);
  if (query.recursionDesired) {
    flags |= kFlagRecursionDesired;
  }
  if (truncated) {
    flags |= kFlagTruncated;
  }
  write16(at, query.id);
  write16(at + 2, flags);
  write16(at + 4, questions);
  write16(at + 6, answers);
  write16(at + 8, 0);
  write16(at + 10, opt ? 1 : 0);
}

// An OPT record announcing the UDP size we accept, no flags, no options.
void writeOpt(std::uint8_t* at) {
  at[0] = 0;
  write16(at + 1, kTypeOpt);
  write16(at + 3, static_cast<std::uint16_t>(kMaxUdpSize));
  write32(at + 5, 0);
  write16(at + 9, 0);
}

}  // namespace

DnsQuery parseQuery(std::span<const std::uint8_t> message, std::span<char> nameBuffer) {
  DnsQuery query;
  if (message.size() < kHeaderSize) {
    return query;
  }
  std::uint16_t flags = read16(message, 2);
  if ((flags & kFlagResponse) != 0) {
    return query;
  }
  query.id = read16(message, 0);
  query.recursionDesired = (flags & kFlagRecursionDesired) != 0;
  query.opcode = static_cast<std::uint8_t>((flags >> 11) & 0x0f);
  if (query.opcode != 0) {
    query.verdict = QueryVerdict::NotImp;
    return query;
  }
  query.verdict = QueryVerdict::FormErr;
  if (read16(message, 4) != 1 || nameBuffer.size() < kMaxWireName) {
    return query;
  }

  // The question name: plain labels only, no compression pointer.
  std::size_t at = kHeaderSize;
  std::size_t written = 0;
  bool plain = true;
  while (true) {
    if (at >= message.size()) {
      return query;
    }
    std::uint8_t length = message[at];
    if (length == 0) {
      ++at;
      break;
    }
    if ((length & 0xc0) != 0 || at + 1 + length > message.size() ||
        at + 1 + length - kHeaderSize >= kMaxWireName) {
      return query;
    }
    if (written != 0) {
      nameBuffer[written++] = '.';
    }
    for (std::size_t i = 0; i < length; ++i) {
      std::uint8_t c = message[at + 1 + i];
      plain = plain && plainNameByte(c);
      nameBuffer[written++] = static_cast<char>(c);
    }
    at += 1 + length;
  }
  if (at + 4 > message.size()) {
    return query;
  }
  query.name = std::string_view(nameBuffer.data(), written);
  query.plainName = plain;
  query.type = read16(message, at);
  query.qclass = read16(message, at + 2);
  query.question = message.subspan(kHeaderSize, at + 4 - kHeaderSize);
  at += 4;

  // Answer and authority records (a query should have none) are skipped; the additional
  // section may hold one OPT record.
  std::size_t others = static_cast<std::size_t>(read16(message, 6)) + read16(message, 8);
  std::size_t additional = read16(message, 10);
  for (std::size_t i = 0; i < others + additional; ++i) {
    std::size_t nameStart = at;
    at = skipName(message, at);
    if (at == 0 || at + kRecordFixedSize > message.size()) {
      return query;
    }
    std::uint16_t type = read16(message, at);
    std::uint16_t rdlength = read16(message, at + 8);
    if (i >= others && type == kTypeOpt) {
      if (query.edns || at != nameStart + 1) {  // a second OPT, or one not owned by the root
        return query;
      }
      query.edns = true;
      query.udpSize = std::max<std::uint16_t>(read16(message, at + 2), kClassicUdpSize);
    }
    at += kRecordFixedSize + rdlength;
    if (at > message.size()) {
      return query;
    }
  }
  query.verdict = QueryVerdict::Ok;
  return query;
}

std::size_t udpAnswerLimit(const DnsQuery& query) {
  if (!query.edns) {
    return kClassicUdpSize;
  }
  return std::min<std::size_t>(query.udpSize, kMaxUdpSize);
}

std::size_t writeAnswer(const DnsQuery& query, Rcode rcode,
                        std::span<const std::uint32_t> addresses, std::uint32_t ttl,
                        std::size_t limit, std::vector<std::uint8_t>& out) {
  std::size_t fixed = kHeaderSize + query.question.size() + (query.edns ? kOptRecordSize : 0);
  std::size_t count = addresses.size();
  bool truncated = false;
  if (fixed + count * kARecordSize > std::min(limit, kMaxTcpSize) || count > 0xffff) {
    truncated = true;
    count = 0;
  }
  std::size_t size = fixed + count * kARecordSize;
  out.resize(size);
  std::uint8_t* at = out.data();
  writeHeader(at, query, rcode, truncated, 1, static_cast<std::uint16_t>(count), query.edns);
  at += kHeaderSize;
  std::copy(query.question.begin(), query.question.end(), at);
  at += query.question.size();
  for (std::size_t i = 0; i < count; ++i) {
    write16(at, 0xc000 | kHeaderSize);  // the name: a pointer to the question's
    write16(at + 2, kTypeA);
    write16(at + 4, kClassIn);
    write32(at + 6, ttl);
    write16(at + 10, 4);
    write32(at + 12, addresses[i]);
    at += kARecordSize;
  }
  if (query.edns) {
    writeOpt(at);
  }
  return size;
}

std::size_t writeError(const DnsQuery& query, Rcode rcode, std::vector<std::uint8_t>& out) {
  std::size_t size = kHeaderSize + query.question.size() + (query.edns ? kOptRecordSize : 0);
  out.resize(size);
  std::uint8_t* at = out.data();
  writeHeader(at, query, rcode, false, query.question.empty() ? 0 : 1, 0, query.edns);
  at += kHeaderSize;
  std::copy(query.question.begin(), query.question.end(), at);
  at += query.question.size();
  if (query.edns) {
    writeOpt(at);
  }
  return size;
}

std::uint16_t messageId(std::span<const std::uint8_t> message) {
  return message.size() < 2 ? 0 : read16(message, 0);
}

void setMessageId(std::span<std::uint8_t> message, std::uint16_t id) {
  if (message.size() >= 2) {
    write16(message.data(), id);
  }
}

bool isResponse(std::span<const std::uint8_t> message) {
  return message.size() >= kHeaderSize && (message[2] & 0x80) != 0;
}

}  // namespace overmesh::dns
