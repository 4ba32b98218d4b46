// util/text.h: the text helpers every part of dlhost reads input with.
#include "dlhost/util/text.h"

#include <gtest/gtest.h>

namespace {

using namespace dlhost::util;

TEST(Text, TrimDropsSpaceTabCrLfAtBothEndsOnly) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim("\r\n\t "), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Text, HexValueReadsEitherCaseAndRejectsTheRest) {
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('9'), 9);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('%'), -1);
}

TEST(Text, PercentDecodeDecodesValidEscapesAndKeepsBrokenOnes) {
  EXPECT_EQ(percent_decode("p%40ss%2Fw"), "p@ss/w");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz%41"), "%zzA");
}

TEST(Text, OneLineReplacesLineBreaksAndTabs) {
  EXPECT_EQ(one_line("a\nb\r\nc\td"), "a b  c d");
}

TEST(Text, LowerIsAsciiOnly) {
  EXPECT_EQ(lower("ABC-xyz"), "abc-xyz");
  EXPECT_EQ(lower("\xC3\x89"), "\xC3\x89");  // UTF-8 bytes untouched
}

}  // namespace
