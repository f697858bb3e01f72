// Text formatting shared by the CLI's reports: printf into a std::string and plain ASCII tables. Every number goes
// through printf conversions in the C locale (the CLI never calls setlocale), so the same values always print byte
// for byte the same.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace layerscope::client {

std::string Format(const char* format, ...) __attribute__((format(printf, 1, 2)));

// `width` copies of `c` and a newline.
std::string Ruler(char c, int width);

// One line of a table: each cell left-aligned in its column and one space between columns, like the seed's
// f"{cell:<width}"; a longer cell pushes the rest right instead of being cut. Trailing blanks are dropped.
std::string TableLine(const std::vector<std::string>& cells, const std::vector<size_t>& widths);

// A table whose columns are as wide as their widest cell: the header, a dashed rule, the rows.
std::string TextTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// `text` broken into lines of at most `width` characters at blanks (a longer word gets a line of its own).
std::vector<std::string> WrapWords(const std::string& text, size_t width);

}  // namespace layerscope::client
