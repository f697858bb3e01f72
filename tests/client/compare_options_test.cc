#include "client/compare_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "client/errors.h"

namespace layerscope::client {
namespace {

// The exit code and message of what `f` throws.
template <typename F>
ClientError Thrown(F f) {
  try {
    f();
  } catch (const ClientError& e) {
    return e;
  }
  ADD_FAILURE() << "no ClientError thrown";
  return ClientError(kExitOk, "");
}

// A file in the test's temporary folder, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/layerscope_client_test_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseLayersTest, IndicesRangesAndCountsFromTheEnd) {
  EXPECT_EQ(ParseLayers("0,-1"), (std::vector<int>{0, -1}));
  EXPECT_EQ(ParseLayers("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(ParseLayers("-3--1,5"), (std::vector<int>{-3, -2, -1, 5}));
  EXPECT_EQ(ParseLayers("2-2"), (std::vector<int>{2}));
}

TEST(ParseLayersTest, RejectsWhatIsNotALayerList) {
  for (const char* bad : {"", "x", "1,,2", "1-", "-", "1-x", "0.5", "99999999999"}) {
    const ClientError e = Thrown([&] { ParseLayers(bad); });
    EXPECT_EQ(e.code(), kExitUsage) << bad;
    EXPECT_NE(std::string(e.what()).find("--layers"), std::string::npos) << e.what();
  }
}

TEST(ParseLayersTest, RejectsMixedSignAndBackwardRanges) {
  EXPECT_NE(std::string(Thrown([] { ParseLayers("2--1"); }).what()).find("mixes"), std::string::npos);
  EXPECT_NE(std::string(Thrown([] { ParseLayers("3-1"); }).what()).find("backwards"), std::string::npos);
}

TEST(ParseModeDefinitionTest, SplitsAtTheFirstColon) {
  const v1::ModeDefinition d = ParseModeDefinition("mine:conv_out=fp32,ssm_in=requant");
  EXPECT_EQ(d.name(), "mine");
  EXPECT_EQ(d.spec(), "conv_out=fp32,ssm_in=requant");
  for (const char* bad : {"mine", ":spec", "mine:"}) {
    EXPECT_EQ(Thrown([&] { ParseModeDefinition(bad); }).code(), kExitUsage) << bad;
  }
}

TEST(ParseTokenSamplesTest, OneSequencePerLineSkippingCommentsAndBlanks) {
  const v1::TokenSamples samples = ParseTokenSamples("# ids\n1 2,3\n\n  4\t5\r\n", "ids.txt");
  ASSERT_EQ(samples.samples_size(), 2);
  EXPECT_EQ(std::vector<int>(samples.samples(0).ids().begin(), samples.samples(0).ids().end()),
            (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(std::vector<int>(samples.samples(1).ids().begin(), samples.samples(1).ids().end()),
            (std::vector<int>{4, 5}));
}

TEST(ParseTokenSamplesTest, NamesFileAndLineOfABadId) {
  const ClientError e = Thrown([] { ParseTokenSamples("1 2\n3 x\n", "ids.txt"); });
  EXPECT_EQ(e.code(), kExitUsage);
  EXPECT_STREQ(e.what(), "--tokens-file: ids.txt:2: 'x' is not a token id");
  EXPECT_EQ(Thrown([] { ParseTokenSamples("# nothing\n", "ids.txt"); }).code(), kExitUsage);
}

TEST(BuildCompareRequestTest, CarriesEveryOption) {
  CompareOptions options;
  options.modes = {"fp16", "bf16"};
  options.reference = "fp32";
  options.model = "embedded";
  options.layers = "0,-1";
  options.points = {"mixer_input", "ssm_output"};
  options.samples = 2;
  options.seq_len = 64;
  options.batch_size = 1;
  options.mode_specs = {"mine:conv_out=fp32"};
  const v1::CompareRequest request = BuildCompareRequest(options);
  EXPECT_EQ(request.model(), "embedded");
  EXPECT_EQ(request.reference_mode(), "fp32");
  EXPECT_EQ(std::vector<std::string>(request.modes().begin(), request.modes().end()),
            (std::vector<std::string>{"fp16", "bf16", "mine"}));
  ASSERT_EQ(request.custom_modes_size(), 1);
  EXPECT_EQ(request.custom_modes(0).name(), "mine");
  EXPECT_EQ(request.custom_modes(0).spec(), "conv_out=fp32");
  EXPECT_EQ(std::vector<int>(request.layers().begin(), request.layers().end()), (std::vector<int>{0, -1}));
  EXPECT_EQ(request.points_size(), 2);
  EXPECT_EQ(request.samples(), 2);
  EXPECT_EQ(request.seq_len(), 64);
  EXPECT_EQ(request.batch_size(), 1);
  EXPECT_FALSE(request.has_data());
}

TEST(BuildCompareRequestTest, SendsTextAndTokenFilesInline) {
  const TempFile text("caf\xc3\xa9 au lait\n");
  CompareOptions options;
  options.modes = {"fp16"};
  options.text_file = text.path();
  EXPECT_EQ(BuildCompareRequest(options).data().text(), "caf\xc3\xa9 au lait\n");

  const TempFile tokens("1 2 3\n4 5 6\n");
  options.text_file.clear();
  options.tokens_file = tokens.path();
  EXPECT_EQ(BuildCompareRequest(options).data().tokens().samples_size(), 2);

  options.tokens_file.clear();
  options.data_file = "corpus/eval.txt";
  EXPECT_EQ(BuildCompareRequest(options).data().file(), "corpus/eval.txt");
}

TEST(BuildCompareRequestTest, UploadsDataAndTokenizerAsTheyAre) {
  const TempFile data(std::string("\x1f\x8b not parsed here", 20));
  const TempFile tokenizer("{\"model\": {}}");
  CompareOptions options;
  options.modes = {"2-1"};
  options.data = data.path();
  v1::Upload upload = BuildCompareRequest(options).data().upload();
  EXPECT_EQ(upload.name(), data.path().substr(data.path().rfind('/') + 1));
  EXPECT_EQ(upload.content(), std::string("\x1f\x8b not parsed here", 20));
  EXPECT_TRUE(upload.tokenizer_json().empty());
  EXPECT_EQ(upload.layout(), v1::SAMPLE_LAYOUT_AUTO);
  EXPECT_FALSE(upload.has_seed());

  options.tokenizer = tokenizer.path();
  options.layout = "packed";
  options.seed = 0;
  upload = BuildCompareRequest(options).data().upload();
  EXPECT_EQ(upload.tokenizer_json(), "{\"model\": {}}");
  EXPECT_EQ(upload.layout(), v1::SAMPLE_LAYOUT_PACKED);
  EXPECT_TRUE(upload.has_seed());
  EXPECT_EQ(upload.seed(), 0u);
  options.layout = "documents";
  EXPECT_EQ(BuildCompareRequest(options).data().upload().layout(), v1::SAMPLE_LAYOUT_DOCUMENTS);

  options.tokenizer = "/nonexistent/tokenizer.json";
  EXPECT_EQ(Thrown([&] { BuildCompareRequest(options); }).code(), kExitFailure);
  options.data = "/nonexistent/c4.jsonl.gz";
  EXPECT_EQ(Thrown([&] { BuildCompareRequest(options); }).code(), kExitFailure);
}

TEST(BuildCompareRequestTest, RejectsTextThatIsNotUtf8AndMissingFiles) {
  const TempFile binary(std::string("ok\xff\xfe", 4));
  CompareOptions options;
  options.modes = {"fp16"};
  options.text_file = binary.path();
  const ClientError e = Thrown([&] { BuildCompareRequest(options); });
  EXPECT_EQ(e.code(), kExitUsage);
  EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();

  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82"}) {  // overlong, surrogate, truncated
    const TempFile file(bad);
    options.text_file = file.path();
    EXPECT_EQ(Thrown([&] { BuildCompareRequest(options); }).code(), kExitUsage);
  }

  options.text_file = "/nonexistent/layerscope.txt";
  EXPECT_EQ(Thrown([&] { BuildCompareRequest(options); }).code(), kExitFailure);
}

}  // namespace
}  // namespace layerscope::client
