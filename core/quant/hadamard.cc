#include "core/quant/hadamard.h"

#include <cmath>
#include <string>

#include "core/util/error.h"
#include "kernels/hadamard/hadamard_blocks.h"

namespace layerscope {
namespace {

bool IsPowerOfTwo(int64_t m) { return m > 0 && (m & (m - 1)) == 0; }

}  // namespace

bool HadamardSupported(int64_t d) {
  if (d <= 0) return false;
  for (int64_t b : {1, 12, 20, 28}) {
    if (d % b == 0 && IsPowerOfTwo(d / b)) return true;
  }
  return false;
}

int64_t HadamardBaseBlock(int64_t d) {
  // The larger blocks first: 12·2^k is never a power of two, but check in a fixed order anyway.
  for (int64_t b : {28, 20, 12, 1}) {
    if (d > 0 && d % b == 0 && IsPowerOfTwo(d / b)) return b;
  }
  throw Error(ErrorKind::kInvalidArgument, "Hadamard: no Hadamard matrix of size " + std::to_string(d) +
                                               " (supported: b·2^k with b in {1, 12, 20, 28})");
}

at::Tensor HadamardMatrix(int64_t d, at::ScalarType dtype) {
  const int64_t b = HadamardBaseBlock(d);
  const int64_t m = d / b;
  const uint32_t* hb = HadamardBlockRows(b);
  const double norm = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor h = at::empty({d, d}, at::TensorOptions().dtype(at::kDouble));
  double* out = h.data_ptr<double>();
  for (int64_t c = 0; c < b; ++c) {
    for (int64_t j = 0; j < m; ++j) {
      for (int64_t c2 = 0; c2 < b; ++c2) {
        for (int64_t j2 = 0; j2 < m; ++j2) {
          const int sylvester = (__builtin_popcountll(static_cast<uint64_t>(j & j2)) & 1) ? -1 : 1;
          out[(c * m + j) * d + c2 * m + j2] = HadamardBlockSign(hb[c], c2) * sylvester * norm;
        }
      }
    }
  }
  return h.to(dtype);
}

at::Tensor ApplyHadamard(const at::Tensor& x) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type()) || x.dim() < 1) {
    throw Error(ErrorKind::kInvalidArgument, "ApplyHadamard: x must be a floating tensor [..., d]");
  }
  const int64_t d = x.size(-1);
  const int64_t b = HadamardBaseBlock(d);
  const int64_t m = d / b;
  const at::ScalarType compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t rows = x.numel() / d;
  // y[r, c, j]: row r, block c, position j inside the block (index c·M + j).
  at::Tensor y = x.to(compute).contiguous().view({rows, b, m});
  // Sylvester factor: log2(M) butterfly stages; stage h pairs j and j + h inside groups of 2h.
  for (int64_t h = 1; h < m; h *= 2) {
    const at::Tensor g = y.view({rows, b, m / (2 * h), 2, h});
    const at::Tensor lo = g.select(3, 0), hi = g.select(3, 1);
    y = at::stack({lo + hi, lo - hi}, 3).view({rows, b, m});
  }
  // Block factor: out[:, c', :] = Σ_c H_b[c][c']·y[:, c, :], summed in ascending c (the entries are ±1, so each
  // step is an exact sign change and one rounded add).
  if (b > 1) {
    const uint32_t* hb = HadamardBlockRows(b);
    at::Tensor signs = at::empty({b, b}, at::TensorOptions().dtype(at::kDouble));
    auto s = signs.accessor<double, 2>();
    for (int64_t c = 0; c < b; ++c) {
      for (int64_t c2 = 0; c2 < b; ++c2) s[c][c2] = HadamardBlockSign(hb[c], c2);
    }
    signs = signs.to(y.device(), compute);
    at::Tensor acc = y.narrow(1, 0, 1) * signs[0].view({1, b, 1});
    for (int64_t c = 1; c < b; ++c) acc = acc + y.narrow(1, c, 1) * signs[c].view({1, b, 1});
    y = acc;
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(d));
  return (y * at::full({}, norm, y.options())).view(x.sizes());
}

}  // namespace layerscope
