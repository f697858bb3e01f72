#include "client/fail_if.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace layerscope::client {
namespace {

v1::MetricsRow Row(const std::string& mode, int layer, const std::string& point, double mse, double corr) {
  v1::MetricsRow row;
  row.set_mode(mode);
  row.set_layer(layer);
  row.set_point(point);
  v1::Metrics* m = row.mutable_metrics();
  m->set_mse(mse);
  m->set_rmse(2 * mse);
  m->set_mae(3 * mse);
  m->set_relative_mse(4 * mse);
  m->set_relative_mae(5 * mse);
  m->set_correlation(corr);
  m->set_cosine(corr);
  m->set_sqnr_db(40);
  m->set_p50(0.1);
  m->set_p90(0.2);
  m->set_p95(0.3);
  m->set_p99(0.4);
  m->set_max_abs_diff(0.5);
  m->set_mean_abs_diff(0.6);
  return row;
}

// Rows over layers 1..3 so `first` and `last` differ from 0 and from the literal numbers the tests use.
const std::vector<v1::MetricsRow> kRows = {
    Row("fp16", 1, "mixer_output", 1e-4, 0.99999),
    Row("fp16", 2, "mixer_output", 2e-3, 0.9995),
    Row("fp16", 3, "mixer_output", 1e-2, 0.99),
    Row("2-1", 3, "ssm_output", 0.5, 0.9),
};

std::unique_ptr<FailIf> MustParse(const std::string& text) {
  std::string error;
  std::unique_ptr<FailIf> gate = FailIf::Parse(text, &error);
  EXPECT_NE(gate, nullptr) << text << ": " << error;
  return gate;
}

// Indices into `rows` of the rows `text` matches.
std::vector<int> Match(const std::string& text, const std::vector<v1::MetricsRow>& rows = kRows) {
  std::vector<int> indices;
  const std::unique_ptr<FailIf> gate = MustParse(text);
  if (!gate) return indices;
  for (const v1::MetricsRow* row : gate->Matches(rows)) indices.push_back(static_cast<int>(row - rows.data()));
  return indices;
}

std::string ParseError(const std::string& text) {
  std::string error;
  EXPECT_EQ(FailIf::Parse(text, &error), nullptr) << text;
  return error;
}

using Indices = std::vector<int>;

TEST(FailIfTest, EveryOperator) {
  EXPECT_EQ(Match("mse < 2e-3"), Indices({0}));
  EXPECT_EQ(Match("mse <= 2e-3"), Indices({0, 1}));
  EXPECT_EQ(Match("mse > 2e-3"), Indices({2, 3}));
  EXPECT_EQ(Match("mse >= 2e-3"), Indices({1, 2, 3}));
  EXPECT_EQ(Match("mse == 0.5"), Indices({3}));
  EXPECT_EQ(Match("mse != 0.5"), Indices({0, 1, 2}));
  EXPECT_EQ(Match("mse>=2e-3"), Indices({1, 2, 3}));  // no spaces needed
}

TEST(FailIfTest, EveryMetricName) {
  EXPECT_EQ(Match("rmse > 0.9"), Indices({3}));
  EXPECT_EQ(Match("mae > 1.4"), Indices({3}));
  EXPECT_EQ(Match("rel_mse > 1.9"), Indices({3}));
  EXPECT_EQ(Match("rel_mae > 2.4"), Indices({3}));
  EXPECT_EQ(Match("corr < 0.95"), Indices({3}));
  EXPECT_EQ(Match("cosine < 0.95"), Indices({3}));
  EXPECT_EQ(Match("sqnr == 40"), Indices({0, 1, 2, 3}));
  EXPECT_EQ(Match("p50 == 0.1 and p90 == 0.2 and p95 == 0.3 and p99 == 0.4"), Indices({0, 1, 2, 3}));
  EXPECT_EQ(Match("max_abs_diff == 0.5 and mean_abs_diff == 0.6"), Indices({0, 1, 2, 3}));
}

TEST(FailIfTest, NumbersInCFloatSyntax) {
  EXPECT_EQ(Match("mse == 5E-1"), Indices({3}));
  EXPECT_EQ(Match("mse == .5"), Indices({3}));
  EXPECT_EQ(Match("mse == 0x1p-1"), Indices({3}));
  EXPECT_EQ(Match("mse < inf"), Indices({0, 1, 2, 3}));
  EXPECT_EQ(Match("mse > -1"), Indices({0, 1, 2, 3}));
}

TEST(FailIfTest, AndBindsTighterThanOr) {
  // a or (b and c), not (a or b) and c.
  EXPECT_EQ(Match("mse < 1e-3 or mse > 1e-3 and layer == 2"), Indices({0, 1}));
  EXPECT_EQ(Match("mse > 1e-3 and layer == 2 or mse < 1e-3"), Indices({0, 1}));
}

TEST(FailIfTest, ParenthesesOverridePrecedence) {
  EXPECT_EQ(Match("(mse < 1e-3 or mse > 1e-3) and layer == 2"), Indices({1}));
  EXPECT_EQ(Match("((mse > 1))"), Indices({}));
}

TEST(FailIfTest, Not) {
  EXPECT_EQ(Match("not layer == 3"), Indices({0, 1}));
  EXPECT_EQ(Match("not not layer == 3"), Indices({2, 3}));
  // not binds tighter than and.
  EXPECT_EQ(Match("not layer == 3 and mse > 1e-3"), Indices({1}));
  EXPECT_EQ(Match("not (layer == 3 and mse > 1e-2)"), Indices({0, 1, 2}));
}

TEST(FailIfTest, LastAndFirstAreTheLayersCompared) {
  EXPECT_EQ(Match("layer == last"), Indices({2, 3}));
  EXPECT_EQ(Match("layer == first"), Indices({0}));
  EXPECT_EQ(Match("layer < last"), Indices({0, 1}));
  EXPECT_EQ(Match("layer > first and layer != last"), Indices({1}));
  EXPECT_EQ(Match("layer == 0"), Indices({}));
  EXPECT_EQ(Match("corr<0.9999 and layer==last"), Indices({2, 3}));
}

TEST(FailIfTest, ModeAndPointStrings) {
  EXPECT_EQ(Match("mode == fp16 and layer == 3"), Indices({2}));
  EXPECT_EQ(Match("mode == 2-1"), Indices({3}));
  EXPECT_EQ(Match("mode == '2-1'"), Indices({3}));
  EXPECT_EQ(Match("mode != \"fp16\""), Indices({3}));
  EXPECT_EQ(Match("point == ssm_output"), Indices({3}));
  EXPECT_EQ(Match("point == 'and'"), Indices({}));  // quoted, a keyword is a plain string
  EXPECT_EQ(Match("mse > 1e-3 or (point==ssm_output and rel_mae > 0.05)"), Indices({1, 2, 3}));
}

TEST(FailIfTest, UndefinedMetricsMakeComparisonsFalse) {
  v1::MetricsRow row = Row("fp16", 0, "mixer_output", 0, 1);
  row.mutable_metrics()->clear_correlation();
  row.mutable_metrics()->clear_cosine();
  row.mutable_metrics()->clear_sqnr_db();
  const std::vector<v1::MetricsRow> rows = {row};
  for (const char* name : {"corr", "cosine", "sqnr"}) {
    for (const char* op : {"<", "<=", ">", ">=", "==", "!="}) {
      const std::string text = std::string(name) + op + "0.5";
      EXPECT_EQ(Match(text, rows), Indices({})) << text;
    }
  }
  // ...and so `not` makes them true.
  EXPECT_EQ(Match("not corr >= 0.9999", rows), Indices({0}));
  row.mutable_metrics()->set_mse(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(Match("mse != 0", {row}), Indices({}));
}

TEST(FailIfTest, DescribesAMatchWithTheMetricsNamed) {
  const std::unique_ptr<FailIf> gate = MustParse("corr<0.9999 and layer==last or corr < 0.5");
  v1::MetricsRow row = Row("2-1", 23, "mixer_output", 0, 0.99912);
  EXPECT_EQ(gate->Describe(row), "mode 2-1 layer 23 point mixer_output: corr=0.99912 (" + gate->text() + ")");
  row.mutable_metrics()->clear_correlation();
  EXPECT_EQ(MustParse("not corr > 0 and mse == 0")->Describe(row),
            "mode 2-1 layer 23 point mixer_output: corr=undefined, mse=0 (not corr > 0 and mse == 0)");
  EXPECT_EQ(MustParse("layer == 23")->Describe(row), "mode 2-1 layer 23 point mixer_output (layer == 23)");
}

TEST(FailIfTest, ReportStopsAfterMaxLines) {
  const std::unique_ptr<FailIf> gate = MustParse("layer >= 0");
  const std::vector<const v1::MetricsRow*> matches = gate->Matches(kRows);
  EXPECT_EQ(FailIfReport(*gate, matches, 2),
            "layerscope: fail-if: mode fp16 layer 1 point mixer_output (layer >= 0)\n"
            "layerscope: fail-if: mode fp16 layer 2 point mixer_output (layer >= 0)\n"
            "layerscope: fail-if: 2 more matching rows (4 in all)\n");
  EXPECT_EQ(FailIfReport(*gate, matches).size(), FailIfReport(*gate, matches, 4).size());
}

TEST(FailIfTest, ParseErrorsPointAtTheToken) {
  const std::string names =
      "(names: mse rmse mae rel_mse rel_mae corr cosine sqnr p50 p90 p95 p99 max_abs_diff mean_abs_diff layer mode "
      "point)";
  EXPECT_EQ(ParseError(""), "--fail-if: empty expression " + names);
  EXPECT_EQ(ParseError("cor < 0.9"), "--fail-if: expected a known name, got 'cor' at column 1 of 'cor < 0.9' " + names);
  EXPECT_EQ(ParseError("mse > 1 and"),
            "--fail-if: expected a name, 'not' or '(', got the end of 'mse > 1 and' " + names);
  EXPECT_EQ(ParseError("mse > 1 and or mse < 1"),
            "--fail-if: expected a name, 'not' or '(', got 'or' at column 13 of 'mse > 1 and or mse < 1' " + names);
  EXPECT_EQ(ParseError("mse 1"),
            "--fail-if: expected an operator after 'mse', got '1' at column 5 of 'mse 1' (operators: < <= > >= == !=)");
  EXPECT_EQ(ParseError("mse = 1"),
            "--fail-if: unknown operator '=' at column 5 of 'mse = 1' (operators: < <= > >= == !=)");
  EXPECT_EQ(ParseError("mse > 1,5"), "--fail-if: expected a number after 'mse>', got '1,5' at column 7 of 'mse > 1,5'");
  EXPECT_EQ(ParseError("mse > nan"), "--fail-if: expected a number after 'mse>', got 'nan' at column 7 of 'mse > nan'");
  EXPECT_EQ(ParseError("corr < 'x'"),
            "--fail-if: expected a number after 'corr<', got 'x' (a quoted string) at column 8 of 'corr < 'x''");
  EXPECT_EQ(ParseError("layer == 1.5"),
            "--fail-if: expected a layer number, 'last' or 'first' after 'layer==', got '1.5' at column 10 of "
            "'layer == 1.5'");
  EXPECT_EQ(ParseError("mode < fp16"),
            "--fail-if: 'mode' compares with == or != only, got '<' at column 6 of 'mode < fp16'");
  EXPECT_EQ(ParseError("point == and"),
            "--fail-if: expected a name or quoted string after 'point==', got 'and' at column 10 of 'point == and'");
  EXPECT_EQ(ParseError("(mse > 1"), "--fail-if: expected ')', 'and' or 'or', got the end of '(mse > 1'");
  EXPECT_EQ(ParseError("mse > 1)"), "--fail-if: expected 'and', 'or' or the end, got ')' at column 8 of 'mse > 1)'");
  EXPECT_EQ(ParseError("mse > 1 mae > 1"),
            "--fail-if: expected 'and', 'or' or the end, got 'mae' at column 9 of 'mse > 1 mae > 1'");
  EXPECT_EQ(ParseError("mode == 'fp16"), "--fail-if: unterminated string starting at column 9 of 'mode == 'fp16'");
}

}  // namespace
}  // namespace layerscope::client
