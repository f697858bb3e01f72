// ErrorBreakdownAccumulator, MakeAbsDiffHistogram and the model-effect accumulators against values worked out by
// hand (written next to each check), in fp64.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/analysis/abs_diff_histogram.h"
#include "core/analysis/error_breakdown.h"
#include "core/analysis/model_effect.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

TEST(ErrorBreakdownTest, SlicesByHand) {
  // 2 samples x 2 positions x 3 channels; d = mode - ref:
  //   sample 0: t0 d = (1, 0, -2)   t1 d = (0, 0, 0)
  //   sample 1: t0 d = (0, 3, 0)    t1 d = (1, NaN (excluded), 0)
  const std::vector<float> ref = {0, 1, 2, 5, 5, 5, 1, 1, 1, 0, 0, 0};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> mode = {1, 1, 0, 5, 5, 5, 1, 4, 1, 1, nan, 0};
  ErrorBreakdownAccumulator accumulator(2, 2, 3);
  accumulator.Add(ref.data(), mode.data(), 1);  // two batches of one sample: the same as one batch of two
  accumulator.Add(ref.data() + 6, mode.data() + 6, 1);
  BreakdownOptions options;
  options.top_k = 2;
  options.histogram_bins = 2;
  options.percentiles = {0, 50, 100};
  const ErrorBreakdown b = accumulator.Finish(options);

  // 11 finite pairs; sum d^2 = 1 + 4 + 9 + 1 = 15.
  EXPECT_EQ(b.count, 11);
  EXPECT_DOUBLE_EQ(b.mse, 15.0 / 11);
  EXPECT_EQ(b.max_abs, 3);
  // Samples: 0 has 6 pairs, sum 5; 1 has 5 pairs, sum 10.
  EXPECT_EQ(b.per_sample.count, (std::vector<int64_t>{6, 5}));
  EXPECT_DOUBLE_EQ(b.per_sample.mse[0], 5.0 / 6);
  EXPECT_DOUBLE_EQ(b.per_sample.mse[1], 10.0 / 5);
  EXPECT_EQ(b.per_sample.max_abs, (std::vector<double>{2, 3}));
  // Positions: t0 has 6 pairs, sum 14; t1 has 5 pairs, sum 1.
  EXPECT_DOUBLE_EQ(b.per_position.mse[0], 14.0 / 6);
  EXPECT_DOUBLE_EQ(b.per_position.mse[1], 1.0 / 5);
  // Channels: c0 sum 2 over 4; c1 sum 9 over 3; c2 sum 4 over 4.
  EXPECT_EQ(b.per_channel.count, (std::vector<int64_t>{4, 3, 4}));
  EXPECT_DOUBLE_EQ(b.per_channel.mse[0], 0.5);
  EXPECT_DOUBLE_EQ(b.per_channel.mse[1], 3.0);
  EXPECT_DOUBLE_EQ(b.per_channel.mse[2], 1.0);
  // Top 2 by MSE: c1 then c2. c1's reference: 1, 5, 1 (finite pairs only): rms = sqrt(27 / 3) = 3.
  ASSERT_EQ(b.top_channels.size(), 2u);
  EXPECT_EQ(b.top_channels[0].channel, 1);
  EXPECT_EQ(b.top_channels[0].max_abs, 3);
  EXPECT_DOUBLE_EQ(b.top_channels[0].ref_rms, 3.0);
  EXPECT_EQ(b.top_channels[1].channel, 2);
  // |d| non-zero: 1, 2, 3, 1 and 7 zeros; edges 1, sqrt(3), 3: bins [1, 1.73) = {1, 1}, [1.73, 3] = {2, 3}.
  EXPECT_EQ(b.histogram.zeros, 7);
  EXPECT_EQ(b.histogram.total, 11);
  ASSERT_EQ(b.histogram.edges.size(), 3u);
  EXPECT_DOUBLE_EQ(b.histogram.edges[1], std::sqrt(3.0));
  EXPECT_EQ(b.histogram.counts, (std::vector<int64_t>{2, 2}));
  // Sorted |d|: seven 0s, 1, 1, 2, 3: p0 0, p50 (index 5) 0, p100 3.
  ASSERT_EQ(b.histogram.percentiles.size(), 3u);
  EXPECT_EQ(b.histogram.percentiles[0].value, 0);
  EXPECT_EQ(b.histogram.percentiles[1].value, 0);
  EXPECT_EQ(b.histogram.percentiles[2].value, 3);
}

TEST(ErrorBreakdownTest, TiesGoToTheLowerChannelAndSamplesMustAllCome) {
  const std::vector<float> ref = {0, 0, 0}, mode = {2, -2, 1};
  ErrorBreakdownAccumulator accumulator(1, 1, 3);
  accumulator.Add(ref.data(), mode.data(), 1);
  const ErrorBreakdown b = accumulator.Finish({});
  ASSERT_EQ(b.top_channels.size(), 3u);  // top_k 10, only 3 channels
  EXPECT_EQ(b.top_channels[0].channel, 0);
  EXPECT_EQ(b.top_channels[1].channel, 1);
  EXPECT_EQ(b.top_channels[2].channel, 2);

  ErrorBreakdownAccumulator short_of_samples(2, 1, 3);
  short_of_samples.Add(ref.data(), mode.data(), 1);
  EXPECT_NE(ErrorOf([&] { short_of_samples.Finish({}); }).find("1 of 2 samples added"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { short_of_samples.Add(ref.data(), mode.data(), 2); }).find("more than the 2 declared"),
            std::string::npos);
}

