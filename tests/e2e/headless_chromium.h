// RenderInChromium: a local HTML file rendered by Debian's chromium without a display, as CI checks the HTML report:
// a screenshot, the DOM after the page's scripts ran, and every message the page wrote to the browser's console (an
// uncaught script error, a fetch the page's policy refused). CI runs tests as root, where chromium needs
// --no-sandbox.
#pragma once

#include <string>
#include <vector>

namespace layerscope::e2e {

struct RenderedPage {
  std::string screenshot_path;       // PNG of the window
  std::string dom;                   // the document after its scripts ran (--dump-dom)
  std::vector<std::string> console;  // the page's console messages, one line each, as chromium logs them
};

// The chromium binary the build found, empty when none.
std::string ChromiumPath();

// Renders `html_path` in a `width` x `height` window; writes the screenshot and chromium's logs under `work_dir`.
// Throws std::runtime_error (with chromium's log) when chromium is missing or does not produce the screenshot.
RenderedPage RenderInChromium(const std::string& html_path, const std::string& work_dir, int width, int height);

}  // namespace layerscope::e2e
