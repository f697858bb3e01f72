#include "server/service/contained_path.h"

#include <algorithm>
#include <filesystem>

#include "core/util/error.h"

namespace layerscope::server {

namespace fs = std::filesystem;

std::string ResolveUnderRoot(const std::string& root, const std::string& relative, const std::string& field) {
  const std::string quoted = "\"" + relative + "\"";
  if (relative.empty()) {
    throw Error(ErrorKind::kInvalidArgument, field + ": empty; give a path relative to the server's data root");
  }
  const fs::path path(relative);
  if (path.is_absolute() || path.has_root_name()) {
    throw Error(ErrorKind::kInvalidArgument,
                field + ": " + quoted + " is absolute; give a path relative to the server's data root");
  }
  for (const fs::path& part : path) {
    if (part == "..") {
      throw Error(ErrorKind::kInvalidArgument,
                  field + ": " + quoted + " has a \"..\" component; paths stay inside the server's data root");
    }
  }
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec) throw Error(ErrorKind::kInternal, field + ": the server's data root cannot be read");
  const fs::path target = fs::canonical(canonical_root / path, ec);
  if (ec) throw Error(ErrorKind::kNotFound, field + ": " + quoted + " does not exist under the server's data root");
  // Symbolic links are resolved by canonical(): what remains must still start with the root, component by component.
  const auto [root_end, unused] =
      std::mismatch(canonical_root.begin(), canonical_root.end(), target.begin(), target.end());
  if (root_end != canonical_root.end()) {
    throw Error(ErrorKind::kInvalidArgument, field + ": " + quoted + " resolves outside the server's data root");
  }
  if (!fs::is_regular_file(target, ec)) {
    throw Error(ErrorKind::kInvalidArgument, field + ": " + quoted + " is not a regular file");
  }
  return target.string();
}

}  // namespace layerscope::server
