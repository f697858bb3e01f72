// Calibration observers of the Quamba recipe (../shared/docs/MODES.md §2.2): static per-tensor symmetric int8
// scales from activations seen over the calibration forwards (one Observe call per forward).
// Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace layerscope {

// Min-max: per forward m = max|v| (at least 1e-5), running maximum over the forwards; scale = max / 127 (at
// least 1e-6), computed in fp32 as the recipe's tensors are.
class MinMaxObserver {
 public:
  // x: any floating tensor, any device, not empty.
  void Observe(const at::Tensor& x);
  // The running maximum; throws Error(kFailedPrecondition) before the first Observe.
  double Max() const;
  double Scale() const;
  int64_t forwards() const { return forwards_; }

 private:
  double max_ = 0;
  int64_t forwards_ = 0;
};

// Percentile: per forward q = the alpha-quantile of |v| over the whole tensor (linear interpolation between order
// statistics, as torch.quantile and numpy's default); the running value w starts at the first q, then
// w ← w + momentum·(q − w) (exponential moving average, momentum 0.01); scale = w / 127.
class PercentileObserver {
 public:
  // 0 < alpha ≤ 1, 0 < momentum ≤ 1; throws Error(kInvalidArgument) otherwise.
  explicit PercentileObserver(double alpha, double momentum = 0.01);
  void Observe(const at::Tensor& x);
  // The running value w; throws Error(kFailedPrecondition) before the first Observe.
  double Value() const;
  double Scale() const;
  double alpha() const { return alpha_; }
  int64_t forwards() const { return forwards_; }

 private:
  double alpha_;
  double momentum_;
  double value_ = 0;
  int64_t forwards_ = 0;
};

// The exact alpha-quantile of |x| over all elements, in fp32 like torch.quantile on an fp32 tensor: position
// alpha·(n−1) (in fp64), the two order statistics around it found by selection (no sort, no size limit), and
// torch.lerp's fp32 formula between them. Works on any device (selection on the CPU).
double AbsQuantile(const at::Tensor& x, double alpha);

}  // namespace layerscope
