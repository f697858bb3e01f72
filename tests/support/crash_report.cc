// Linked into every test executable: when a test dies of a fatal signal, prints the crashing thread's backtrace to
// stderr before dying the same way, so that a crash on a machine no debugger can be attached to (the GPU machine,
// CI) still says where it happened.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <initializer_list>

namespace {

void OnFatalSignal(int signal_number) {
  static const char kHeader[] = "\n*** layerscope test: fatal signal, backtrace of the crashing thread:\n";
  ssize_t ignored = write(STDERR_FILENO, kHeader, sizeof kHeader - 1);
  (void)ignored;
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

const bool kInstalled = [] {
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(s, OnFatalSignal);
  return true;
}();

}  // namespace
