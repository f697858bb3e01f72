#include "core/data/document_reader.h"

#include <gtest/gtest.h>

#include "tests/core/data/dataset_files.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

class DocumentReaderTest : public DatasetFiles {
 protected:
  std::vector<Document> ReadAll(const std::string& path, DatasetFormat format = DatasetFormat::kAuto) {
    std::vector<Document> docs;
    Document doc;
    for (auto reader = OpenDocuments(path, format); reader->Next(&doc);) docs.push_back(doc);
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

}  // namespace
}  // namespace layerscope
