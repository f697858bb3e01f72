// layerscope-hash-token: prints what the server's config needs for a token. The token is read from standard input,
// never from the command line, where ps and shell history would keep it.
//
//   layerscope-hash-token < token.txt          the SHA-256 of the token on stdin (first line)
//   layerscope-hash-token --new alice [admin]  a new token for alice, and her config entry "alice:role:hash"
#include <iostream>
#include <string>

#include "core/util/error.h"
#include "server/auth/token_store.h"

int main(int argc, char** argv) {
  using namespace layerscope::auth;
  const std::string usage =
      "usage: layerscope-hash-token < token-file\n"
      "       layerscope-hash-token --new USER [user|admin]\n";
  try {
    if (argc == 1) {
      std::string token;
      if (!std::getline(std::cin, token) || token.empty()) {
        std::cerr << "layerscope-hash-token: no token on standard input\n" << usage;
        return 2;
      }
      if (!token.empty() && token.back() == '\r') token.pop_back();
      std::cout << Sha256Hex(token) << "\n";
      return 0;
    }
    const std::string flag = argv[1];
    if (flag == "--new" && (argc == 3 || argc == 4)) {
      const std::string role = argc == 4 ? argv[3] : "user";
      const std::string token = NewToken();
      const std::string entry = std::string(argv[2]) + ":" + role + ":" + Sha256Hex(token);
      TokenStore check({ParseTokenEntry(entry)});  // refuses a bad user name or role before anything is printed
      std::cout << "token (give to " << argv[2] << ", keep secret): " << token << "\n"
                << "config entry: " << entry << "\n";
      return 0;
    }
    std::cerr << usage;
    return 2;
  } catch (const layerscope::Error& e) {
    std::cerr << "layerscope-hash-token: " << e.what() << "\n";
    return 1;
  }
}
