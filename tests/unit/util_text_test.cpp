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

// Every control byte is shown as \xNN; printable text (UTF-8 included) stays.
TEST(Text, PrintableEscapesEveryControlCharacter) {
  EXPECT_EQ(printable("a\x1b[31mred\x07\r\n\tz\x7f"), "a\\x1b[31mred\\x07\\x0d\\x0a\\x09z\\x7f");
  EXPECT_EQ(printable(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80");
  EXPECT_EQ(printable("c1 \xc2\x9b"
                      "2J"),
            "c1 \\xc2\\x9b2J");  // U+009B, a CSI
  EXPECT_EQ(printable("raw \x9b"
                      "2J"),
            "raw \\x9b2J");  // not UTF-8
  EXPECT_EQ(printable("bidi \xe2\x80\xae"
                      "txt"),
            "bidi \\xe2\\x80\\xaetxt");  // U+202E
  EXPECT_EQ(printable("\xef\xbb\xbf"
                      "bom"),
            "\\xef\\xbb\\xbfbom");
  EXPECT_EQ(printable("cut \xe2\x9c"), "cut \\xe2\\x9c");  // a truncated sequence
  EXPECT_EQ(printable("overlong \xc0\xaf"), "overlong \\xc0\\xaf");
  EXPECT_EQ(printable("back\\slash"), "back\\slash");
}

TEST(Text, PrintableIsIdempotent) {
  for (const std::string &s : {std::string("a\x1b b"), std::string("\xc2\x9b\x9b\xe2\x80\xae"),
                               std::string("plain"), std::string("\\x1b")}) {
    EXPECT_EQ(printable(printable(s)), printable(s)) << s;
  }
}

TEST(Text, EchoCutsToTwoHundredCharactersWithAnEllipsis) {
  EXPECT_EQ(echo("short"), "short");
  EXPECT_EQ(echo(std::string(200, 'x')), std::string(200, 'x'));
  EXPECT_EQ(echo(std::string(201, 'x')), std::string(199, 'x') + "\xe2\x80\xa6");
  // Characters, not bytes: 300 two-byte characters are cut at 199 of them.
  std::string accents;
  for (int i = 0; i < 300; ++i) accents += "\xc3\xa9";
  const auto cut = echo(accents);
  EXPECT_EQ(cut.size(), 199u * 2 + 3);
  // An escape is never cut in the middle: 4 characters each.
  EXPECT_EQ(echo(std::string(100, '\x1b'), 10), "\\x1b\\x1b\xe2\x80\xa6");
  EXPECT_EQ(printable(echo(std::string(100, '\x1b'))), echo(std::string(100, '\x1b')));
}

TEST(Text, StripBomOnlyAtTheStart) {
  EXPECT_EQ(strip_bom("\xef\xbb\xbfKEY=1"), "KEY=1");
  EXPECT_EQ(strip_bom("KEY=\xef\xbb\xbf"), "KEY=\xef\xbb\xbf");
  EXPECT_EQ(strip_bom(""), "");
}

}  // namespace
