#include "core/data/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/core/data/dataset_files.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

class DrawSamplesTest : public DatasetFiles {
 protected:
  std::unique_ptr<Tokenizer> bytes_ = MakeByteTokenizer(256);
};

std::string JsonLines(const std::vector<std::string>& texts) {
  std::string lines;
  for (const auto& text : texts) lines += "{\"text\": \"" + text + "\"}\n";
  return lines;
}

std::vector<int32_t> Ids(const std::string& text) { return std::vector<int32_t>(text.begin(), text.end()); }

// n documents "doc00 ...", "doc01 ...", 8 bytes each, so that a sample tells which document it came from.
std::string NumberedDocuments(int n) {
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) texts.push_back("doc" + std::string(i < 10 ? "0" : "") + std::to_string(i) + " ...");
  return JsonLines(texts);
}

int DocumentNumber(const std::vector<int32_t>& sample) { return (sample[3] - '0') * 10 + (sample[4] - '0'); }

TEST_F(DrawSamplesTest, TakesTheFirstLongEnoughDocumentsTruncatedSkippingShortOnes) {
  const std::string path = Write("docs.jsonl", JsonLines({"0123456789", "abc", "ABCDEFGH", "short", "klmnopqrstuv"}));
  SampleOptions options;
  options.count = 3;
  options.seq_len = 6;
  const Samples samples = DrawSamples(path, *bytes_, options);
  EXPECT_EQ(samples.ids, (std::vector<std::vector<int32_t>>{Ids("012345"), Ids("ABCDEF"), Ids("klmnop")}));
  EXPECT_EQ(samples.documents_used, 5);
  EXPECT_EQ(samples.documents_skipped, 2);
  EXPECT_NE(samples.description.find("2 shorter skipped"), std::string::npos) << samples.description;
}

TEST_F(DrawSamplesTest, PacksDocumentsWithTheSeparatorIntoConsecutiveWindows) {
  const std::string path = Write("docs.jsonl", JsonLines({"abc", "de", "fghij", "unused"}));
  SampleOptions options;
  options.count = 3;
  options.seq_len = 4;
  options.layout = SampleLayout::kPacked;
  options.separator = 0;
  const Samples samples = DrawSamples(path, *bytes_, options);
  EXPECT_EQ(samples.ids,
            (std::vector<std::vector<int32_t>>{{'a', 'b', 'c', 0}, {'d', 'e', 0, 'f'}, {'g', 'h', 'i', 'j'}}));
  EXPECT_EQ(samples.documents_used, 3);
}

