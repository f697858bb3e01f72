#include "client/report/html_table.h"

#include "client/report/html_escape.h"

namespace layerscope::client::report {

std::string HtmlTable(const std::vector<std::string>& header, const std::vector<std::vector<HtmlCell>>& rows) {
  std::string html = "<table>";
  if (!header.empty()) {
    html += "<thead><tr>";
    for (const std::string& name : header) html += "<th>" + EscapeHtml(name) + "</th>";
    html += "</tr></thead>";
  }
  html += "<tbody>";
  for (const std::vector<HtmlCell>& row : rows) {
    html += "<tr>";
    for (const HtmlCell& cell : row) {
      html += cell.css_class.empty() ? "<td>" : "<td class=\"" + EscapeHtml(cell.css_class) + "\">";
      html += EscapeHtml(cell.text) + "</td>";
    }
    html += "</tr>";
  }
  return html + "</tbody></table>";
}

}  // namespace layerscope::client::report
