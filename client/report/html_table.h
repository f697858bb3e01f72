// HtmlTable: a table of the report: a header row and rows of cells, every text escaped. A cell may carry a CSS
// class (the rating words are coloured by theirs).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace layerscope::client::report {

struct HtmlCell {
  HtmlCell(std::string text) : text(std::move(text)) {}  // NOLINT: a plain string is a plain cell
  HtmlCell(std::string text, std::string css_class) : text(std::move(text)), css_class(std::move(css_class)) {}
  HtmlCell(const char* text) : text(text) {}  // NOLINT

  std::string text;
  std::string css_class;
};

// No header row when `header` is empty (a table of names and values).
std::string HtmlTable(const std::vector<std::string>& header, const std::vector<std::vector<HtmlCell>>& rows);

}  // namespace layerscope::client::report
