// Paths that callers send (DataSource.file) are resolved inside one root folder and may not reach beyond it:
// absolute paths, ".." components and symbolic links that resolve outside the root are refused. Messages name the
// path as the caller gave it, never the server's absolute paths.
#pragma once

#include <string>

namespace layerscope::server {

// The canonical path of the regular file `relative` names under `root`. Throws Error naming `field`:
// kInvalidArgument for an empty or absolute path, a ".." component, a path that resolves outside `root` or one that
// is not a regular file; kNotFound when nothing is there.
std::string ResolveUnderRoot(const std::string& root, const std::string& relative, const std::string& field);

}  // namespace layerscope::server
