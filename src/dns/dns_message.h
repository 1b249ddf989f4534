#pragma once

// The DNS wire format, as much of it as the embedded resolver needs (RFC 1035, EDNS0 from
// RFC 6891): read one query, write the answers we give, patch the ID of a forwarded
// message. Written here rather than through libldns because the hot path must not
// allocate per query (ldns builds a tree of heap objects for every packet and every name),
// and the resolver targets 100k queries/s on one core. The parser reads untrusted bytes:
// it checks every length against the buffer, follows no compression pointers (a question
// never needs one), and is fuzzed (tests/fuzz/dns_message_fuzz.cc); the unit tests check
// what it writes against libldns's own parser.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace overmesh::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::uint16_t kTypeA = 1;
inline constexpr std::uint16_t kTypeAaaa = 28;
inline constexpr std::uint16_t kTypeOpt = 41;
inline constexpr std::uint16_t kClassIn = 1;
// The largest UDP answer without EDNS (RFC 1035).
inline constexpr std::size_t kClassicUdpSize = 512;
// The largest UDP answer we send even when a client offers more: 1232 bytes fit any
// overlay MTU without IP fragmentation (the DNS flag day 2020 figure).
inline constexpr std::size_t kMaxUdpSize = 1232;
// A DNS message over TCP is framed by a 16-bit length.
inline constexpr std::size_t kMaxTcpSize = 65535;

enum class Rcode : std::uint8_t {
  NoError = 0,
  FormErr = 1,
  ServFail = 2,
  NxDomain = 3,
  NotImp = 4,
  Refused = 5,
};

// What parseQuery makes of a message.
enum class QueryVerdict {
  Ok,       // a standard query with one question: answer or forward it
  FormErr,  // a query we cannot read past the header: answer FORMERR (ID echoed)
  NotImp,   // an opcode other than QUERY: answer NOTIMP
  Drop,     // not worth an answer (shorter than a header, or a response): send nothing
};

struct DnsQuery {
  QueryVerdict verdict = QueryVerdict::Drop;
  std::uint16_t id = 0;
  bool recursionDesired = false;
  std::uint8_t opcode = 0;
  // The question name in presentation form without the trailing dot ("web.frontend"), as
  // the client wrote it (case kept); "" for the root. Only meaningful when plainName.
  std::string_view name;
  // False when a label holds a byte that cannot appear in a name we serve ('.', a space,
  // a control or non-ASCII byte): such a query is never answered from the directory.
  bool plainName = false;
  std::uint16_t type = 0;
  std::uint16_t qclass = 0;
  // The question section's bytes (name, type, class), echoed in every answer.
  std::span<const std::uint8_t> question;
  // EDNS: present when the query carries an OPT record; udpSize is what the client accepts
  // (at least 512).
  bool edns = false;
  std::uint16_t udpSize = kClassicUdpSize;
};

// Reads `message`. `nameBuffer` (at least 256 bytes) receives the presentation name that
// query.name points to. Never throws, never reads past `message`, O(message size).
DnsQuery parseQuery(std::span<const std::uint8_t> message, std::span<char> nameBuffer);

// The largest answer for a query over UDP: 512 without EDNS, else the client's size capped
// at kMaxUdpSize.
std::size_t udpAnswerLimit(const DnsQuery& query);

// Writes the answer to `query` into `out` (replacing its contents): the question echoed,
// one A record per address (host-order values) with `ttl`, AA and RA set, RD copied, an OPT
// record when the query had one. When it would exceed `limit` bytes the answer section is
// left empty and TC set, so the client retries over TCP. Returns the size written.
// `query.verdict` must be Ok (use writeError otherwise).
std::size_t writeAnswer(const DnsQuery& query, Rcode rcode,
                        std::span<const std::uint32_t> addresses, std::uint32_t ttl,
                        std::size_t limit, std::vector<std::uint8_t>& out);

// Writes an answer with no records and `rcode` (FORMERR, NOTIMP, SERVFAIL, NXDOMAIN…):
// the question is echoed when the query's question could be read, else QDCOUNT is 0.
std::size_t writeError(const DnsQuery& query, Rcode rcode, std::vector<std::uint8_t>& out);

// The ID of a message (0 when shorter than 2 bytes), and a copy-free way to change it, for
// forwarding: the upstream sees our ID, the client gets its own back.
std::uint16_t messageId(std::span<const std::uint8_t> message);
void setMessageId(std::span<std::uint8_t> message, std::uint16_t id);

// True when `message` is a response (QR set) at least a header long.
bool isResponse(std::span<const std::uint8_t> message);

}  // namespace overmesh::dns
