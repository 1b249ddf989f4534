// libFuzzer target for the embedded resolver's wire codec (src/dns/dns_message.h), which
// reads whatever a task sends to 127.0.0.11. The input is one message as it would arrive
// over UDP. parseQuery must never crash or read past the input; for a readable query every
// answer we would write must keep its promises: the client's ID, at most the size limit
// (else TC and no records), the question echoed. A broken promise aborts, which the fuzzer
// reports as a crash.
//
// Built like request_decoders_fuzz.cc: a real libFuzzer binary with clang
// (scripts/fuzz.sh 60 dns_message), the GCC stand-in driver as a unit test otherwise.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "dns/dns_directory.h"
#include "dns/dns_message.h"

namespace {

using namespace overmesh::dns;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::uint16_t read16(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  return static_cast<std::uint16_t>((bytes[at] << 8) | bytes[at + 1]);
}

const DnsDirectory& directory() {
  static const auto built = [] {
    overmesh::api::Network network;
    network.id = "n1";
    network.name = "front";
    overmesh::api::Service service;
    service.id = "s1";
    service.spec.name = "web";
    service.attachments.push_back({"n1", "front", {"www"}});
    service.vips.push_back({"n1", "10.0.0.2/24"});
    return DnsDirectory::build({network}, {service}, {}, {});
  }();
  return *built;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> message(data, size);
  std::array<char, 256> name{};
  DnsQuery query = parseQuery(message, name);
  std::vector<std::uint8_t> out;
  if (query.verdict == QueryVerdict::Drop) {
    return 0;
  }
  if (query.verdict != QueryVerdict::Ok) {
    writeError(query, Rcode::FormErr, out);
    check(out.size() >= kHeaderSize && read16(out, 0) == query.id);
    return 0;
  }
  check(query.name.size() < 256 && query.question.size() >= 5);
  check(query.question.data() >= data &&
        query.question.data() + query.question.size() <= data + size);

  static const std::vector<std::string> networks = {"n1"};
  SplitMixRandom random(size);
  std::vector<std::uint32_t> addresses;
  if (query.plainName) {
    directory().lookup(query.name, networks, random, addresses);
  }
  std::vector<std::uint32_t> many(1 + size % 200, 0x0a000001);
  for (std::size_t limit : {udpAnswerLimit(query), kMaxTcpSize}) {
    std::size_t written = writeAnswer(query, Rcode::NoError, many, 1, limit, out);
    check(written == out.size() && read16(out, 0) == query.id && read16(out, 4) == 1);
    bool truncated = (out[2] & 0x02) != 0;
    check(truncated ? read16(out, 6) == 0 : read16(out, 6) == many.size());
    check(truncated || written <= limit);
    check(std::equal(query.question.begin(), query.question.end(), out.begin() + kHeaderSize));
  }
  writeError(query, Rcode::ServFail, out);
  check(read16(out, 4) == 1 && (out[3] & 0x0f) == static_cast<int>(Rcode::ServFail));
  return 0;
}
