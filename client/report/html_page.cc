#include "client/report/html_page.h"

#include <utility>

#include "client/report/html_escape.h"

namespace layerscope::client::report {
namespace {

constexpr char kPolicy[] = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

constexpr char kStyle[] = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 40px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc; padding-top: 12px; }
h3 { font-size: 15px; margin-bottom: 4px; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 6px 0 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
td.excellent, td.perfect { color: #1a7f37; } td.very-good { color: #2f8f46; } td.good { color: #7d8a00; }
td.fair { color: #b35900; } td.poor { color: #c62828; font-weight: 600; }
figure { margin: 8px 0 18px; } figcaption { color: #555; font-size: 12px; max-width: 900px; }
.chart text { font: 11px system-ui, sans-serif; fill: #222; } .chart .chart-title { font-size: 13px; font-weight: 600; }
.chart .cell { font-size: 10px; } .chart .on-dark { fill: #fff; } .chart .axis { stroke: #444; } .chart .axis-title { font-size: 12px; }
.chart .missing { fill: #e4e4e4; } .chart .bar { fill: #4e79a7; }
.chart .marker { stroke: #c62828; stroke-dasharray: 4 3; } .chart .marker-label { fill: #c62828; }
.chart .series { fill: none; stroke-width: 1.5; }
.unavailable { background: #fff4e5; border-left: 4px solid #b35900; padding: 6px 10px; }
.note { color: #555; } label { margin-right: 12px; }
)css";

constexpr char kScript[] = R"js(
(function () {
  var choosers = document.querySelectorAll('select.chooser');
  function show(group) {
    var wanted = [];
    for (var i = 0; i < choosers.length; i++) {
      if (choosers[i].getAttribute('data-group') === group) wanted.push(choosers[i].value);
    }
    var key = wanted.join('|');
    var figures = document.querySelectorAll('figure[data-group]');
    for (var j = 0; j < figures.length; j++) {
      if (figures[j].getAttribute('data-group') !== group) continue;
      figures[j].style.display = figures[j].getAttribute('data-key') === key ? '' : 'none';
    }
  }
  for (var i = 0; i < choosers.length; i++) {
    choosers[i].addEventListener('change', function (event) { show(event.target.getAttribute('data-group')); });
    show(choosers[i].getAttribute('data-group'));
  }
  document.body.setAttribute('data-report-ready', 'yes');
})();
)js";

}  // namespace

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::AddSection(const std::string& id, const std::string& heading, std::string body) {
  sections_.push_back({id, heading, std::move(body)});
}

std::string HtmlPage::Render() const {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  html += "<meta http-equiv=\"Content-Security-Policy\" content=\"" + std::string(kPolicy) + "\">";
  html += "<title>" + EscapeHtml(title_) + "</title><style>" + kStyle + "</style></head>\n<body>\n";
  html += "<h1>" + EscapeHtml(title_) + "</h1>\n<nav>";
  for (const Section& section : sections_) {
    html += "<a href=\"#" + EscapeHtml(section.id) + "\">" + EscapeHtml(section.heading) + "</a>";
  }
  html += "</nav>\n";
  for (const Section& section : sections_) {
    html += "<section id=\"" + EscapeHtml(section.id) + "\"><h2>" + EscapeHtml(section.heading) + "</h2>\n" +
            section.body + "\n</section>\n";
  }
  html += "<script>" + std::string(kScript) + "</script>\n</body></html>\n";
  return html;
}

}  // namespace layerscope::client::report
