#include "core/data/document_reader.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "tests/core/data/dataset_files.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

class DocumentReaderTest : public DatasetFiles {
 protected:
  std::vector<Document> ReadAll(const std::string& path, DatasetFormat format = DatasetFormat::kAuto,
                                const ReadLimit& limit = ReadLimit()) {
    std::vector<Document> docs;
    Document doc;
    for (auto reader = OpenDocuments(path, format, limit); reader->Next(&doc);) docs.push_back(doc);
    return docs;
  }

  std::string ErrorReading(const std::string& path, ErrorKind* kind) {
    return ErrorOf([&] { ReadAll(path); }, kind);
  }
};

const std::string kC4Lines =
    "{\"text\": \"first doc\\nwith two lines\", \"timestamp\": \"2019-04-25T12:57:54Z\", \"url\": \"https://a\"}\n"
    "\n"
    "{\"text\": \"second \\u00e9\", \"url\": \"https://b\"}\r\n"
    "{\"text\": \"third, no newline at the end\"}";

TEST_F(DocumentReaderTest, ReadsJsonLinesInOrderSkippingBlankLines) {
  const auto docs = ReadAll(Write("c4.jsonl", kC4Lines));
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].text, "first doc\nwith two lines");
  EXPECT_EQ(docs[1].text, "second \xC3\xA9");
  EXPECT_EQ(docs[2].text, "third, no newline at the end");
  EXPECT_FALSE(docs[0].tokenized);
  EXPECT_EQ(docs[1].where, (dir_ / "c4.jsonl").string() + ":3");
}

TEST_F(DocumentReaderTest, ReadsGzipOfJsonLinesUnderTheC4ShardName) {
  const auto plain = ReadAll(Write("c4.jsonl", kC4Lines));
  const auto gzipped = ReadAll(WriteGzip("c4-train.00000-of-01024.json.gz", kC4Lines));
  ASSERT_EQ(gzipped.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(gzipped[i].text, plain[i].text);
}

TEST_F(DocumentReaderTest, ReadsLongLinesAcrossReadBuffers) {
  const std::string long_text(300000, 'x');
  const auto docs = ReadAll(WriteGzip("long.jsonl.gz", "{\"text\": \"" + long_text + "\"}\n{\"text\": \"b\"}\n"));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, long_text);
  EXPECT_EQ(docs[1].text, "b");
}

TEST_F(DocumentReaderTest, ReadsPlainTextAsOneDocumentGzipOrNot) {
  const std::string text = "line one\n\nline three\twith a tab\n";
  for (const std::string& path : {Write("book.txt", text), WriteGzip("book.txt.gz", text)}) {
    const auto docs = ReadAll(path);
    ASSERT_EQ(docs.size(), 1u) << path;
    EXPECT_EQ(docs[0].text, text);
  }
  EXPECT_EQ(ReadAll(Write("data.jsonl", text), DatasetFormat::kText)[0].text, text);
}

TEST_F(DocumentReaderTest, NamesFileAndLineOfALineThatIsNotJson) {
  const std::string path = Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"broken\n{\"text\": \"ok\"}\n");
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + ":2: not a JSON object"), std::string::npos) << message;
}

// Found by tests/fuzz/request_fuzzer (an uploaded .jsonl): a number too large for a double is not a parse_error in
// nlohmann::json but an out_of_range, which escaped the reader and reached the client as INTERNAL.
TEST_F(DocumentReaderTest, NamesFileAndLineOfANumberOutOfRange) {
  const std::string path = Write("huge.jsonl", "{\"text\": \"ok\"}\n2e913\n");
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + ":2: not a JSON object"), std::string::npos) << message;
}

TEST_F(DocumentReaderTest, NamesFileLineAndFieldWhenTextIsMissingOrNotAString) {
  ErrorKind kind;
  std::string path = Write("missing.jsonl", "{\"text\": \"ok\"}\n{\"content\": \"no text\"}\n");
  std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + ":2: no \"text\" field"), std::string::npos) << message;

  path = Write("number.jsonl", "{\"text\": 42}\n");
  message = ErrorReading(path, &kind);
  EXPECT_NE(message.find(path + ":1: field \"text\" is a number, not a string"), std::string::npos) << message;

  path = Write("array.jsonl", "[\"text\"]\n");
  message = ErrorReading(path, &kind);
  EXPECT_NE(message.find(path + ":1: not a JSON object"), std::string::npos) << message;
}

TEST_F(DocumentReaderTest, ReportsATruncatedGzipAsDataLoss) {
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += "{\"text\": \"document number " + std::to_string(i) + "\"}\n";
  const std::string path = WriteGzip("cut.jsonl.gz", lines, 0.5);
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kDataLoss);
  EXPECT_NE(message.find(path + ": truncated or corrupt"), std::string::npos) << message;
}

TEST_F(DocumentReaderTest, ReportsAMissingFileAsNotFound) {
  ErrorKind kind;
  const std::string message = ErrorReading((dir_ / "nope.jsonl").string(), &kind);
  EXPECT_EQ(kind, ErrorKind::kNotFound);
  EXPECT_NE(message.find("nope.jsonl"), std::string::npos);
}

