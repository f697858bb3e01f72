// ProgressBar: one self-redrawing line on a terminal for the progress events of a long call. It writes only when
// enabled (the CLI enables it when stderr is a terminal), so pipes and CI logs stay clean.
#pragma once

#include <cstdio>
#include <string>

#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

class ProgressBar {
 public:
  ProgressBar(std::FILE* out, bool enabled) : out_(out), enabled_(enabled) {}
  ~ProgressBar() { Clear(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(const v1::Progress& progress);
  // Erases the line, so whatever is printed next starts on a clean one.
  void Clear();

  // The line drawn for `progress`, e.g. "[##########----------]  50% (5/10) fp16 batch 3/10", at most 79 columns.
  static std::string Render(const v1::Progress& progress);

 private:
  std::FILE* out_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace layerscope::client
