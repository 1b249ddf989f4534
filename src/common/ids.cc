#include "common/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace overmesh {
namespace {

void fillRandom(unsigned char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t got = getrandom(out + done, size - done, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      // Without randomness no ID or secret can be made safely: a broken invariant.
      throw std::runtime_error("getrandom failed");
    }
    done += static_cast<std::size_t>(got);
  }
}

}  // namespace

std::string newObjectId() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char bytes[25];
  fillRandom(bytes, sizeof(bytes));
  std::string id;
  id.reserve(25);
  for (unsigned char byte : bytes) {
    id.push_back(kAlphabet[byte % 32]);
  }
  return id;
}

std::string newSecret(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  fillRandom(raw.data(), raw.size());
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char byte : raw) {
    hex += fmt::format("{:02x}", byte);
  }
  return hex;
}

std::string shortId(const std::string& id) { return id.substr(0, 12); }

std::int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string nowRfc3339() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace overmesh
