#include "client/progress_bar.h"

#include <algorithm>

namespace layerscope::client {
namespace {

constexpr int kBarWidth = 20;
// The line stays within 79 columns so it never wraps on an 80-column terminal: a wrapped line cannot be redrawn
// with a carriage return.
constexpr size_t kMaxLine = 79;

}  // namespace

std::string ProgressBar::Render(const v1::Progress& progress) {
  const int64_t total = std::max<int64_t>(progress.steps_total(), 1);
  const int64_t done = std::clamp<int64_t>(progress.steps_done(), 0, total);
  const int filled = static_cast<int>(done * kBarWidth / total);
  char numbers[64];
  std::snprintf(numbers, sizeof(numbers), "%3d%% (%lld/%lld) ", static_cast<int>(done * 100 / total),
                static_cast<long long>(done), static_cast<long long>(progress.steps_total()));
  const std::string line = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] " + numbers;
  return line + progress.stage().substr(0, kMaxLine > line.size() ? kMaxLine - line.size() : 0);
}

void ProgressBar::Update(const v1::Progress& progress) {
  if (!enabled_) return;
  // \033[K erases what a longer previous line left behind.
  std::fprintf(out_, "\r%s\033[K", Render(progress).c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Clear() {
  if (!drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace layerscope::client
