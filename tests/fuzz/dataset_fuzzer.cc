// libFuzzer target: arbitrary bytes as a dataset file (plain text, JSON lines or .npy token ids, any of them
// possibly gzip'd). The first three bytes choose the format and the sampling options; the rest is the file. Every
// document is read, then samples are drawn as the server draws them.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/data/dataset.h"
#include "core/data/document_reader.h"
#include "core/data/tokenizer.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace layerscope;
  if (size < 3) return 0;
  static fuzz::MemoryFile file;
  static const std::unique_ptr<Tokenizer> bytes = MakeByteTokenizer(256);
  static constexpr DatasetFormat kFormats[] = {DatasetFormat::kText, DatasetFormat::kJsonLines,
                                               DatasetFormat::kTokenIds};
  SampleOptions options;
  options.format = kFormats[data[0] % 3];
  options.layout = (data[0] & 0x10) ? SampleLayout::kPacked : SampleLayout::kDocuments;
  if (data[0] & 0x20) options.seed = data[1];
  options.count = 1 + data[1] % 4;
  options.seq_len = 1 + data[2] % 64;
  const std::string path = file.Hold(data + 3, size - 3);
  try {
    const auto reader = OpenDocuments(path, options.format);
    Document document;
    while (reader->Next(&document)) {
    }
  } catch (const Error& error) {
    fuzz::ExpectCleanRefusal(error);
  }
  try {
    const Samples samples = DrawSamples(path, *bytes, options);
    if (samples.ids.size() != static_cast<size_t>(options.count)) __builtin_trap();
    for (const auto& row : samples.ids) {
      if (row.size() != static_cast<size_t>(options.seq_len)) __builtin_trap();
      for (int32_t id : row) {
        if (id < 0 || id >= 256) __builtin_trap();  // an id outside the vocabulary slipped through
      }
    }
  } catch (const Error& error) {
    fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
