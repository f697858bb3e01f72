#include "core/data/utf8_text.h"

#include <gtest/gtest.h>

namespace layerscope {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8Text, FindsTheFirstInvalidByte) {
  EXPECT_EQ(FindInvalidUtf8("plain \xC3\xA9 \xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("ab\x80"), 2u);
  EXPECT_EQ(FindInvalidUtf8("ab\xE2\x82"), 2u);        // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);     // a surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
}

// The expected strings are Python's bytes.decode("utf-8", "replace"), which is what HF `tokenizers` gives too.
TEST(Utf8Text, RepairsOneReplacementPerMaximalSubpart) {
  EXPECT_EQ(RepairUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(RepairUtf8("\xE2\x82"
                       "a"),
            kReplacement + "a");
  EXPECT_EQ(RepairUtf8("\xF0\x9F\x98"), kReplacement);
  EXPECT_EQ(RepairUtf8("\xC0\xAF"), kReplacement + kReplacement);
  EXPECT_EQ(RepairUtf8("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(RepairUtf8("\xF0\x9F\x98\xF0\x9F\x98\x80"), kReplacement + "\xF0\x9F\x98\x80");
}

TEST(Utf8Text, NormalizesToNfc) {
  EXPECT_EQ(NormalizeNfc("cafe\xCC\x81"), "caf\xC3\xA9");  // e + combining acute -> é
  EXPECT_EQ(NormalizeNfc("\xE2\x84\xAB"), "\xC3\x85");     // angstrom sign -> Å
  EXPECT_EQ(NormalizeNfc("already NFC \xC3\xA9"), "already NFC \xC3\xA9");
}

}  // namespace
}  // namespace layerscope
