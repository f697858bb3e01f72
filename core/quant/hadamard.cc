#include "core/quant/hadamard.h"

#include <array>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "core/util/error.h"

namespace layerscope {
namespace {

// H12 of MODES.md §2.1, row by row ('+' = +1). Published Quamba checkpoints were rotated with exactly this block.
constexpr std::array<const char*, 12> kH12 = {"+-++++++++++", "--+-+-+-+-+-", "+++-++----++", "+---+--+-++-",
                                              "+++++-++----", "+-+---+--+-+", "++--+++-++--", "+--++---+--+",
                                              "++----+++-++", "+--+-++---+-", "++++----+++-", "+-+--+-++---"};

using SignMatrix = std::vector<std::vector<int>>;

SignMatrix FromRows(const std::array<const char*, 12>& rows) {
  SignMatrix h;
  for (const char* row : rows) {
    std::vector<int> r;
    for (const char* c = row; *c != '\0'; ++c) r.push_back(*c == '+' ? 1 : -1);
    h.push_back(r);
  }
  return h;
}

// Paley construction II for a field of q ≡ 1 (mod 4) elements, giving a symmetric Hadamard matrix of order
// 2(q + 1). The field is GF(p) (q = p) or GF(p²) = GF(p)[i]/(i² + 1) for p ≡ 3 (mod 4), where i² + 1 is
// irreducible; element a + b·i has index a + b·p. χ is the quadratic character; the Jacobsthal matrix
// Q[x][y] = χ(x − y) is symmetric because χ(−1) = 1 when q ≡ 1 (mod 4). With the conference matrix
// C = [[0, 1ᵀ], [1, Q]], H = C ⊗ [[1, 1], [1, −1]] + I ⊗ [[1, −1], [−1, −1]].
SignMatrix PaleyII(int p, int degree) {
  const int q = degree == 1 ? p : p * p;
  auto mul = [&](int x, int y) {  // (a + b i)(c + d i) = (ac − bd) + (ad + bc) i
    const int a = x % p, b = x / p, c = y % p, d = y / p;
    return ((a * c - b * d) % p + p) % p + ((a * d + b * c) % p) * p;
  };
  auto sub = [&](int x, int y) { return ((x % p - y % p + p) % p) + ((x / p - y / p + p) % p) * p; };
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int x = 1; x < q; ++x) chi[mul(x, x)] = 1;
  const int n = q + 1;
  SignMatrix c(n, std::vector<int>(n, 0));
  for (int k = 1; k < n; ++k) c[0][k] = c[k][0] = 1;
  for (int x = 0; x < q; ++x) {
    for (int y = 0; y < q; ++y) c[x + 1][y + 1] = chi[sub(x, y)];
  }
  SignMatrix h(2 * n, std::vector<int>(2 * n, 0));
  for (int r = 0; r < n; ++r) {
    for (int s = 0; s < n; ++s) {
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          const int v = c[r][s] != 0 ? c[r][s] * (i == 1 && j == 1 ? -1 : 1) : (i == 0 && j == 0 ? 1 : -1);
          h[2 * r + i][2 * s + j] = v;
        }
      }
    }
  }
  return h;
}

const SignMatrix& BaseBlock(int64_t b) {
  static std::once_flag once;
  static SignMatrix h1, h12, h20, h28;
  std::call_once(once, [] {
    h1 = {{1}};
    h12 = FromRows(kH12);
    h20 = PaleyII(3, 2);  // q = 9
    h28 = PaleyII(13, 1);
  });
  switch (b) {
    case 12: return h12;
    case 20: return h20;
    case 28: return h28;
    default: return h1;
  }
}

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
  const SignMatrix& hb = BaseBlock(b);
  const double norm = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor h = at::empty({d, d}, at::TensorOptions().dtype(at::kDouble));
  double* out = h.data_ptr<double>();
  for (int64_t c = 0; c < b; ++c) {
    for (int64_t j = 0; j < m; ++j) {
      for (int64_t c2 = 0; c2 < b; ++c2) {
        for (int64_t j2 = 0; j2 < m; ++j2) {
          const int sylvester = (__builtin_popcountll(static_cast<uint64_t>(j & j2)) & 1) ? -1 : 1;
          out[(c * m + j) * d + c2 * m + j2] = hb[c][c2] * sylvester * norm;
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
    const SignMatrix& hb = BaseBlock(b);
    at::Tensor signs = at::empty({b, b}, at::TensorOptions().dtype(at::kDouble));
    auto s = signs.accessor<double, 2>();
    for (int64_t c = 0; c < b; ++c) {
      for (int64_t c2 = 0; c2 < b; ++c2) s[c][c2] = hb[c][c2];
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
