// ModelEffect: what a mode's numeric error costs at the model's output. Over every position t < seq_len - 1 of
// every sample (those with a next token in the data): KL divergence of the mode's next-token distribution from the
// reference's, top-1 agreement, and perplexity on the data's next tokens. Log-softmax is computed in fp64 from the
// fp32 logits; sums are fp64 in sample, position and vocabulary order, so the same logits give bit-identical
// results.
#pragma once

#include <cstdint>
#include <vector>

namespace layerscope {

struct ModelEffect {
  double kl_mean = 0;  // mean over positions of KL(P_ref || P_mode), nats
  double kl_max = 0;
  double top1_agreement = 0;  // fraction of positions whose argmax (ties: lowest id) is the reference's
  double perplexity = 0;      // exp(mean -log P_mode(next token))
  int64_t positions = 0;
  int64_t nonfinite_positions = 0;  // left out: either side's logits held a NaN or an Inf
};

// The perplexity of one side alone (the reference's) over the same positions.
struct Perplexity {
  double perplexity = 0;
  int64_t positions = 0;
  int64_t nonfinite_positions = 0;
};

// Accumulates the perplexity of one model's logits, batch by batch.
class PerplexityAccumulator {
 public:
  explicit PerplexityAccumulator(int64_t vocab);
  // `logits` [batch, seq_len, vocab], `tokens` the batch's samples (each seq_len ids in [0, vocab)).
  void Add(const float* logits, const std::vector<std::vector<int32_t>>& tokens);
  Perplexity Finish() const;

 private:
  const int64_t vocab_;
  double sum_nll_ = 0;
  int64_t positions_ = 0, nonfinite_ = 0;
};

// Accumulates a mode's effect against the reference, batch by batch.
class ModelEffectAccumulator {
 public:
  explicit ModelEffectAccumulator(int64_t vocab);
  // `ref` and `mode` logits [batch, seq_len, vocab] of the same `tokens` (as PerplexityAccumulator::Add).
  void Add(const float* ref, const float* mode, const std::vector<std::vector<int32_t>>& tokens);
  ModelEffect Finish() const;

 private:
  const int64_t vocab_;
  double sum_kl_ = 0, max_kl_ = 0, sum_nll_ = 0;
  int64_t agree_ = 0, positions_ = 0, nonfinite_ = 0;
  std::vector<double> log_p_ref_, log_p_mode_;  // scratch: one position's log-softmax
};

}  // namespace layerscope
