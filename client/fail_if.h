// FailIf: the `--fail-if EXPR` gate of the compare-like commands (grammar in client/FAIL_IF.md). The expression is
// parsed before any call to the server, so a typo fails at once, and evaluated on every row of the result; a CI
// pipeline fails when any row matches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

class FailIf {
 public:
  struct Node;

  // Parses `text`. On a syntax error returns null and sets *error to one line naming the offending token, its
  // column, and what would have been allowed there.
  static std::unique_ptr<FailIf> Parse(const std::string& text, std::string* error);
  ~FailIf();
  FailIf(const FailIf&) = delete;
  FailIf& operator=(const FailIf&) = delete;

  const std::string& text() const { return text_; }

  // The rows the expression is true for, in the order of `rows`. `last` and `first` mean the highest and lowest
  // layer among `rows`, i.e. among the layers compared.
  std::vector<const v1::MetricsRow*> Matches(const std::vector<v1::MetricsRow>& rows) const;

  // The stderr line for a matching row: where it is, the values of the metrics the expression names, and the
  // expression itself, e.g. `mode 2-1 layer 23 point mixer_output: corr=0.99912 (corr<0.9999 and layer==last)`.
  std::string Describe(const v1::MetricsRow& row) const;

 private:
  FailIf(std::string text, std::unique_ptr<Node> root, std::vector<std::string> metrics);

  std::string text_;
  std::unique_ptr<Node> root_;
  std::vector<std::string> metrics_;  // metric names in the expression, each once, in order of appearance
};

// The message that follows the report when rows match: one line per row (at most `max_lines`, then how many more),
// each prefixed `layerscope: fail-if: `.
std::string FailIfReport(const FailIf& gate, const std::vector<const v1::MetricsRow*>& matches, size_t max_lines = 20);

}  // namespace layerscope::client
