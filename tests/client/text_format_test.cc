#include "client/text_format.h"

#include <gtest/gtest.h>

namespace layerscope::client {
namespace {

TEST(FormatTest, PrintsLikePrintf) {
  EXPECT_EQ(Format("%.6e|%12.6f|%s", 1.5e-7, -0.25, "x"), "1.500000e-07|   -0.250000|x");
  EXPECT_EQ(Format("%s", ""), "");
}

TEST(RulerTest, RepeatsAndEndsTheLine) { EXPECT_EQ(Ruler('=', 5), "=====\n"); }

TEST(TableLineTest, PadsCellsToTheirColumnsAndDropsTrailingBlanks) {
  EXPECT_EQ(TableLine({"a", "bb", "c"}, {3, 4, 5}), "a   bb   c\n");
}

TEST(TableLineTest, LongerCellPushesTheRestRight) { EXPECT_EQ(TableLine({"abcdef", "x"}, {3, 2}), "abcdef x\n"); }

TEST(TextTableTest, ColumnsAsWideAsTheirWidestCell) {
  EXPECT_EQ(TextTable({"Name", "V"}, {{"fp16", "12345"}, {"x", ""}}),
            "Name V\n"
            "---- -----\n"
            "fp16 12345\n"
            "x\n");
}

TEST(WrapWordsTest, BreaksAtBlanksWithinTheWidth) {
  EXPECT_EQ(WrapWords("aa bb cc dd", 5), (std::vector<std::string>{"aa bb", "cc dd"}));
  EXPECT_EQ(WrapWords("  aa   bb ", 80), (std::vector<std::string>{"aa bb"}));
  EXPECT_EQ(WrapWords("a verylongword b", 4), (std::vector<std::string>{"a", "verylongword", "b"}));
  EXPECT_TRUE(WrapWords("", 10).empty());
}

}  // namespace
}  // namespace layerscope::client
