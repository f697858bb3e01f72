// layerscope: the command-line client of layerscoped (see client/cli.h and README.md).
#include <iostream>

#include "client/cli.h"

int main(int argc, char** argv) { return layerscope::client::RunCli(argc, argv, std::cout, std::cerr); }
