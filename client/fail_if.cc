#include "client/fail_if.h"

#include <locale.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

namespace layerscope::client {
namespace {

using MetricGetter = std::optional<double> (*)(const v1::Metrics&);

struct MetricName {
  const char* name;
  MetricGetter get;
};

// The optional fields are the ones the server leaves out where the metric is undefined.
const MetricName kMetrics[] = {
    {"mse", [](const v1::Metrics& m) -> std::optional<double> { return m.mse(); }},
    {"rmse", [](const v1::Metrics& m) -> std::optional<double> { return m.rmse(); }},
    {"mae", [](const v1::Metrics& m) -> std::optional<double> { return m.mae(); }},
    {"rel_mse", [](const v1::Metrics& m) -> std::optional<double> { return m.relative_mse(); }},
    {"rel_mae", [](const v1::Metrics& m) -> std::optional<double> { return m.relative_mae(); }},
    {"corr",
     [](const v1::Metrics& m) { return m.has_correlation() ? std::optional<double>(m.correlation()) : std::nullopt; }},
    {"cosine", [](const v1::Metrics& m) { return m.has_cosine() ? std::optional<double>(m.cosine()) : std::nullopt; }},
    {"sqnr", [](const v1::Metrics& m) { return m.has_sqnr_db() ? std::optional<double>(m.sqnr_db()) : std::nullopt; }},
    {"p50", [](const v1::Metrics& m) -> std::optional<double> { return m.p50(); }},
    {"p90", [](const v1::Metrics& m) -> std::optional<double> { return m.p90(); }},
    {"p95", [](const v1::Metrics& m) -> std::optional<double> { return m.p95(); }},
    {"p99", [](const v1::Metrics& m) -> std::optional<double> { return m.p99(); }},
    {"max_abs_diff", [](const v1::Metrics& m) -> std::optional<double> { return m.max_abs_diff(); }},
    {"mean_abs_diff", [](const v1::Metrics& m) -> std::optional<double> { return m.mean_abs_diff(); }},
};

const char kAllowedNames[] =
    "names: mse rmse mae rel_mse rel_mae corr cosine sqnr p50 p90 p95 p99 max_abs_diff mean_abs_diff layer mode "
    "point";
const char kAllowedOperators[] = "operators: < <= > >= == !=";

MetricGetter FindMetric(const std::string& name) {
  for (const MetricName& metric : kMetrics) {
    if (name == metric.name) return metric.get;
  }
  return nullptr;
}

enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

template <typename T>
bool Compare(const T& a, Op op, const T& b) {
  switch (op) {
    case Op::kLess: return a < b;
    case Op::kLessEqual: return a <= b;
    case Op::kGreater: return a > b;
    case Op::kGreaterEqual: return a >= b;
    case Op::kEqual: return a == b;
    case Op::kNotEqual: return a != b;
  }
  return false;
}

// strtod follows LC_NUMERIC; the grammar's numbers are C's whatever locale the user runs in.
std::optional<double> ParseNumber(const std::string& word) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  char* end = nullptr;
  const double value = strtod_l(word.c_str(), &end, c_locale);
  if (end == word.c_str() || *end != '\0' || std::isnan(value)) return std::nullopt;
  return value;
}

std::optional<int> ParseInt(const std::string& word) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(word.c_str(), &end, 10);
  if (end == word.c_str() || *end != '\0' || errno != 0 || value < INT_MIN || value > INT_MAX) return std::nullopt;
  return static_cast<int>(value);
}

struct Token {
  enum Kind { kWord, kString, kOperator, kOpen, kClose, kEnd };
  Kind kind;
  std::string text;
  size_t column;  // 1-based, for the error message
};

bool IsKeyword(const Token& token) {
  return token.kind == Token::kWord && (token.text == "and" || token.text == "or" || token.text == "not");
}

class ParseError {
 public:
  explicit ParseError(std::string message) : message(std::move(message)) {}
  std::string message;
};

}  // namespace

struct FailIf::Node {
  enum Kind { kOr, kAnd, kNot, kComparison };
  enum Subject { kMetric, kLayer, kMode, kPoint };
  enum LayerValue { kLayerNumber, kFirst, kLast };

  Kind kind = kComparison;
  std::unique_ptr<Node> left;   // kOr, kAnd, kNot
  std::unique_ptr<Node> right;  // kOr, kAnd

