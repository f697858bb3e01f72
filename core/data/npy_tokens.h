// Token ids stored as a NumPy .npy array (int32 or int64, little-endian, C order, 1-D or 2-D), the form users who
// tokenized in Python already have.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

// The rows of the array in `bytes` (a 1-D array is one row). `path` names the file in errors:
// kInvalidArgument for another dtype, Fortran order, another rank or a value that does not fit int32;
// kDataLoss for a bad header or fewer bytes than the header's shape needs.
std::vector<std::vector<int32_t>> ParseNpyTokens(const std::string& bytes, const std::string& path);

}  // namespace layerscope
