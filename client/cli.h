// The `layerscope` command line: subcommands and options (CLI11), run, and every failure turned into one line
// `layerscope: error: <message>` on `err` and an exit code (client/errors.h).
#pragma once

#include <ostream>

namespace layerscope::client {

// Runs the command line `argv` (argv[0] is the program); reports go to `out`, help text too. Returns the exit code.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace layerscope::client