TEST_F(DrawSamplesTest, PacksWithoutSeparatorWhenTheTokenizerHasNoEndOfText) {
  const std::string text = "The whole plain text file is one document.";
  SampleOptions options;
  options.count = 4;
  options.seq_len = 10;
  options.layout = SampleLayout::kPacked;
  const Samples samples = DrawSamples(Write("book.txt", text), *bytes_, options);
  ASSERT_EQ(samples.ids.size(), 4u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(samples.ids[s], Ids(text.substr(s * 10, 10)));
}

TEST_F(DrawSamplesTest, TokenizesWithTheHfTokenizerAndSeparatesWithItsEndOfText) {
  const auto tokenizer = LoadTokenizerFile(std::string(LAYERSCOPE_SOURCE_DIR) + "/tests/fixtures/tokenizer/neox.json");
  const std::vector<std::string> texts = {"The model stays resident on the server.", "Hello world!"};
  const std::string path = WriteGzip("docs.jsonl.gz", JsonLines(texts));
  std::vector<int32_t> stream;
  for (const auto& text : texts) {
    const auto ids = tokenizer->Encode(text);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(*tokenizer->EndOfTextId());
  }
  SampleOptions options;
  options.count = 2;
  options.seq_len = static_cast<int>(stream.size() / 2);
  options.layout = SampleLayout::kPacked;
  const Samples samples = DrawSamples(path, *tokenizer, options);
  ASSERT_EQ(samples.ids.size(), 2u);
  EXPECT_EQ(samples.ids[0], std::vector<int32_t>(stream.begin(), stream.begin() + options.seq_len));
  EXPECT_EQ(samples.ids[1],
            std::vector<int32_t>(stream.begin() + options.seq_len, stream.begin() + 2 * options.seq_len));
}

TEST_F(DrawSamplesTest, DrawsTheSameSamplesForTheSameSeedAndOthersForAnother) {
  const std::string path = Write("docs.jsonl", NumberedDocuments(40));
  SampleOptions options;
  options.count = 10;
  options.seq_len = 8;
  options.seed = 7;
  const Samples first = DrawSamples(path, *bytes_, options);
  EXPECT_EQ(DrawSamples(path, *bytes_, options).ids, first.ids);
  options.seed = 8;
  EXPECT_NE(DrawSamples(path, *bytes_, options).ids, first.ids);

  std::vector<int> numbers;
  for (const auto& sample : first.ids) numbers.push_back(DocumentNumber(sample));
  EXPECT_EQ(std::set<int>(numbers.begin(), numbers.end()).size(), 10u) << "a document drawn twice";
  EXPECT_FALSE(std::is_sorted(numbers.begin(), numbers.end())) << "not shuffled";
  EXPECT_NE(first.description.find("seed 7"), std::string::npos) << first.description;
}

// std::mt19937_64's output is fixed by the C++ standard and the shuffle uses nothing else, so these numbers are the
// same on every machine; a change here changes every seeded draw users have made.
TEST_F(DrawSamplesTest, SeededOrderIsPinned) {
  const std::string path = Write("docs.jsonl", NumberedDocuments(40));
  SampleOptions options;
  options.count = 5;
  options.seq_len = 8;
  options.seed = 42;
  std::vector<int> numbers;
  for (const auto& sample : DrawSamples(path, *bytes_, options).ids) numbers.push_back(DocumentNumber(sample));
  EXPECT_EQ(numbers, (std::vector<int>{4, 34, 23, 0, 12}));
}

TEST_F(DrawSamplesTest, SeededDrawOverManyShortDocumentsReadsSeveralBatches) {
  // 3 long documents among 200 short ones: the first batch of 16 rarely holds all three, so later batches are read.
  std::vector<std::string> texts(200, "tiny");
  texts[17] = "long document 17";
  texts[101] = "long document 101";
  texts[199] = "long document 199";
  const std::string path = WriteGzip("docs.jsonl.gz", JsonLines(texts));
  SampleOptions options;
  options.count = 3;
  options.seq_len = 16;
  options.seed = 1;
  const Samples samples = DrawSamples(path, *bytes_, options);
  std::set<std::vector<int32_t>> drawn(samples.ids.begin(), samples.ids.end());
  EXPECT_EQ(drawn, (std::set<std::vector<int32_t>>{Ids("long document 17"), Ids("long document 10"),
                                                   Ids("long document 19")}));
  EXPECT_EQ(samples.documents_used - samples.documents_skipped, 3);
  EXPECT_GT(samples.documents_skipped, 16);
}

TEST_F(DrawSamplesTest, SaysHowManyDocumentsThereWereWhenTooFewAreLongEnough) {
  const std::string path = Write("docs.jsonl", JsonLines({"long enough", "no", "also long enough", "x"}));
  SampleOptions options;
  options.count = 3;
  options.seq_len = 8;
  ErrorKind kind;
  const std::string message = ErrorOf([&] { DrawSamples(path, *bytes_, options); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + ": 3 samples need 3 documents of at least 8 tokens; it has 2 among 4 (2 shorter)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("packed"), std::string::npos);

  options.layout = SampleLayout::kPacked;
  options.count = 10;
  const std::string packed = ErrorOf([&] { DrawSamples(path, *bytes_, options); });
  EXPECT_NE(packed.find("need 80 tokens; its 4 documents give 30"), std::string::npos) << packed;
}

TEST_F(DrawSamplesTest, RefusesTokenIdsOutsideTheVocabularyNamingRowAndColumn) {
  const std::string path = WriteNpy<int32_t>("ids.npy", "<i4", "(2, 3)", {1, 2, 3, 4, 300, 6});
  SampleOptions options;
  options.count = 2;
  options.seq_len = 3;
  const std::string message = ErrorOf([&] { DrawSamples(path, *bytes_, options); });
  EXPECT_NE(message.find(path + " row 1 column 1: id 300 is outside the vocabulary [0, 256)"), std::string::npos)
      << message;
}

TEST_F(DrawSamplesTest, NamesTheDocumentWhoseTextTheTokenizerRefuses) {
  const auto tokenizer = LoadTokenizerFile(std::string(LAYERSCOPE_SOURCE_DIR) + "/tests/fixtures/tokenizer/neox.json");
  const std::string path = Write("latin1.txt", "caf\xE9 au lait");
  SampleOptions options;
  options.count = 1;
  options.seq_len = 2;
  const std::string message = ErrorOf([&] { DrawSamples(path, *tokenizer, options); });
  EXPECT_NE(message.find(path + ": text is not valid UTF-8 at byte offset 3"), std::string::npos) << message;
}

// Every pass over the file is read under options.limit: file order reads only the documents it takes, a seeded
// order reads the whole file first (to count its documents).
TEST_F(DrawSamplesTest, ReadsUnderTheOptionsLimitInEitherOrder) {
  const std::string lines = NumberedDocuments(20);  // 20 lines of 22 bytes
  const std::string path = WriteGzip("docs.jsonl.gz", lines);
  SampleOptions options;
  options.count = 2;
  options.seq_len = 4;
  for (const std::optional<uint64_t> seed : {std::optional<uint64_t>(), std::optional<uint64_t>(3)}) {
    options.seed = seed;
    const uint64_t needed = seed ? lines.size() : 2 * 22;
    options.limit = ReadLimit{needed, "max"};
    EXPECT_EQ(DrawSamples(path, *bytes_, options).ids.size(), 2u);
    options.limit = ReadLimit{needed - 1, "max"};
    ErrorKind kind = ErrorKind::kInternal;
    EXPECT_EQ(ErrorOf([&] { DrawSamples(path, *bytes_, options); }, &kind),
              path + ": more than " + std::to_string(needed - 1) + " bytes once decompressed, over max");
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  }
}

TEST_F(DrawSamplesTest, RefusesNonPositiveSizes) {
  const std::string path = Write("docs.jsonl", JsonLines({"abc"}));
  SampleOptions options;
  options.seq_len = 0;
  EXPECT_NE(ErrorOf([&] { DrawSamples(path, *bytes_, options); }).find("seq_len=0"), std::string::npos);
}

}  // namespace
}  // namespace layerscope
