#include "client/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace layerscope::client {
namespace {

v1::Progress MakeProgress(int64_t done, int64_t total, const std::string& stage) {
  v1::Progress progress;
  progress.set_steps_done(done);
  progress.set_steps_total(total);
  progress.set_stage(stage);
  return progress;
}

// What a ProgressBar wrote to a temporary file.
std::string Written(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

TEST(ProgressBarTest, RendersFractionCountsAndStage) {
  EXPECT_EQ(ProgressBar::Render(MakeProgress(5, 10, "fp16 batch 3/10")),
            "[##########----------]  50% (5/10) fp16 batch 3/10");
  EXPECT_EQ(ProgressBar::Render(MakeProgress(0, 0, "")), "[--------------------]   0% (0/0) ");
}

TEST(ProgressBarTest, ClampsAndShortensSoTheLineNeverWraps) {
  const std::string line = ProgressBar::Render(MakeProgress(12, 10, std::string(100, 's')));
  EXPECT_EQ(line, "[####################] 100% (10/10) " + std::string(79 - 36, 's'));
  EXPECT_EQ(ProgressBar::Render(MakeProgress(1, 30000, "waiting for 1 comparison(s) ahead")),
            "[--------------------]   0% (1/30000) waiting for 1 comparison(s) ahead");
}

TEST(ProgressBarTest, DisabledWritesNothing) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressBar bar(file, /*enabled=*/false);
    bar.Update(MakeProgress(1, 2, "x"));
    bar.Clear();
  }
  EXPECT_EQ(Written(file), "");
  std::fclose(file);
}

TEST(ProgressBarTest, EnabledRedrawsOneLineAndErasesItAtTheEnd) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressBar bar(file, /*enabled=*/true);
    bar.Update(MakeProgress(1, 2, "a"));
    bar.Update(MakeProgress(2, 2, "b"));
  }
  EXPECT_EQ(Written(file), "\r" + ProgressBar::Render(MakeProgress(1, 2, "a")) + "\033[K\r" +
                               ProgressBar::Render(MakeProgress(2, 2, "b")) + "\033[K\r\033[K");
  std::fclose(file);
}

}  // namespace
}  // namespace layerscope::client
