#include "common/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>

#include "common/quote.h"

// The transform is OpenSSL's (EVP_EncodeBlock / EVP_DecodeBlock; libcrypto is linked for
// SHA-256 already). EVP_DecodeBlock is lenient where a wire format must not be: it trims
// whitespace, skips '=' anywhere at the end, and counts padding as decoded zero bytes. So
// decoding checks the shape first and drops the padding's bytes itself.

namespace overmesh {
namespace {

// EVP_*Block take an int length: work in chunks well below INT_MAX (multiples of 3 bytes
// in, 4 characters out, so that chunks concatenate).
constexpr std::size_t kEncodeChunk = 3 * 1024 * 1024;
constexpr std::size_t kDecodeChunk = 4 * 1024 * 1024;

bool isBase64Character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

const unsigned char* bytesOf(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + EVP_EncodeBlock's NUL
  std::size_t written = 0;
  for (std::size_t i = 0; i < bytes.size(); i += kEncodeChunk) {
    std::string_view chunk = bytes.substr(i, kEncodeChunk);
    written += static_cast<std::size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written), bytesOf(chunk),
                        static_cast<int>(chunk.size())));
  }
  out.resize(written);
  return out;
}

Result<std::string> base64Decode(std::string_view text, std::string_view what) {
  auto invalid = [&](std::string_view why) {
    return errorf(ErrorKind::InvalidArgument, "{}: {} is not valid base64 ({})", what, quote(text),
                  why);
  };
  if (text.size() % 4 != 0) {
    return invalid("its length is not a multiple of 4");
  }
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding),
                   isBase64Character)) {
    return invalid("a character outside the base64 alphabet");
  }
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t written = 0;
  for (std::size_t i = 0; i < text.size(); i += kDecodeChunk) {
    std::string_view chunk = text.substr(i, kDecodeChunk);
    int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                  bytesOf(chunk), static_cast<int>(chunk.size()));
    if (decoded < 0) {
      return invalid("rejected by the decoder");
    }
    written += static_cast<std::size_t>(decoded);
  }
  out.resize(written - padding);  // the decoder counts each '=' as a zero byte
  return out;
}

}  // namespace overmesh
