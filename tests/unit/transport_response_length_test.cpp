// Content-Length and Content-Range read strictly (response_length.h): what
// a lying or careless server sends is refused, not read the lenient way.
#include <gtest/gtest.h>

#include "dlhost/transport/response_length.h"

using namespace dlhost::transport;

TEST(ContentLength, PlainDecimalsWithOptionalWhitespace) {
  EXPECT_EQ(parse_content_length("0"), 0u);
  EXPECT_EQ(parse_content_length("300000"), 300000u);
  EXPECT_EQ(parse_content_length(" \t42 "), 42u);
  EXPECT_EQ(parse_content_length("9007199254740992"), kMaxDeclaredLength);
}

TEST(ContentLength, AnythingElseIsRefused) {
  for (const char *bad : {"", " ", "-1", "+5", "12abc", "1.5", "0x10", "1 2", "5, 5",
                          "9007199254740993", "99999999999999999999999"})
    EXPECT_FALSE(parse_content_length(bad)) << bad;
}

TEST(ContentRange, ReadsFirstLastAndTotal) {
  auto r = parse_content_range("bytes 0-149999/300000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 149999u);
  EXPECT_EQ(r->total, 300000);
  r = parse_content_range("Bytes 100-199/*");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 100u);
  EXPECT_EQ(r->total, -1);
}

TEST(ContentRange, RefusesWhatCannotBeAPartOfTheFile) {
  for (const char *bad : {"", "bytes", "bytes */300", "bytes 5-3/10", "bytes 0-10/10",
                          "bytes 0-9/10x", "items 0-9/10", "bytes 0-/10", "bytes -9/10",
                          "bytes 0-9", "bytes 0 - 9/10", "bytes 0-9/9007199254740993"})
    EXPECT_FALSE(parse_content_range(bad)) << bad;
}

TEST(UnsatisfiedRange, ReadsTheTotalOfA416) {
  EXPECT_EQ(parse_unsatisfied_range("bytes */300000"), 300000u);
  EXPECT_FALSE(parse_unsatisfied_range("bytes 0-1/300000"));
  EXPECT_FALSE(parse_unsatisfied_range("bytes */"));
  EXPECT_FALSE(parse_unsatisfied_range("bytes */12x"));
}
