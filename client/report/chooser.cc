#include "client/report/chooser.h"

#include "client/report/html_escape.h"

namespace layerscope::client::report {

std::string Chooser(const std::string& group, const std::string& label,
                    const std::vector<std::pair<std::string, std::string>>& options) {
  std::string html =
      "<label>" + EscapeHtml(label) + " <select class=\"chooser\" data-group=\"" + EscapeHtml(group) + "\">";
  for (const auto& [value, text] : options) {
    html += "<option value=\"" + EscapeHtml(value) + "\">" + EscapeHtml(text) + "</option>";
  }
  return html + "</select></label>";
}

std::string ChoosableFigure(const std::string& group, const std::vector<std::string>& key_parts,
                            const std::string& content) {
  // Joined as the page's script joins the choosers' values.
  std::string key;
  for (size_t i = 0; i < key_parts.size(); ++i) key += (i ? "|" : "") + key_parts[i];
  return "<figure data-group=\"" + EscapeHtml(group) + "\" data-key=\"" + EscapeHtml(key) + "\">" + content +
         "</figure>";
}

}  // namespace layerscope::client::report
