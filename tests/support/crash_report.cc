// Linked into every test executable: when a test dies of a fatal signal, prints where (the faulting address, the
// instruction pointer and the return address on top of the stack, each with the library and symbol it falls in)
// and the crashing thread's backtrace to stderr before dying the same way, so that a crash on a machine no debugger
// can be attached to (the GPU machine, CI) still says where it happened. The return address matters when the
// program jumped to an address without unwind information (a null function pointer), where backtraces stop.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <initializer_list>

namespace {

void Describe(const char* what, const void* address) {
  Dl_info info{};
  const bool known = address != nullptr && dladdr(address, &info) != 0;
  std::fprintf(stderr, "  %s %p in %s (%s)\n", what, address, known && info.dli_fname ? info.dli_fname : "?",
               known && info.dli_sname ? info.dli_sname : "?");
}

void OnFatalSignal(int signal_number, siginfo_t* signal_info, void* context) {
  std::fprintf(stderr, "\n*** layerscope test: fatal signal %d\n", signal_number);
  Describe("faulting address", signal_info->si_addr);
#if defined(__x86_64__)
  const auto* registers = static_cast<ucontext_t*>(context)->uc_mcontext.gregs;
  Describe("instruction pointer", reinterpret_cast<void*>(registers[REG_RIP]));
  Describe("return address on the stack", *reinterpret_cast<void* const*>(registers[REG_RSP]));
#else
  (void)context;
#endif
  void* frames[64];
  std::fflush(stderr);
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

const bool kInstalled = [] {
  struct sigaction action {};
  action.sa_sigaction = OnFatalSignal;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(s, &action, nullptr);
  return true;
}();

}  // namespace
