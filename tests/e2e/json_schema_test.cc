// The schema reader itself, so a check that passes means something.
#include "tests/e2e/json_schema.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace layerscope::e2e {
namespace {

using Json = nlohmann::ordered_json;

const char kSchema[] =
    "# title\n"
    "| `ignored` | string | not under an object heading |\n"
    "### `doc`\n"
    "| key | type | meaning |\n"
    "| --- | --- | --- |\n"
    "| `n` | integer | |\n"
    "| `x` | number or null | |\n"
    "| `items` | array of object `item` | |\n"
    "| `reasons` | map of string | |\n"
    "### `item`\n"
    "| `name` | string | a \\| b |\n"
    "| `ok` | boolean | |\n";

Json Valid() {
  return Json{{"n", 1}, {"x", nullptr}, {"items", {{{"name", "a"}, {"ok", true}}}}, {"reasons", {{"x", "nan"}}}};
}

TEST(JsonSchemaTest, ConformingDocumentHasNoProblems) {
  const JsonSchema schema = JsonSchema::Parse(kSchema);
  EXPECT_TRUE(schema.Check(Valid(), "doc").empty());
  Json number = Valid();
  number["x"] = 2.5;
  EXPECT_TRUE(schema.Check(number, "doc").empty());
}

TEST(JsonSchemaTest, FindsMissingExtraAndMistypedKeys) {
  const JsonSchema schema = JsonSchema::Parse(kSchema);
  Json doc = Valid();
  doc.erase("n");
  doc["extra"] = 1;
  doc["x"] = "1";
  doc["items"][0]["ok"] = 1;
  doc["reasons"]["y"] = 3;
  EXPECT_EQ(schema.Check(doc, "doc"),
            (std::vector<std::string>{"n: missing", "x: expected number, got string",
                                      "items[0].ok: expected boolean, got number",
                                      "reasons.y: expected string, got number", "extra: not in the schema"}));
  Json fraction = Valid();
  fraction["n"] = 1.5;
  EXPECT_EQ(schema.Check(fraction, "doc"), (std::vector<std::string>{"n: expected integer, got number"}));
  EXPECT_EQ(schema.Check(Valid(), "nosuch"), (std::vector<std::string>{"no object nosuch in the schema"}));
}

TEST(JsonSchemaTest, RejectsSchemasThatReferToUndefinedObjects) {
  EXPECT_THROW(JsonSchema::Parse("### `a`\n| `b` | object `c` | |\n"), std::runtime_error);
  EXPECT_THROW(JsonSchema::Parse("no tables\n"), std::runtime_error);
}

TEST(JsonSchemaTest, RepositorySchemaDefinesEveryDocument) {
  const JsonSchema schema = JsonSchema::FromRepository();
  for (const char* name : {"compare", "modes", "models", "points", "summary", "row", "metrics", "layer_summary"}) {
    EXPECT_TRUE(schema.Defines(name)) << name;
  }
}

}  // namespace
}  // namespace layerscope::e2e
