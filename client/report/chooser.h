// Choosers: the report's way to show one figure of many. A group's <select class="chooser"> elements pick the parts
// of a key, and of the group's figures only the one whose key matches shows (HtmlPage's script does the showing;
// without script every figure shows, one below the other).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace layerscope::client::report {

// One <select> of `group`, labelled `label`; `options` are (value, text) pairs, the first one chosen at first.
std::string Chooser(const std::string& group, const std::string& label,
                    const std::vector<std::pair<std::string, std::string>>& options);

// A <figure> of `group` holding `content` (markup), shown when the group's choosers, in page order, pick
// `key_parts`.
std::string ChoosableFigure(const std::string& group, const std::vector<std::string>& key_parts,
                            const std::string& content);

}  // namespace layerscope::client::report
