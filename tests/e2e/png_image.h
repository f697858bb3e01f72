// PngImage: the pixels of a PNG file as 8-bit RGBA, for tests that look at screenshots. It reads what a browser's
// screenshot writes: 8-bit greyscale, RGB or RGBA (with or without alpha), not interlaced; anything else is an
// error rather than a guess.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope::e2e {

struct PngImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgba;  // row by row, 4 bytes a pixel

  // Reads `path`. Throws std::runtime_error saying what is wrong with the file.
  static PngImage Read(const std::string& path);

  // The pixel at (x, y) as 0xRRGGBB (alpha dropped).
  uint32_t Rgb(int x, int y) const;
};

}  // namespace layerscope::e2e
