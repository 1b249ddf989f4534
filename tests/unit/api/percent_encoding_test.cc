#include "api/percent_encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace overmesh::api {
namespace {

TEST(PercentEncodingTest, KeepsUnreservedBytesAndEscapesEveryOther) {
  EXPECT_EQ(percentEncode("web-1_a.b~c"), "web-1_a.b~c");
  EXPECT_EQ(percentEncode("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(percentEncode(std::string("\x00\xff%", 3)), "%00%FF%25");
}

TEST(PercentEncodingTest, DecodingUndoesEncodingForEveryByte) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) {
    all.push_back(static_cast<char>(byte));
  }
  EXPECT_EQ(percentDecode(percentEncode(all)), all);
}

TEST(PercentEncodingTest, APercentWithoutTwoHexDigitsIsKept) {
  EXPECT_EQ(percentDecode("100%"), "100%");
  EXPECT_EQ(percentDecode("%4"), "%4");
  EXPECT_EQ(percentDecode("%zz%41"), "%zzA");
  EXPECT_EQ(percentDecode("%2f%2F"), "//");
}

}  // namespace
}  // namespace overmesh::api
