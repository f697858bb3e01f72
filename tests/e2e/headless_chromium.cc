#include "tests/e2e/headless_chromium.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace layerscope::e2e {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Single quotes for the shell.
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs chromium headless on `html_path` with `action` (--screenshot=..., --dump-dom), its stdout to WORK_DIR/NAME.out
// and its log to WORK_DIR/NAME.log. A fresh profile per run: nothing of an earlier run (or of a parallel test) is
// reused. /dev/shm is small in containers, where CI may run: chromium keeps its shared memory in /tmp instead.
void RunChromium(const std::string& html_path, const std::string& work_dir, const std::string& name,
                 const std::string& action, int width, int height) {
  const std::string command =
      "timeout 120 " + Quoted(ChromiumPath()) +
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars"
      " --enable-logging=stderr --v=0" +
      " --user-data-dir=" + Quoted(work_dir + "/profile-" + name) + " --window-size=" + std::to_string(width) + "," +
      std::to_string(height) + " " + action + " " + Quoted("file://" + html_path) + " >" +
      Quoted(work_dir + "/" + name + ".out") + " 2>" + Quoted(work_dir + "/" + name + ".log");
  const int status = std::system(command.c_str());
  if (status != 0) {
    throw std::runtime_error("chromium exited with status " + std::to_string(status) + ":\n" +
                             ReadAll(work_dir + "/" + name + ".log"));
  }
}

// The console messages in a chromium log: its lines "[...:INFO:CONSOLE:LINE] "message", source: URL (LINE)".
void CollectConsole(const std::string& log, std::vector<std::string>* console) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(":CONSOLE") != std::string::npos) console->push_back(line);
  }
}

}  // namespace

std::string ChromiumPath() { return LAYERSCOPE_CHROMIUM; }

RenderedPage RenderInChromium(const std::string& html_path, const std::string& work_dir, int width, int height) {
  if (ChromiumPath().empty()) {
    throw std::runtime_error("chromium is not installed (deploy/install-deps.sh installs it; then re-run cmake)");
  }
  RenderedPage page;
  page.screenshot_path = work_dir + "/screenshot.png";
  RunChromium(html_path, work_dir, "screenshot", "--screenshot=" + Quoted(page.screenshot_path), width, height);
  struct stat info {};
  if (stat(page.screenshot_path.c_str(), &info) != 0 || info.st_size == 0) {
    throw std::runtime_error("chromium wrote no screenshot:\n" + ReadAll(work_dir + "/screenshot.log"));
  }
  RunChromium(html_path, work_dir, "dom", "--dump-dom", width, height);
  page.dom = ReadAll(work_dir + "/dom.out");
  CollectConsole(ReadAll(work_dir + "/screenshot.log"), &page.console);
  CollectConsole(ReadAll(work_dir + "/dom.log"), &page.console);
  return page;
}

}  // namespace layerscope::e2e
