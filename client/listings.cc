#include "client/listings.h"

#include <cctype>
#include <ctime>
#include <vector>

#include "client/text_format.h"

namespace layerscope::client {
namespace {

// "2026-11-26 01:02:03" (UTC) for milliseconds since the epoch; "" for 0 (not happened).
std::string UtcTime(int64_t unix_ms) {
  if (unix_ms == 0) return "";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &utc);
  return text;
}

// "succeeded" for JOB_STATE_SUCCEEDED.
std::string StateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  name = name.substr(std::string("JOB_STATE_").size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string ResumeName(v1::JobResume resume) {
  switch (resume) {
    case v1::JOB_RESUME_RESUMED: return "resumed after its last finished mode";
    case v1::JOB_RESUME_RESTARTED: return "restarted from the beginning";
    default: return "";
  }
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (end > begin) lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

}  // namespace

std::string ModesTable(const v1::ListModesResponse& modes) {
  // The descriptions and stage lists are sentences; they wrap in their column so the table fits a terminal.
  constexpr size_t kTextWidth = 80;
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModeInfo& mode : modes.modes()) {
    std::string stages;
    for (const std::string& stage : mode.quantized_stages()) stages += (stages.empty() ? "" : ", ") + stage;
    const std::string kind = !mode.precision().empty() ? mode.precision() : mode.quantized() ? "W8A8" : "-";
    std::vector<std::string> text = WrapWords(mode.description(), kTextWidth);
    if (!stages.empty()) {
      for (const std::string& line : WrapWords("quantized: " + stages, kTextWidth)) text.push_back(line);
    }
    if (text.empty()) text.push_back("");
    for (size_t i = 0; i < text.size(); ++i) {
      rows.push_back({i == 0 ? mode.name() : "", i == 0 ? kind : "", text[i]});
    }
  }
  std::string out = TextTable({"Name", "Precision", "Description"}, rows);
  if (!modes.spec_syntax().empty()) {
    out += "\nCompose a mode with --mode-spec 'NAME:field=value,...'; fields:\n";
    for (const std::string& line : Lines(modes.spec_syntax())) out += "  " + line + "\n";
  }
  return out;
}

std::string ModelsTable(const v1::ListModelsResponse& models) {
  std::vector<std::vector<std::string>> rows;
  std::string quantization;
  for (const v1::ModelInfo& m : models.models()) {
    rows.push_back({m.name(), m.is_default() ? "yes" : "", m.layout(), m.device(), std::to_string(m.n_layer()),
                    std::to_string(m.d_model()), std::to_string(m.d_inner()), std::to_string(m.d_state()),
                    std::to_string(m.vocab_size()), std::to_string(m.parameters()), m.float_available() ? "yes" : "no",
                    m.quantized_available() ? "yes" : "no", m.weights()});
    if (!m.quantization().empty()) quantization += "  " + m.name() + ": " + m.quantization() + "\n";
  }
  std::string out = TextTable({"Name", "Default", "Layout", "Device", "Layers", "d_model", "d_inner", "d_state",
                               "Vocab", "Parameters", "Float", "W8A8", "Weights"},
                              rows);
  if (!quantization.empty()) out += "\nW8A8 models:\n" + quantization;
  return out;
}

std::string PointsTable(const v1::ListCapturePointsResponse& points) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::CapturePointInfo& point : points.points()) {
    rows.push_back({point.name(), point.is_default() ? "yes" : "", point.description()});
  }
  return TextTable({"Name", "Default", "Description"}, rows);
}

std::string JobsTable(const v1::ListJobsResponse& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Job& job : jobs.jobs()) {
    rows.push_back({job.id(), job.owner(), StateName(job.state()),
                    Format("%lld/%lld", static_cast<long long>(job.progress().steps_done()),
                           static_cast<long long>(job.progress().steps_total())),
                    std::to_string(job.rows()), UtcTime(job.created_unix_ms())});
  }
  return TextTable({"Id", "Owner", "State", "Steps", "Rows", "Created (UTC)"}, rows);
}

std::string JobDetails(const v1::Job& job) {
  std::string out;
  const auto field = [&out](const std::string& name, const std::string& value) {
    if (!value.empty()) out += name + ": " + value + "\n";
  };
  field("id", job.id());
  field("owner", job.owner());
  field("state", StateName(job.state()));
  field("steps", Format("%lld/%lld", static_cast<long long>(job.progress().steps_done()),
                        static_cast<long long>(job.progress().steps_total())));
  field("rows", std::to_string(job.rows()));
  field("created", UtcTime(job.created_unix_ms()));
  field("started", UtcTime(job.started_unix_ms()));
  field("finished", UtcTime(job.finished_unix_ms()));
  field("error", job.error_code().empty() ? job.error() : job.error_code() + ": " + job.error());
  field("resume", ResumeName(job.resume()));
  if (job.interruptions() > 0) field("interruptions", std::to_string(job.interruptions()));
  field("note", job.note());
  field("cached from", job.cached_from());
  return out;
}

}  // namespace layerscope::client
