// A stand-in for libFuzzer's main when the compiler is GCC: runs LLVMFuzzerTestOneInput
// over every file of the seed corpus, then over a bounded number of random mutations of
// those seeds (byte flips, inserts, erases, splices, JSON-ish tokens), deterministically
// from --seed. A crash or abort fails the test; it has no coverage feedback, so it is a
// smoke test of the decoders, not a replacement for `scripts/fuzz.sh` under clang.
//
// Usage: fuzz_driver CORPUS_DIR [--runs N] [--seed S]

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

const std::vector<std::string> kTokens = {"{",
                                          "}",
                                          "[",
                                          "]",
                                          ",",
                                          ":",
                                          "\"",
                                          "null",
                                          "true",
                                          "1e300",
                                          "-1",
                                          "18446744073709551616",
                                          "\"command\"",
                                          "\"timeoutMs\"",
                                          "\"exitCode\"",
                                          "\"state\"",
                                          "\"name\"",
                                          "\"kvs\"",
                                          "\"events\"",
                                          "\"kv\"",
                                          "\"outBase64\"",
                                          "\"logsBase64\"",
                                          "\xce\x3b",
                                          "\xff",
                                          "\\u0000",
                                          "\\ud800",
                                          "%2F",
                                          "%FF",
                                          "/v1/tasks/",
                                          "{ref}",
                                          "=="};

std::string mutate(std::string input, std::mt19937_64& random,
                   const std::vector<std::string>& corpus) {
  auto below = [&](std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  for (std::size_t i = 0, n = below(6) + 1; i < n; ++i) {
    std::size_t at = below(input.size() + 1);
    switch (below(6)) {
      case 0:
        if (!input.empty()) {
          input[below(input.size())] = static_cast<char>(random() & 0xff);
        }
        break;
      case 1:
        input.insert(at, kTokens[below(kTokens.size())]);
        break;
      case 2:
        input.erase(at, below(8) + 1);
        break;
      case 3: {
        const std::string& other = corpus[below(corpus.size())];
        std::size_t from = below(other.size() + 1);
        input.insert(at, other.substr(from, below(64) + 1));
        break;
      }
      case 4:
        input.insert(at, std::string(below(64) + 1, static_cast<char>(random() & 0xff)));
        break;
      default:
        if (!input.empty()) {
          input[0] = static_cast<char>(random() & 0xff);  // another decoder
        }
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR [--runs N] [--seed S]\n";
    return 2;
  }
  long runs = 20000;
  std::uint64_t seed = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs") {
      runs = std::strtol(argv[i + 1], nullptr, 10);
    } else if (flag == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    }
  }
  std::vector<std::string> corpus;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
    std::ifstream file(entry.path(), std::ios::binary);
    std::stringstream content;
    content << file.rdbuf();
    corpus.push_back(content.str());
  }
  if (corpus.empty()) {
    std::cerr << "no seeds in " << argv[1] << "\n";
    return 2;
  }
  for (const auto& input : corpus) {
    run(input);
  }
  std::mt19937_64 random(seed);
  for (long i = 0; i < runs; ++i) {
    run(mutate(corpus[i % static_cast<long>(corpus.size())], random, corpus));
  }
  std::cout << "fuzz driver: " << corpus.size() << " seeds and " << runs << " mutations (seed "
            << seed << ") ran without a crash\n";
  return 0;
}
