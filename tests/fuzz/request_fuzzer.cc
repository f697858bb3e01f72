// libFuzzer target: arbitrary bytes as the wire form of a v1.SubmitJobRequest, checked by the RequestValidator the
// service runs on every Compare and SubmitJob, against the embedded model with the server's default limits, a data
// root holding a few files and an upload folder.
#include <google/protobuf/stubs/logging.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "layerscope/v1/layerscope.pb.h"
#include "server/service/model_entry.h"
#include "server/service/request_validator.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/server/embedded_model_entry.h"

namespace {

using namespace layerscope;
using namespace layerscope::server;

// A private folder holding "inputs/" (the data root: a text, a JSON lines file and a folder) and "uploads/".
std::string MakeWorkDir() {
  char pattern[] = "/tmp/layerscope-fuzz-XXXXXX";
  if (!mkdtemp(pattern)) std::abort();
  const std::string dir = pattern;
  for (const char* sub : {"/inputs", "/inputs/folder", "/uploads"}) {
    if (system(("mkdir -p '" + dir + sub + "'").c_str()) != 0) std::abort();
  }
  std::ofstream(dir + "/inputs/short.txt") << "ten bytes.";
  std::ofstream(dir + "/inputs/docs.jsonl") << "{\"text\": \"one document, long enough for a few samples\"}\n"
                                            << "{\"text\": \"and a second one\"}\n";
  return dir;
}

struct Fixture {
  Fixture() : work_dir(MakeWorkDir()) {
    // Parsing refuses a string field that is not UTF-8 and logs a line each time: noise at thousands of inputs/s.
    google::protobuf::SetLogHandler(nullptr);
    models.push_back(testing::EmbeddedModelEntry());
    models.back().upload_dir = work_dir + "/uploads";
    validator = std::make_unique<RequestValidator>(models, ServerLimits{}, work_dir + "/inputs");
  }
  ~Fixture() { system(("rm -rf '" + work_dir + "'").c_str()); }

  std::string work_dir;
  std::vector<ModelEntry> models;
  std::unique_ptr<RequestValidator> validator;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  v1::SubmitJobRequest submit;
  if (!submit.ParseFromArray(data, static_cast<int>(size))) return 0;  // protobuf refuses it before we see it
  try {
    const ValidatedCompare compare = fixture.validator->Validate(submit.request());
    const int64_t vocab_size = fixture.models[0].info.config.vocab_size;
    for (const auto& sample : compare.request.samples) {
      if (sample.size() != static_cast<size_t>(compare.seq_len)) __builtin_trap();
      for (int32_t id : sample) {
        if (id < 0 || id >= vocab_size) __builtin_trap();  // an id the model cannot embed was let through
      }
    }
    if (compare.request.samples.size() != static_cast<size_t>(compare.samples)) __builtin_trap();
  } catch (const Error& error) {
    fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
