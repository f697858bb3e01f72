#include "core/quant/observers.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/util/error.h"

namespace layerscope {
namespace {

void CheckObserved(const at::Tensor& x, const char* observer) {
  if (!x.defined() || !at::isFloatingType(x.scalar_type()) || x.numel() == 0) {
    throw Error(ErrorKind::kInvalidArgument, std::string(observer) + ": x must be a non-empty floating tensor");
  }
}

// The recipe's scales are fp32 tensors: max / 127 is an fp32 division, floored at 1e-6.
double ScaleFromMax(double max) {
  const float s = static_cast<float>(max) / 127.0f;
  return std::max(s, 1e-6f);
}

constexpr double kMinMax = 1e-5;

}  // namespace

void MinMaxObserver::Observe(const at::Tensor& x) {
  CheckObserved(x, "MinMaxObserver");
  // The maximum is exact in any dtype, so where it is computed does not matter.
  const double m = std::max(x.abs().max().item<double>(), kMinMax);
  max_ = forwards_ == 0 ? m : std::max(max_, m);
  ++forwards_;
}

double MinMaxObserver::Max() const {
  if (forwards_ == 0) throw Error(ErrorKind::kFailedPrecondition, "MinMaxObserver: nothing observed yet");
  return max_;
}

double MinMaxObserver::Scale() const { return ScaleFromMax(Max()); }

PercentileObserver::PercentileObserver(double alpha, double momentum) : alpha_(alpha), momentum_(momentum) {
  if (!(alpha > 0 && alpha <= 1)) {
    throw Error(ErrorKind::kInvalidArgument,
                "PercentileObserver: alpha must be in (0, 1], got " + std::to_string(alpha));
  }
  if (!(momentum > 0 && momentum <= 1)) {
    throw Error(ErrorKind::kInvalidArgument,
                "PercentileObserver: momentum must be in (0, 1], got " + std::to_string(momentum));
  }
}

void PercentileObserver::Observe(const at::Tensor& x) {
  CheckObserved(x, "PercentileObserver");
  const double q = AbsQuantile(x, alpha_);
  value_ = forwards_ == 0 ? q : value_ + momentum_ * (q - value_);
  ++forwards_;
}

double PercentileObserver::Value() const {
  if (forwards_ == 0) throw Error(ErrorKind::kFailedPrecondition, "PercentileObserver: nothing observed yet");
  return value_;
}

double PercentileObserver::Scale() const { return ScaleFromMax(Value()); }

double AbsQuantile(const at::Tensor& x, double alpha) {
  CheckObserved(x, "AbsQuantile");
  if (!(alpha >= 0 && alpha <= 1)) {
    throw Error(ErrorKind::kInvalidArgument, "AbsQuantile: alpha must be in [0, 1], got " + std::to_string(alpha));
  }
  const at::Tensor a = x.to(at::kCPU, at::kFloat).abs().contiguous().view({-1});
  std::vector<float> v(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
  const int64_t n = static_cast<int64_t>(v.size());
  // numpy's "linear" method: position alpha·(n − 1) between the order statistics floor and floor + 1. The
  // position is fp64 (torch.quantile's fp32 rank would lose the fraction for n beyond ~2^24).
  const double pos = alpha * static_cast<double>(n - 1);
  const int64_t lo = std::min(static_cast<int64_t>(std::floor(pos)), n - 1);
  std::nth_element(v.begin(), v.begin() + lo, v.end());
  const float below = v[lo];
  // After nth_element every element past lo is ≥ v[lo]; the next order statistic is their minimum.
  const float above = lo + 1 < n ? *std::min_element(v.begin() + lo + 1, v.end()) : below;
  const float w = static_cast<float>(pos - static_cast<double>(lo));
  // torch.lerp's fp32 formula (exact at both ends).
  const float diff = above - below;
  return w < 0.5f ? below + w * diff : above - diff * (1.0f - w);
}

}  // namespace layerscope