  Subject subject = kMetric;
  Op op = Op::kEqual;
  MetricGetter metric = nullptr;
  double number = 0;
  LayerValue layer_value = kLayerNumber;
  int layer = 0;
  std::string word;  // kMode, kPoint
};

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  std::unique_ptr<FailIf::Node> Parse() {
    Tokenize();
    if (tokens_.front().kind == Token::kEnd)
      throw ParseError(std::string("--fail-if: empty expression (") + kAllowedNames + ")");
    std::unique_ptr<FailIf::Node> root = Expr();
    if (Peek().kind != Token::kEnd) Fail(Peek(), "expected 'and', 'or' or the end", "");
    return root;
  }

  std::vector<std::string> metrics() const { return metrics_; }

 private:
  std::string Describe(const Token& token) const {
    if (token.kind == Token::kEnd) return "the end";
    if (token.kind == Token::kString) return "'" + token.text + "' (a quoted string)";
    return "'" + token.text + "'";
  }

  [[noreturn]] void Fail(const Token& token, const std::string& expected, const std::string& allowed) const {
    std::string message = "--fail-if: " + expected + ", got " + Describe(token);
    if (token.kind != Token::kEnd) message += " at column " + std::to_string(token.column);
    message += " of '" + text_ + "'";
    if (!allowed.empty()) message += " (" + allowed + ")";
    throw ParseError(message);
  }

  void Tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      const size_t column = i + 1;
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.push_back({c == '(' ? Token::kOpen : Token::kClose, std::string(1, c), column});
        ++i;
      } else if (c == '<' || c == '>' || c == '=' || c == '!') {
        const bool two = i + 1 < text_.size() && text_[i + 1] == '=';
        const std::string op = text_.substr(i, two ? 2 : 1);
        if (op == "=" || op == "!") {
          throw ParseError("--fail-if: unknown operator '" + op + "' at column " + std::to_string(column) + " of '" +
                           text_ + "' (" + kAllowedOperators + ")");
        }
        tokens_.push_back({Token::kOperator, op, column});
        i += op.size();
      } else if (c == '\'' || c == '"') {
        const size_t close = text_.find(c, i + 1);
        if (close == std::string::npos) {
          throw ParseError("--fail-if: unterminated string starting at column " + std::to_string(column) + " of '" +
                           text_ + "'");
        }
        tokens_.push_back({Token::kString, text_.substr(i + 1, close - i - 1), column});
        i = close + 1;
      } else {
        // A word runs to the next space, parenthesis, operator or quote, so numbers such as 1e-3 and mode names
        // such as 2-1 are one word each.
        size_t end = i;
        while (end < text_.size() && std::string(" \t\n\r()<>=!'\"").find(text_[end]) == std::string::npos) ++end;
        tokens_.push_back({Token::kWord, text_.substr(i, end - i), column});
        i = end;
      }
    }
    tokens_.push_back({Token::kEnd, "", text_.size() + 1});
  }

  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool AtKeyword(const char* keyword) const { return Peek().kind == Token::kWord && Peek().text == keyword; }

  static std::unique_ptr<FailIf::Node> Join(FailIf::Node::Kind kind, std::unique_ptr<FailIf::Node> left,
                                            std::unique_ptr<FailIf::Node> right) {
    auto node = std::make_unique<FailIf::Node>();
    node->kind = kind;
    node->left = std::move(left);
    node->right = std::move(right);
    return node;
  }

  std::unique_ptr<FailIf::Node> Expr() {
    std::unique_ptr<FailIf::Node> node = Term();
    while (AtKeyword("or")) {
      Next();
      node = Join(FailIf::Node::kOr, std::move(node), Term());
    }
    return node;
  }

  std::unique_ptr<FailIf::Node> Term() {
    std::unique_ptr<FailIf::Node> node = Factor();
    while (AtKeyword("and")) {
      Next();
      node = Join(FailIf::Node::kAnd, std::move(node), Factor());
    }
    return node;
  }

  std::unique_ptr<FailIf::Node> Factor() {
    if (AtKeyword("not")) {
      Next();
      return Join(FailIf::Node::kNot, Factor(), nullptr);
    }
    if (Peek().kind == Token::kOpen) {
      Next();
      std::unique_ptr<FailIf::Node> node = Expr();
      if (Peek().kind != Token::kClose) Fail(Peek(), "expected ')', 'and' or 'or'", "");
      Next();
      return node;
    }
    return Comparison();
  }

  std::unique_ptr<FailIf::Node> Comparison() {
    const Token name = Next();
    if (name.kind != Token::kWord || IsKeyword(name)) Fail(name, "expected a name, 'not' or '('", kAllowedNames);
    auto node = std::make_unique<FailIf::Node>();
    if (name.text == "layer") {
      node->subject = FailIf::Node::kLayer;
    } else if (name.text == "mode") {
      node->subject = FailIf::Node::kMode;
    } else if (name.text == "point") {
      node->subject = FailIf::Node::kPoint;
    } else if ((node->metric = FindMetric(name.text)) != nullptr) {
      node->subject = FailIf::Node::kMetric;
      if (std::find(metrics_.begin(), metrics_.end(), name.text) == metrics_.end()) metrics_.push_back(name.text);
    } else {
      Fail(name, "expected a known name", kAllowedNames);
    }

    const Token op = Next();
    if (op.kind != Token::kOperator) Fail(op, "expected an operator after '" + name.text + "'", kAllowedOperators);
    const char* const kOps[] = {"<", "<=", ">", ">=", "==", "!="};
    for (int i = 0; i < 6; ++i) {
      if (op.text == kOps[i]) node->op = static_cast<Op>(i);
    }
    const bool equality = node->op == Op::kEqual || node->op == Op::kNotEqual;

    const Token value = Next();
    switch (node->subject) {
      case FailIf::Node::kMetric: {
        const std::optional<double> number =
            value.kind == Token::kWord ? ParseNumber(value.text) : std::optional<double>();
        if (!number) Fail(value, "expected a number after '" + name.text + op.text + "'", "");
        node->number = *number;
        break;
      }
      case FailIf::Node::kLayer: {
        const std::optional<int> layer = value.kind == Token::kWord ? ParseInt(value.text) : std::optional<int>();
        if (value.kind == Token::kWord && value.text == "last") {
          node->layer_value = FailIf::Node::kLast;
        } else if (value.kind == Token::kWord && value.text == "first") {
          node->layer_value = FailIf::Node::kFirst;
        } else if (layer) {
          node->layer = *layer;
        } else {
          Fail(value, "expected a layer number, 'last' or 'first' after 'layer" + op.text + "'", "");
        }
        break;
      }
      case FailIf::Node::kMode:
      case FailIf::Node::kPoint:
        if (!equality) Fail(op, "'" + name.text + "' compares with == or != only", "");
        if (value.kind == Token::kString || (value.kind == Token::kWord && !IsKeyword(value))) {
          node->word = value.text;
        } else {
          Fail(value, "expected a name or quoted string after '" + name.text + op.text + "'", "");
        }
        break;
    }
    return node;
  }

  const std::string& text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<std::string> metrics_;
};