TEST_F(DocumentReaderTest, ReadsNpyRowsAsDocumentsAndA1DArrayAsOne) {
  const auto rows = ReadAll(WriteNpy<int32_t>("ids.npy", "<i4", "(2, 3)", {1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].tokenized);
  EXPECT_EQ(rows[0].ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(rows[1].ids, (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(rows[1].where, (dir_ / "ids.npy").string() + " row 1");

  const auto stream = ReadAll(WriteNpy<int64_t>("stream.npy", "<i8", "(5,)", {7, 8, 9, 10, 50279}));
  ASSERT_EQ(stream.size(), 1u);
  EXPECT_EQ(stream[0].ids, (std::vector<int32_t>{7, 8, 9, 10, 50279}));
}

TEST_F(DocumentReaderTest, RefusesNpyOfAnotherDtypeNamingIt) {
  const std::string path = WriteNpy<float>("floats.npy", "<f4", "(3,)", {1.f, 2.f, 3.f});
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + ": dtype '<f4' is not token ids"), std::string::npos) << message;
}

TEST_F(DocumentReaderTest, RefusesInt64IdsThatDoNotFitNamingRowAndColumn) {
  const std::string path = WriteNpy<int64_t>("big.npy", "<i8", "(2, 2)", {1, 2, 3, int64_t{1} << 40});
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find(path + " row 1 column 1: 1099511627776 does not fit"), std::string::npos) << message;
}

TEST_F(DocumentReaderTest, ReportsNpyWithLessDataThanItsShapeAsDataLoss) {
  const std::string path = WriteNpy<int32_t>("short.npy", "<i4", "(4, 4)", {1, 2, 3});
  ErrorKind kind;
  const std::string message = ErrorReading(path, &kind);
  EXPECT_EQ(kind, ErrorKind::kDataLoss);
  EXPECT_NE(message.find("needs 64 bytes of data, the file holds 12"), std::string::npos) << message;
  EXPECT_NE(ErrorOf([&] { ReadAll(Write("junk.npy", "not numpy at all")); }).find("no .npy magic"), std::string::npos);
}

// The most memory this process has held so far, in KiB.
long PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// A 200 MB document inflated from a file of about 200 KB, in each format: the reader stops at the limit, so the
// process's peak memory grows by a small multiple of the limit, not by the document (ctest runs each test in a
// process of its own, so no earlier test's peak hides the growth).
TEST_F(DocumentReaderTest, RefusesAGzipBombOfEachFormatWithoutHoldingIt) {
  constexpr uint64_t kBombBytes = uint64_t{200} << 20;
  const ReadLimit limit{uint64_t{16} << 20, "--test-limit"};
  const std::vector<std::string> paths = {
      Write("bomb.txt.gz", GzipBomb("", '\0', kBombBytes)),
      Write("bomb.jsonl.gz", GzipBomb("{\"text\": \"", 'a', kBombBytes)),  // one line without a newline
      Write("bomb.npy.gz", GzipBomb("", '\0', kBombBytes)),
  };
  const long before_kib = PeakRssKib();
  for (const std::string& path : paths) {
    ErrorKind kind = ErrorKind::kInternal;
    const std::string message = ErrorOf([&] { ReadAll(path, DatasetFormat::kAuto, limit); }, &kind);
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << path;
    EXPECT_EQ(message, path + ": more than 16777216 bytes once decompressed, over --test-limit");
  }
  EXPECT_LT(PeakRssKib() - before_kib, 100 << 10) << "KiB of peak memory grew while reading 16 MiB-limited bombs";
}

TEST_F(DocumentReaderTest, ReadsAFileAtOrUnderTheLimitAndRefusesOneByteMore) {
  const std::string text(100000, 'x');
  for (const std::string& path : {Write("book.txt", text), WriteGzip("book.txt.gz", text)}) {
    EXPECT_EQ(ReadAll(path, DatasetFormat::kAuto, ReadLimit{100000, "max"})[0].text, text) << path;
    EXPECT_EQ(ReadAll(path, DatasetFormat::kAuto, ReadLimit{100001, "max"})[0].text, text) << path;
    EXPECT_EQ(ErrorOf([&] {
                ReadAll(path, DatasetFormat::kAuto, ReadLimit{99999, "max"});
              }),
              path + ": more than 99999 bytes once decompressed, over max");
  }
}

// The limit bounds a whole pass over a file, not just one line: many short lines add up to it.
TEST_F(DocumentReaderTest, RefusesJsonLinesWhoseLinesTogetherGoPastTheLimit) {
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "{\"text\": \"short\"}\n";  // 18 bytes each
  const std::string path = WriteGzip("many.jsonl.gz", lines);
  EXPECT_EQ(ReadAll(path, DatasetFormat::kAuto, ReadLimit{18000, "max"}).size(), 1000u);
  ErrorKind kind = ErrorKind::kInternal;
  EXPECT_EQ(ErrorOf(
                [&] {
                  ReadAll(path, DatasetFormat::kAuto, ReadLimit{17999, "max"});
                },
                &kind),
            path + ": more than 17999 bytes once decompressed, over max");
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace layerscope
