#include "compose/shell_words.h"

namespace overmesh::compose {

Result<std::vector<std::string>> splitShellWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  // A word exists once any character or quote pair is seen: `''` is an empty word.
  bool inWord = false;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (inWord) {
        words.push_back(std::move(word));
        word.clear();
        inWord = false;
      }
      ++i;
      continue;
    }
    inWord = true;
    if (c == '\\') {
      if (i + 1 >= text.size()) {
        return errorf(ErrorKind::InvalidArgument, "ends with a backslash that escapes nothing");
      }
      if (text[i + 1] != '\n') {
        word += text[i + 1];
      }
      i += 2;
      continue;
    }
    if (c == '\'') {
      std::size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return errorf(ErrorKind::InvalidArgument, "a single quote at offset {} is not closed", i);
      }
      word.append(text.substr(i + 1, close - i - 1));
      i = close + 1;
      continue;
    }
    if (c == '"') {
      std::size_t open = i;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char d = text[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < text.size()) {
          char next = text[i + 1];
          if (next == '$' || next == '`' || next == '"' || next == '\\') {
            word += next;
            i += 2;
            continue;
          }
          if (next == '\n') {
            i += 2;
            continue;
          }
        }
        word += d;
        ++i;
      }
      if (!closed) {
        return errorf(ErrorKind::InvalidArgument, "a double quote at offset {} is not closed",
                      open);
      }
      continue;
    }
    word += c;
    ++i;
  }
  if (inWord) {
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace overmesh::compose
