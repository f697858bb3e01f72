#include "client/save.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "client/errors.h"
#include "client/npy.h"
#include "client/progress_bar.h"
#include "client/save_digest.h"
#include "client/text_format.h"

namespace layerscope::client {
namespace {

namespace fs = std::filesystem;

// Count, mean and centred second moment of the elements seen so far, merged chunk by chunk (Chan et al.), so that
// the std of values far from zero does not cancel; plus the extrema and the mean of |x|.
class ArrayStats {
 public:
  void Add(const float* values, size_t n) {
    if (n == 0) return;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const double v = values[i];
      sum += v;
      sum_abs_ += std::fabs(v);
      if (count_ == 0 && i == 0) min_ = max_ = v;
      min_ = std::fmin(min_, v);
      max_ = std::fmax(max_, v);
    }
    const double chunk_mean = sum / static_cast<double>(n);
    double chunk_m2 = 0;
    for (size_t i = 0; i < n; ++i) chunk_m2 += (values[i] - chunk_mean) * (values[i] - chunk_mean);
    const double na = static_cast<double>(count_), nb = static_cast<double>(n), total = na + nb;
    const double delta = chunk_mean - mean_;
    mean_ += delta * (nb / total);
    m2_ += chunk_m2 + delta * delta * (na * nb / total);
    count_ += static_cast<int64_t>(n);
  }

  nlohmann::ordered_json ToJson(const v1::SavedFile& file) const {
    nlohmann::ordered_json json;
    json["shape"] = std::vector<int64_t>(file.shape().begin(), file.shape().end());
    json["dtype"] = file.dtype();
    json["mean"] = mean_;
    json["std"] = count_ > 0 ? std::sqrt(m2_ / static_cast<double>(count_)) : 0.0;
    json["min"] = min_;
    json["max"] = max_;
    json["abs_mean"] = count_ > 0 ? sum_abs_ / static_cast<double>(count_) : 0.0;
    return json;
  }

 private:
  int64_t count_ = 0;
  double mean_ = 0, m2_ = 0, sum_abs_ = 0, min_ = 0, max_ = 0;
};

// One array being written: the .npy header first, then the data as it arrives, in offset order.
struct OpenFile {
  v1::SavedFile file;
  std::ofstream out;
  int64_t received = 0;
  Sha256 digest;
  ArrayStats stats;
  bool ended = false;
};

std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// Receives a Save stream into `dir`, checking every chunk against the plan.
class SaveWriter {
 public:
  explicit SaveWriter(fs::path dir) : dir_(std::move(dir)) {}

  void Begin(const v1::SavedFile& file) {
    const fs::path relative(file.path());
    if (relative.is_absolute() || std::find(relative.begin(), relative.end(), "..") != relative.end()) {
      Fail("the server named a file outside the output folder: " + file.path());
    }
    auto [entry, inserted] = files_.try_emplace(file.path());
    if (!inserted) Fail("the server sent " + file.path() + " twice");
    OpenFile& open = entry->second;
    open.file = file;
    const fs::path path = dir_ / relative;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw ClientError(kExitFailure, "save: cannot create " + path.parent_path().string() + ": " + ec.message());
    open.out.open(path, std::ios::binary | std::ios::trunc);
    const std::string header = NpyFloat32Header(std::vector<int64_t>(file.shape().begin(), file.shape().end()));
    open.out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (!open.out) throw ClientError(kExitFailure, "save: cannot write " + path.string());
    order_.push_back(file.path());
  }

  void Data(const v1::FileData& data) {
    OpenFile& open = Find(data.path());
    if (open.ended || data.offset() != open.received) {
      Fail(data.path() + ": data at offset " + std::to_string(data.offset()) + " where " +
           std::to_string(open.received) + " was expected");
    }
    if (data.data().size() % 4 != 0 ||
        open.received + static_cast<int64_t>(data.data().size()) > open.file.data_bytes()) {
      Fail(data.path() + ": more data than its shape holds");
    }
    open.out.write(data.data().data(), static_cast<std::streamsize>(data.data().size()));
    if (!open.out) throw ClientError(kExitFailure, "save: cannot write " + (dir_ / data.path()).string());
    open.digest.Update(data.data().data(), data.data().size());
    // The bytes of a protobuf string carry no alignment guarantee: copy them into floats.
    std::vector<float> values(data.data().size() / 4);
    std::memcpy(values.data(), data.data().data(), data.data().size());
    open.stats.Add(values.data(), values.size());
    open.received += static_cast<int64_t>(data.data().size());
    bytes_ += static_cast<int64_t>(data.data().size());
  }

  void End(const v1::FileEnd& end) {
    OpenFile& open = Find(end.path());
    if (open.received != open.file.data_bytes() || end.size() != open.received) {
      Fail(end.path() + ": received " + std::to_string(open.received) + " bytes, the server says " +
           std::to_string(end.size()) + ", its shape needs " + std::to_string(open.file.data_bytes()));
    }
    const std::string digest = open.digest.HexDigest();
    if (digest != end.sha256()) {
      Fail(end.path() + ": SHA-256 " + digest + " of the data received differs from the server's " + end.sha256());
    }
    open.out.close();
    if (!open.out) throw ClientError(kExitFailure, "save: cannot write " + (dir_ / end.path()).string());
    open.ended = true;
  }

