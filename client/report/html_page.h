// HtmlPage: the report as one self-contained HTML document: inline CSS, inline SVG, a few lines of inline script
// and nothing fetched. Its Content-Security-Policy forbids every fetch, so a page that tried one (an image, a font,
// a script) would fail loudly in the browser's console rather than depend on the network unnoticed.
//
// The script does one thing: a <select class="chooser" data-group="G"> shows the figures of group G whose
// data-key is the chosen option and hides the others (the heatmap per metric and point). Without script every
// figure shows. When it has run it marks <body data-report-ready="yes">, which the browser test checks.
#pragma once

#include <string>
#include <vector>

namespace layerscope::client::report {

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);

  // A section with an <h2> `heading` and the HTML `body` (the caller's markup, already escaped); `id` is its
  // anchor in the table of contents.
  void AddSection(const std::string& id, const std::string& heading, std::string body);

  std::string Render() const;

 private:
  struct Section {
    std::string id;
    std::string heading;
    std::string body;
  };
  std::string title_;
  std::vector<Section> sections_;
};

}  // namespace layerscope::client::report