struct LayerRange {
  int first;
  int last;
};

bool Evaluate(const FailIf::Node& node, const v1::MetricsRow& row, const LayerRange& layers) {
  switch (node.kind) {
    case FailIf::Node::kOr: return Evaluate(*node.left, row, layers) || Evaluate(*node.right, row, layers);
    case FailIf::Node::kAnd: return Evaluate(*node.left, row, layers) && Evaluate(*node.right, row, layers);
    case FailIf::Node::kNot: return !Evaluate(*node.left, row, layers);
    case FailIf::Node::kComparison: break;
  }
  switch (node.subject) {
    case FailIf::Node::kMetric: {
      // An undefined metric satisfies no comparison, != included: a gate on correlation must not fire on a
      // constant tensor, whose correlation is no number at all.
      const std::optional<double> value = node.metric(row.metrics());
      return value && !std::isnan(*value) && Compare(*value, node.op, node.number);
    }
    case FailIf::Node::kLayer: {
      const int layer = node.layer_value == FailIf::Node::kLast    ? layers.last
                        : node.layer_value == FailIf::Node::kFirst ? layers.first
                                                                   : node.layer;
      return Compare(row.layer(), node.op, layer);
    }
    case FailIf::Node::kMode: return Compare(row.mode(), node.op, node.word);
    case FailIf::Node::kPoint: return Compare(row.point(), node.op, node.word);
  }
  return false;
}

}  // namespace

std::unique_ptr<FailIf> FailIf::Parse(const std::string& text, std::string* error) {
  Parser parser(text);
  try {
    std::unique_ptr<Node> root = parser.Parse();
    return std::unique_ptr<FailIf>(new FailIf(text, std::move(root), parser.metrics()));
  } catch (const ParseError& e) {
    *error = e.message;
    return nullptr;
  }
}

FailIf::FailIf(std::string text, std::unique_ptr<Node> root, std::vector<std::string> metrics)
    : text_(std::move(text)), root_(std::move(root)), metrics_(std::move(metrics)) {}

FailIf::~FailIf() = default;

std::vector<const v1::MetricsRow*> FailIf::Matches(const std::vector<v1::MetricsRow>& rows) const {
  std::vector<const v1::MetricsRow*> matches;
  if (rows.empty()) return matches;
  LayerRange layers{rows.front().layer(), rows.front().layer()};
  for (const v1::MetricsRow& row : rows) {
    layers.first = std::min(layers.first, row.layer());
    layers.last = std::max(layers.last, row.layer());
  }
  for (const v1::MetricsRow& row : rows) {
    if (Evaluate(*root_, row, layers)) matches.push_back(&row);
  }
  return matches;
}

std::string FailIf::Describe(const v1::MetricsRow& row) const {
  std::string line = "mode " + row.mode() + " layer " + std::to_string(row.layer()) + " point " + row.point();
  for (size_t i = 0; i < metrics_.size(); ++i) {
    line += i == 0 ? ": " : ", ";
    line += metrics_[i] + "=";
    const std::optional<double> value = FindMetric(metrics_[i])(row.metrics());
    if (value) {
      // Eight digits: enough to see why a value near the threshold matched.
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.8g", *value);
      line += buffer;
    } else {
      line += "undefined";
    }
  }
  return line + " (" + text_ + ")";
}

std::string FailIfReport(const FailIf& gate, const std::vector<const v1::MetricsRow*>& matches, size_t max_lines) {
  std::string report;
  for (size_t i = 0; i < matches.size() && i < max_lines; ++i) {
    report += "layerscope: fail-if: " + gate.Describe(*matches[i]) + "\n";
  }
  if (matches.size() > max_lines) {
    report += "layerscope: fail-if: " + std::to_string(matches.size() - max_lines) + " more matching rows (" +
              std::to_string(matches.size()) + " in all)\n";
  }
  return report;
}

}  // namespace layerscope::client
