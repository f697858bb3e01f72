// Samples of token ids for models with a byte-level vocabulary: the seed's "first N documents, truncated to
// seqlen", applied to a text as consecutive windows of its UTF-8 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

// `count` consecutive, non-overlapping windows of `seq_len` bytes from the start of `text`. Throws
// Error(kInvalidArgument) naming the sizes when the text is too short.
std::vector<std::vector<int32_t>> ByteSamples(const std::string& text, int count, int seq_len);

// Reads a whole file (Error(kNotFound) naming it if it cannot be read).
std::string ReadTextFile(const std::string& path);

}  // namespace layerscope
