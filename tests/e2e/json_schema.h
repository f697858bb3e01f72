// JsonSchema: the document layouts of client/JSON_SCHEMA.md, read from the tables of that file, so the tests
// check the client's --json output against the very text users read. A table row "| `key` | type | meaning |"
// under a heading "### `name`" gives object `name` a required key; the type words are the ones the file defines.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace layerscope::e2e {

class JsonSchema {
 public:
  // Throws std::runtime_error when the text defines no object, or a type refers to an object it does not define.
  static JsonSchema Parse(const std::string& markdown);
  static JsonSchema FromRepository();  // client/JSON_SCHEMA.md

  // Every way `value` departs from object `name` ("rows[3].metrics.mse: expected number or null, got string");
  // empty when it conforms: each documented key present with its type and no other key.
  std::vector<std::string> Check(const nlohmann::ordered_json& value, const std::string& name) const;

  bool Defines(const std::string& name) const { return objects_.count(name) != 0; }

 private:
  void CheckType(const nlohmann::ordered_json& value, const std::string& type, const std::string& path,
                 std::vector<std::string>* problems) const;
  void CheckObject(const nlohmann::ordered_json& value, const std::string& name, const std::string& path,
                   std::vector<std::string>* problems) const;

  // Object name -> its keys and their types, in file order.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> objects_;
};

}  // namespace layerscope::e2e
