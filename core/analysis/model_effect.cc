#include "core/analysis/model_effect.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/util/error.h"

namespace layerscope {
namespace {

// log-softmax of one position's logits into `out`, in fp64; false when a logit is NaN or Inf.
bool LogSoftmax(const float* logits, int64_t vocab, std::vector<double>* out) {
  double max = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v) {
    if (!std::isfinite(logits[v])) return false;
    max = std::max(max, static_cast<double>(logits[v]));
  }
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(logits[v] - max);
  const double log_sum = max + std::log(sum);
  out->resize(vocab);
  for (int64_t v = 0; v < vocab; ++v) (*out)[v] = logits[v] - log_sum;
  return true;
}

int64_t ArgMax(const float* logits, int64_t vocab) {
  return std::max_element(logits, logits + vocab) - logits;  // the first of equal maxima
}

int32_t NextToken(const std::vector<int32_t>& sample, size_t t, int64_t vocab) {
  const int32_t id = sample.at(t + 1);
  if (id < 0 || id >= vocab) {
    throw Error(ErrorKind::kInvalidArgument,
                "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  }
  return id;
}

}  // namespace

PerplexityAccumulator::PerplexityAccumulator(int64_t vocab) : vocab_(vocab) {}

void PerplexityAccumulator::Add(const float* logits, const std::vector<std::vector<int32_t>>& tokens) {
  std::vector<double> log_p;
  int64_t offset = 0;
  for (const std::vector<int32_t>& sample : tokens) {
    for (size_t t = 0; t < sample.size(); ++t, offset += vocab_) {
      if (t + 1 == sample.size()) continue;
      if (!LogSoftmax(logits + offset, vocab_, &log_p)) {
        ++nonfinite_;
        continue;
      }
      sum_nll_ -= log_p[NextToken(sample, t, vocab_)];
      ++positions_;
    }
  }
}

Perplexity PerplexityAccumulator::Finish() const {
  return {positions_ > 0 ? std::exp(sum_nll_ / positions_) : 0.0, positions_, nonfinite_};
}

ModelEffectAccumulator::ModelEffectAccumulator(int64_t vocab) : vocab_(vocab) {}

void ModelEffectAccumulator::Add(const float* ref, const float* mode, const std::vector<std::vector<int32_t>>& tokens) {
  int64_t offset = 0;
  for (const std::vector<int32_t>& sample : tokens) {
    for (size_t t = 0; t < sample.size(); ++t, offset += vocab_) {
      if (t + 1 == sample.size()) continue;
      if (!LogSoftmax(ref + offset, vocab_, &log_p_ref_) || !LogSoftmax(mode + offset, vocab_, &log_p_mode_)) {
        ++nonfinite_;
        continue;
      }
      double kl = 0;
      for (int64_t v = 0; v < vocab_; ++v) kl += std::exp(log_p_ref_[v]) * (log_p_ref_[v] - log_p_mode_[v]);
      sum_kl_ += kl;
      max_kl_ = std::max(max_kl_, kl);
      sum_nll_ -= log_p_mode_[NextToken(sample, t, vocab_)];
      if (ArgMax(ref + offset, vocab_) == ArgMax(mode + offset, vocab_)) ++agree_;
      ++positions_;
    }
  }
}

ModelEffect ModelEffectAccumulator::Finish() const {
  ModelEffect effect;
  effect.positions = positions_;
  effect.nonfinite_positions = nonfinite_;
  if (positions_ > 0) {
    effect.kl_mean = sum_kl_ / positions_;
    effect.kl_max = max_kl_;
    effect.top1_agreement = static_cast<double>(agree_) / positions_;
    effect.perplexity = std::exp(sum_nll_ / positions_);
  }
  return effect;
}

}  // namespace layerscope