TEST(AbsDiffHistogramTest, EdgesAreLogSpacedAndTheLargestValueIsInTheLastBin) {
  // 1, 10, 100, 1000 in 3 bins: edges 1, 10, 100, 1000 (up to rounding of the exp); one value per bin except the
  // last, which also holds its upper edge.
  std::vector<float> values = {1000, 1, 100, 10, 0};
  const AbsDiffHistogram h = MakeAbsDiffHistogram(values, 3, {25});
  ASSERT_EQ(h.edges.size(), 4u);
  EXPECT_EQ(h.edges.front(), 1);
  EXPECT_NEAR(h.edges[1], 10, 1e-12);
  EXPECT_NEAR(h.edges[2], 100, 1e-10);
  EXPECT_EQ(h.edges.back(), 1000);
  EXPECT_EQ(h.zeros, 1);
  EXPECT_EQ(h.counts[0] + h.counts[1] + h.counts[2], 4);
  EXPECT_EQ(h.counts[2], h.edges[2] <= 100 ? 2 : 1);  // 100 sits on an edge; 1000 is always in the last bin
  // Sorted 0, 1, 10, 100, 1000: p25 is index 1 exactly: 1.
  EXPECT_EQ(h.percentiles[0].value, 1);

  std::vector<float> same = {0.5f, 0.5f};
  const AbsDiffHistogram one_bin = MakeAbsDiffHistogram(same, 40, {});
  EXPECT_EQ(one_bin.edges, (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(one_bin.counts, (std::vector<int64_t>{2}));

  std::vector<float> zeros = {0, 0};
  const AbsDiffHistogram no_bins = MakeAbsDiffHistogram(zeros, 40, {50});
  EXPECT_TRUE(no_bins.edges.empty());
  EXPECT_EQ(no_bins.zeros, 2);
  EXPECT_EQ(no_bins.percentiles[0].value, 0);

  EXPECT_NE(ErrorOf([&] { MakeAbsDiffHistogram(zeros, 0, {}); }).find("bins must be at least 1"), std::string::npos);
}

TEST(ModelEffectTest, KlTopOneAndPerplexityByHand) {
  // One sample of 3 tokens (two next-token positions), vocabulary 2.
  //   t0: ref logits (0, 0): P_ref = (1/2, 1/2); mode (ln 3, 0): P_mode = (3/4, 1/4); next token 1.
  //       KL = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3). Argmax: ref 0 (tie, lowest id), mode 0: agree.
  //   t1: ref (0, ln 3): P_ref = (1/4, 3/4); mode the same: KL 0; next token 0. Argmax 1 and 1: agree.
  //   t2: no next token: not counted.
  const float ln3 = static_cast<float>(std::log(3.0));
  const std::vector<float> ref = {0, 0, 0, ln3, 7, -7};
  const std::vector<float> mode = {ln3, 0, 0, ln3, -7, 7};
  const std::vector<std::vector<int32_t>> tokens = {{0, 1, 0}};
  ModelEffectAccumulator effect(2);
  effect.Add(ref.data(), mode.data(), tokens);
  const ModelEffect e = effect.Finish();
  // ln3 is rounded to float: P_mode(t0) = (3', 1) / (3' + 1) with 3' = exp(float(ln 3)).
  const double three = std::exp(static_cast<double>(ln3));
  const double kl0 = 0.5 * std::log(0.5 / (three / (three + 1))) + 0.5 * std::log(0.5 / (1 / (three + 1)));
  EXPECT_NEAR(kl0, 0.5 * std::log(4.0 / 3), 1e-7);
  EXPECT_EQ(e.positions, 2);
  EXPECT_NEAR(e.kl_mean, kl0 / 2, 1e-15);
  EXPECT_NEAR(e.kl_max, kl0, 1e-15);
  EXPECT_EQ(e.top1_agreement, 1.0);
  // Mode's NLL: t0 -ln P_mode(1) = ln(3' + 1); t1 -ln P_mode(0) = ln(3' + 1). Perplexity 3' + 1 = 4.
  EXPECT_NEAR(e.perplexity, three + 1, 1e-12);

  // The reference's own perplexity: t0 -ln(1/2), t1 -ln(1/(3' + 1)): exp of the mean = sqrt(2 (3' + 1)).
  PerplexityAccumulator reference(2);
  reference.Add(ref.data(), tokens);
  const Perplexity p = reference.Finish();
  EXPECT_EQ(p.positions, 2);
  EXPECT_NEAR(p.perplexity, std::sqrt(2 * (three + 1)), 1e-12);
}

TEST(ModelEffectTest, DisagreementAndNonFiniteLogits) {
  // t0: ref prefers 0, mode prefers 1: no agreement. t1: mode has an Inf: left out. Vocabulary 2, 3 tokens.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> ref = {1, 0, 0, 0, 0, 0};
  const std::vector<float> mode = {0, 1, inf, 0, 0, 0};
  ModelEffectAccumulator effect(2);
  effect.Add(ref.data(), mode.data(), {{0, 1, 1}});
  const ModelEffect e = effect.Finish();
  EXPECT_EQ(e.positions, 1);
  EXPECT_EQ(e.nonfinite_positions, 1);
  EXPECT_EQ(e.top1_agreement, 0.0);
  // KL of (1, e)/(e + 1) from (e, 1)/(e + 1): the log ratios are +1 and -1, so e/(e + 1) - 1/(e + 1).
  const double euler = std::exp(1.0);
  EXPECT_NEAR(e.kl_mean, (euler - 1) / (euler + 1), 1e-12);

  ModelEffectAccumulator bad_token(2);
  EXPECT_NE(ErrorOf([&] {
              bad_token.Add(ref.data(), ref.data(), {{0, 2, 0}});
            }).find("token id 2 is outside"),
            std::string::npos);
}

}  // namespace
}  // namespace layerscope