  // Writes mode_<mode>_stats.json of every mode, after checking that every planned file arrived whole.
  void Finish(const v1::SaveSummary& summary) {
    const v1::SavePlan& plan = summary.plan();
    if (static_cast<int>(order_.size()) != plan.files_size()) {
      Fail("the server sent " + std::to_string(order_.size()) + " files of the " + std::to_string(plan.files_size()) +
           " planned");
    }
    const std::string timestamp = UtcTimestamp();
    for (const std::string& mode : plan.modes()) {
      nlohmann::ordered_json json;
      json["timestamp"] = timestamp;
      json["mode"] = mode;
      json["num_samples"] = plan.samples();
      json["seq_length"] = plan.seq_len();
      json["model_dtype"] = plan.model_dtype();
      json["model"] = plan.model();
      json["layers"] = std::vector<int>(plan.layers().begin(), plan.layers().end());
      json["points"] = std::vector<std::string>(plan.points().begin(), plan.points().end());
      json["batch_size"] = plan.batch_size();
      json["device"] = summary.device();
      nlohmann::ordered_json& stats = json["stats"];
      stats = nlohmann::ordered_json::object();
      for (const v1::SavedFile& file : plan.files()) {
        if (file.mode() != mode) continue;
        const OpenFile& open = Find(file.path());
        if (!open.ended) Fail(file.path() + ": the stream ended before the file did");
        stats["layer_" + std::to_string(file.layer()) + "_" + file.point()] = open.stats.ToJson(open.file);
      }
      const fs::path path = dir_ / ("mode_" + mode + "_stats.json");
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << json.dump(2) << "\n";
      out.close();
      if (!out) throw ClientError(kExitFailure, "save: cannot write " + path.string());
    }
  }

  int64_t bytes() const { return bytes_; }

 private:
  [[noreturn]] static void Fail(const std::string& what) { throw ClientError(kExitFailure, "save: " + what); }

  OpenFile& Find(const std::string& path) {
    const auto it = files_.find(path);
    if (it == files_.end()) Fail("the server sent data of " + path + ", which it never began");
    return it->second;
  }

  fs::path dir_;
  std::map<std::string, OpenFile> files_;
  std::vector<std::string> order_;  // paths in the order they began
  int64_t bytes_ = 0;
};

// Asks on `err`, reads the answer from `in`: true for "y" or "yes".
bool Confirm(const std::string& question, std::istream& in, std::ostream& err) {
  err << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(in, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

v1::SaveRequest SaveRequestFrom(const v1::CompareRequest& request) {
  v1::SaveRequest save;
  save.set_model(request.model());
  *save.mutable_modes() = request.modes();
  *save.mutable_layers() = request.layers();
  *save.mutable_points() = request.points();
  if (request.has_data()) *save.mutable_data() = request.data();
  save.set_samples(request.samples());
  save.set_seq_len(request.seq_len());
  save.set_batch_size(request.batch_size());
  *save.mutable_custom_modes() = request.custom_modes();
  return save;
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  return Format("%.1f %s", value, units[unit]);
}

void RunSave(Connection& connection, const v1::SaveRequest& request, const SaveOptions& options, std::istream& in,
             bool in_is_terminal, std::ostream& out, std::ostream& err) {
  const v1::SavePlan plan = connection.PlanSave(request);
  out << "save: " << plan.files_size() << " arrays of " << plan.modes_size() << " mode(s), "
      << HumanBytes(plan.total_bytes()) << " (" << plan.samples() << " samples x " << plan.seq_len() << " tokens) into "
      << options.out_dir << "\n"
      << std::flush;
  const int64_t threshold = options.confirm_above_mib * (int64_t{1} << 20);
  if (!options.yes && plan.total_bytes() > threshold) {
    const std::string over = HumanBytes(plan.total_bytes()) + " is over --confirm-above " +
                             std::to_string(options.confirm_above_mib) + " MiB";
    if (!in_is_terminal) {
      throw ClientError(kExitUsage, "save: " + over +
                                        " and stdin is not a terminal to ask on; pass --yes to save anyway, or "
                                        "narrow --layers, --points or --samples");
    }
    if (!Confirm("save: " + over + ". Download it?", in, err)) {
      throw ClientError(kExitFailure, "save: not confirmed; nothing was downloaded");
    }
  }

  SaveWriter writer(options.out_dir);
  ProgressBar progress(stderr, isatty(fileno(stderr)) == 1);
  bool finished = false;
  connection.Save(request, [&](const v1::SaveChunk& chunk) {
    switch (chunk.event_case()) {
      case v1::SaveChunk::kProgress: progress.Update(chunk.progress()); break;
      case v1::SaveChunk::kBegin: writer.Begin(chunk.begin().file()); break;
      case v1::SaveChunk::kData: writer.Data(chunk.data()); break;
      case v1::SaveChunk::kEnd: writer.End(chunk.end()); break;
      case v1::SaveChunk::kSummary:
        writer.Finish(chunk.summary());
        finished = true;
        break;
      // A newer server's event this client does not know: skipping it keeps the client compatible.
      case v1::SaveChunk::EVENT_NOT_SET: break;
    }
  });
  progress.Clear();
  if (!finished) throw ClientError(kExitFailure, "save: the server ended the stream without a summary");
  out << "save: wrote " << plan.files_size() << " arrays (" << HumanBytes(writer.bytes()) << ", sizes and SHA-256 "
      << "checked) and " << plan.modes_size() << " stats file(s) into " << options.out_dir << "\n";
}

}  // namespace layerscope::client
