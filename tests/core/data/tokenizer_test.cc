// The tokenizers against tests/fixtures/tokenizer, made by HF `tokenizers` (make_fixture.py): every case must
// encode to the same ids and decode to the same text, and every single id must decode the same.
#include "core/data/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

using Json = nlohmann::json;

const std::string kFixtureDir = std::string(LAYERSCOPE_SOURCE_DIR) + "/tests/fixtures/tokenizer/";
const char* const kVariants[] = {"neox", "split"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const Json& Expected() {
  static const Json expected = Json::parse(ReadAll(kFixtureDir + "expected.json"));
  return expected;
}

std::vector<int32_t> Ids(const Json& ids) { return ids.get<std::vector<int32_t>>(); }

TEST(HfTokenizer, EncodesEveryCaseLikeHfTokenizers) {
  ASSERT_GE(Expected()["cases"].size(), 20u);
  for (const char* variant : kVariants) {
    const auto tokenizer = LoadTokenizerFile(kFixtureDir + variant + ".json");
    for (const Json& c : Expected()["cases"]) {
      SCOPED_TRACE(std::string(variant) + " / " + c["name"].get<std::string>());
      EXPECT_EQ(tokenizer->Encode(c["text"].get<std::string>()), Ids(c[variant]["ids"]));
    }
  }
}

TEST(HfTokenizer, DecodesEveryCaseLikeHfTokenizers) {
  for (const char* variant : kVariants) {
    const auto tokenizer = LoadTokenizerFile(kFixtureDir + variant + ".json");
    for (const Json& c : Expected()["cases"]) {
      SCOPED_TRACE(std::string(variant) + " / " + c["name"].get<std::string>());
      EXPECT_EQ(tokenizer->Decode(Ids(c[variant]["ids"])), c[variant]["decoded"].get<std::string>());
    }
  }
}

TEST(HfTokenizer, DecodesEverySingleIdLikeHfTokenizers) {
  for (const char* variant : kVariants) {
    const auto tokenizer = LoadTokenizerFile(kFixtureDir + variant + ".json");
    const Json& decodes = Expected()["single_id_decodes"][variant];
    ASSERT_EQ(tokenizer->VocabSize(), static_cast<int64_t>(decodes.size()));
    for (int32_t id = 0; id < tokenizer->VocabSize(); ++id) {
      EXPECT_EQ(tokenizer->Decode({id}), decodes[id].get<std::string>()) << variant << " id " << id;
    }
  }
}

TEST(HfTokenizer, ReadsMergesInTheOlderStringForm) {
  Json config = Json::parse(ReadAll(kFixtureDir + "neox.json"));
  ASSERT_TRUE(config["model"]["merges"][0].is_array()) << "the fixture should hold the [a, b] form";
  for (Json& merge : config["model"]["merges"]) merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  const auto tokenizer = ParseTokenizerJson(config.dump(), "string-merges.json");
  for (const Json& c : Expected()["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(tokenizer->Encode(c["text"].get<std::string>()), Ids(c["neox"]["ids"]));
  }
}

TEST(HfTokenizer, FindsEndOfTextAndDescribesItself) {
  const auto tokenizer = LoadTokenizerFile(kFixtureDir + "neox.json");
  EXPECT_EQ(tokenizer->EndOfTextId(), 0);
  EXPECT_NE(tokenizer->Describe().find("neox.json"), std::string::npos);
}

TEST(HfTokenizer, RefusesTextThatIsNotUtf8NamingTheOffset) {
  const auto tokenizer = LoadTokenizerFile(kFixtureDir + "neox.json");
  ErrorKind kind;
  const std::string message = ErrorOf(
      [&] {
        tokenizer->Encode(
            "abc\xff"
            "def");
      },
      &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("byte offset 3"), std::string::npos) << message;
}

TEST(HfTokenizer, RefusesIdsOutsideTheVocabulary) {
  const auto tokenizer = LoadTokenizerFile(kFixtureDir + "neox.json");
  const std::string message = ErrorOf([&] { tokenizer->Decode({5, 100000}); });
  EXPECT_NE(message.find("100000"), std::string::npos) << message;
}

// Found by tests/fuzz/tokenizer_json_fuzzer: one id of 70 million in model.vocab sized the id table at 2.2 GB. Ids
// must be below the number of tokens the file declares, in model.vocab and in added_tokens alike.
TEST(HfTokenizer, RefusesAnIdBeyondTheTokensItDeclares) {
  const Json base = Json::parse(ReadAll(kFixtureDir + "neox.json"));
  const size_t declared = base["model"]["vocab"].size() + base["added_tokens"].size();
  Json config = base;
  config["model"]["vocab"]["Ġ"] = 70000000;
  ErrorKind kind;
  std::string message = ErrorOf([&] { ParseTokenizerJson(config.dump(), "edited.json"); }, &kind);
  EXPECT_EQ(kind, ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("edited.json: model.vocab: id 70000000 is not below " + std::to_string(declared)),
            std::string::npos)
      << message;
  config = base;
  config["added_tokens"][0]["id"] = static_cast<int>(declared);
  message = ErrorOf([&] { ParseTokenizerJson(config.dump(), "edited.json"); }, &kind);
  EXPECT_NE(message.find("edited.json: added_tokens[0]: id " + std::to_string(declared) + " is not below"),
            std::string::npos)
      << message;
  // The largest id the bound allows is taken.
  config = base;
  config["added_tokens"][0]["id"] = static_cast<int>(declared - 1);
  EXPECT_EQ(ParseTokenizerJson(config.dump(), "edited.json")->VocabSize(), static_cast<int64_t>(declared));
}

// An id that is not an integer in int32's range (a fuzzer's find: 8e36 was converted to int with undefined
// behaviour) is refused naming its key.
TEST(HfTokenizer, RefusesAnIdThatIsNotASmallNonNegativeInteger) {
  const Json base = Json::parse(ReadAll(kFixtureDir + "neox.json"));
  for (const Json& id : {Json(8e36), Json(1.5), Json(-1), Json(4294967296LL), Json("7")}) {
    Json config = base;
    config["model"]["vocab"]["Ġ"] = id;
    ErrorKind kind;
    const std::string message = ErrorOf([&] { ParseTokenizerJson(config.dump(), "edited.json"); }, &kind);
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << id.dump();
    EXPECT_NE(message.find("edited.json: model.vocab: id " + id.dump() + " is not an integer"), std::string::npos)
        << message;
  }
  Json config = base;
  config["added_tokens"][0]["id"] = 8e36;
  const std::string message = ErrorOf([&] { ParseTokenizerJson(config.dump(), "edited.json"); });
  EXPECT_NE(message.find("edited.json: added_tokens[0].id: id "), std::string::npos) << message;
}

// Each edit of the fixture's configuration that the tokenizer cannot honour exactly, and the key its error names.
TEST(HfTokenizer, RefusesWhatItCannotEncodeExactlyNamingTheKey) {
  const Json base = Json::parse(ReadAll(kFixtureDir + "neox.json"));
  const std::vector<std::pair<std::string, std::function<void(Json&)>>> edits = {
      {"model.type", [](Json& c) { c["model"]["type"] = "WordPiece"; }},
      {"model.dropout", [](Json& c) { c["model"]["dropout"] = 0.1; }},
      {"normalizer",
       [](Json& c) {
         c["normalizer"] = {{"type", "NFKC"}};
       }},
      {"pre_tokenizer",
       [](Json& c) {
         c["pre_tokenizer"] = {{"type", "Whitespace"}};
       }},
      {"decoder", [](Json& c) { c["decoder"] = nullptr; }},
      {"post_processor",
       [](Json& c) {
         c["post_processor"] = {{"type", "TemplateProcessing"}};
       }},
      {"added_tokens[0].lstrip", [](Json& c) { c["added_tokens"][0]["lstrip"] = true; }},
      {"model.merges[3]", [](Json& c) { c["model"]["merges"][3] = "nosuchtoken x"; }},
      {"model.vocab", [](Json& c) { c["model"]["vocab"].erase("Ġ"); }},
      {"pre_tokenizer.pretokenizers[0]",
       [](Json& c) {
         c["pre_tokenizer"] = {
             {"type", "Sequence"},
             {"pretokenizers",
              {{{"type", "Split"}, {"pattern", {{"Regex", "(["}}}, {"behavior", "Isolated"}, {"invert", false}},
               c["pre_tokenizer"]}}};
       }},
  };
  for (const auto& [key, edit] : edits) {
    Json config = base;
    edit(config);
    ErrorKind kind;
    const std::string message = ErrorOf([&] { ParseTokenizerJson(config.dump(), "edited.json"); }, &kind);
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << key;
    EXPECT_NE(message.find("edited.json: " + key), std::string::npos) << key << ": " << message;
  }
}

TEST(HfTokenizer, NamesTheFileThatIsMissingOrNotJson) {
  ErrorKind kind;
  EXPECT_NE(ErrorOf([] { LoadTokenizerFile("/nonexistent/tokenizer.json"); }, &kind).find("/nonexistent"),
            std::string::npos);
  EXPECT_EQ(kind, ErrorKind::kNotFound);
  EXPECT_NE(ErrorOf([] { ParseTokenizerJson("{\"model\": ", "broken.json"); }).find("broken.json"), std::string::npos);
}

TEST(ByteTokenizer, EncodesBytesAndDecodesThem) {
  const auto tokenizer = MakeByteTokenizer(256);
  const std::string text = "h\xC3\xA9\n\xF0\x9F\x98\x80";
  EXPECT_EQ(tokenizer->Encode(text), (std::vector<int32_t>{104, 0xC3, 0xA9, 10, 0xF0, 0x9F, 0x98, 0x80}));
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text)), text);
  EXPECT_EQ(tokenizer->Decode({0xF0, 0x9F, 'a'}),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(tokenizer->VocabSize(), 256);
  EXPECT_FALSE(tokenizer->EndOfTextId().has_value());
}

TEST(ByteTokenizer, RefusesSmallVocabulariesAndIdsThatAreNotBytes) {
  EXPECT_NE(ErrorOf([] { MakeByteTokenizer(100); }).find("100"), std::string::npos);
  const auto tokenizer = MakeByteTokenizer(260);
  EXPECT_NE(ErrorOf([&] { tokenizer->Decode({65, 257}); }).find("257"), std::string::npos);
}

}  // namespace
}  // namespace layerscope
