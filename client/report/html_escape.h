// EscapeHtml: text made safe to place between HTML tags or inside a quoted attribute value, of the page or of its
// inline SVG. Every string the report did not write itself (model, mode and point names, a user's composed mode,
// the server's error messages) goes through it, so none can inject markup or script into the page.
#pragma once

#include <string>

namespace layerscope::client::report {

// & < > " ' as character references; every other byte unchanged.
std::string EscapeHtml(const std::string& text);

}  // namespace layerscope::client::report
