// Golden comparison of the client's text reports across machines. LibTorch's CPU kernels may round differently on
// another CPU model, so the goldens are compared structurally: the text with every number masked must match (runs
// of blanks count as one, since a number's width can shift the padding beside it), and each number must be close
// to its counterpart. Rating words next to a value on a threshold could still differ; none of the goldens' values
// sits near one.
#pragma once

#include <string>

namespace layerscope::e2e {

struct Tolerance {
  double relative = 1e-3;
  double absolute = 1e-9;
};

// "" when `actual` matches `expected`, else where and how it first differs. Integers (layers, counts, sizes) must
// be equal. Other numbers a and b match when |a - b| <= relative * max(|a|, |b|) + absolute + two units of the last
// printed digit: printing rounds each by up to half a unit, and a value printed with few significant digits (a
// mean difference near zero in %.6f) may move by a unit of its own.
std::string GoldenDifference(const std::string& expected, const std::string& actual,
                             const Tolerance& tolerance = Tolerance());

// The golden file tests/e2e/golden/NAME. With LAYERSCOPE_UPDATE_GOLDEN=1 in the environment, writes `actual` there
// and returns ""; else returns GoldenDifference against it (or why it could not be read).
std::string CheckGolden(const std::string& name, const std::string& actual);

}  // namespace layerscope::e2e
