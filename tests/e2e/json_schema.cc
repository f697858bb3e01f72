#include "tests/e2e/json_schema.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace layerscope::e2e {
namespace {

const std::string kOrNull = " or null";
const std::string kArrayOf = "array of ";
const std::string kMapOf = "map of ";
const std::string kObject = "object ";

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

std::string TypeName(const nlohmann::ordered_json& value) { return value.type_name(); }

// The object names a type refers to ("array of object row" -> "row").
void ReferencedObjects(std::string type, std::set<std::string>* names) {
  if (type.size() > kOrNull.size() && type.compare(type.size() - kOrNull.size(), kOrNull.size(), kOrNull) == 0) {
    type.resize(type.size() - kOrNull.size());
  }
  if (type.rfind(kArrayOf, 0) == 0) return ReferencedObjects(type.substr(kArrayOf.size()), names);
  if (type.rfind(kMapOf, 0) == 0) return ReferencedObjects(type.substr(kMapOf.size()), names);
  if (type.rfind(kObject, 0) == 0) names->insert(type.substr(kObject.size()));
}

}  // namespace

JsonSchema JsonSchema::Parse(const std::string& markdown) {
  static const std::regex kHeading(R"(^### `([a-z_]+)`\s*$)");
  static const std::regex kRow(R"(^\| `([a-z_0-9]+)` \| ([^|]+) \|)");
  JsonSchema schema;
  std::string current;
  std::stringstream lines(markdown);
  std::string line;
  std::smatch match;
  while (std::getline(lines, line)) {
    if (line.rfind("#", 0) == 0) current.clear();
    if (std::regex_match(line, match, kHeading)) {
      current = match[1];
      schema.objects_[current];
    } else if (!current.empty() && std::regex_search(line, match, kRow)) {
      std::string type = Trim(match[2]);
      // "object `row`" in the file reads as "object row".
      type.erase(std::remove(type.begin(), type.end(), '`'), type.end());
      schema.objects_[current].emplace_back(match[1], type);
    }
  }
  if (schema.objects_.empty()) throw std::runtime_error("JSON schema: no object defined");
  for (const auto& [name, keys] : schema.objects_) {
    if (keys.empty()) throw std::runtime_error("JSON schema: object " + name + " has no keys");
    for (const auto& [key, type] : keys) {
      std::set<std::string> referenced;
      ReferencedObjects(type, &referenced);
      for (const std::string& object : referenced) {
        if (!schema.Defines(object)) {
          throw std::runtime_error("JSON schema: " + name + "." + key + " refers to undefined object " + object);
        }
      }
    }
  }
  return schema;
}

JsonSchema JsonSchema::FromRepository() {
  const std::string path = std::string(LAYERSCOPE_SOURCE_DIR) + "/client/JSON_SCHEMA.md";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

std::vector<std::string> JsonSchema::Check(const nlohmann::ordered_json& value, const std::string& name) const {
  std::vector<std::string> problems;
  if (!Defines(name)) {
    problems.push_back("no object " + name + " in the schema");
    return problems;
  }
  CheckObject(value, name, "", &problems);
  return problems;
}

void JsonSchema::CheckObject(const nlohmann::ordered_json& value, const std::string& name, const std::string& path,
                             std::vector<std::string>* problems) const {
  const std::string where = path.empty() ? "(document)" : path;
  if (!value.is_object()) {
    problems->push_back(where + ": expected object " + name + ", got " + TypeName(value));
    return;
  }
  const auto& keys = objects_.at(name);
  std::set<std::string> documented;
  for (const auto& [key, type] : keys) {
    documented.insert(key);
    const std::string key_path = path.empty() ? key : path + "." + key;
    if (!value.contains(key)) {
      problems->push_back(key_path + ": missing");
      continue;
    }
    CheckType(value.at(key), type, key_path, problems);
  }
  for (const auto& item : value.items()) {
    if (documented.count(item.key()) == 0) {
      problems->push_back((path.empty() ? item.key() : path + "." + item.key()) + ": not in the schema");
    }
  }
}

void JsonSchema::CheckType(const nlohmann::ordered_json& value, const std::string& type, const std::string& path,
                           std::vector<std::string>* problems) const {
  if (type.size() > kOrNull.size() && type.compare(type.size() - kOrNull.size(), kOrNull.size(), kOrNull) == 0) {
    if (!value.is_null()) CheckType(value, type.substr(0, type.size() - kOrNull.size()), path, problems);
    return;
  }
  const auto mismatch = [&] { problems->push_back(path + ": expected " + type + ", got " + TypeName(value)); };
  if (type.rfind(kArrayOf, 0) == 0) {
    if (!value.is_array()) return mismatch();
    for (size_t i = 0; i < value.size(); ++i) {
      CheckType(value[i], type.substr(kArrayOf.size()), path + "[" + std::to_string(i) + "]", problems);
    }
  } else if (type.rfind(kMapOf, 0) == 0) {
    if (!value.is_object()) return mismatch();
    for (const auto& item : value.items()) {
      CheckType(item.value(), type.substr(kMapOf.size()), path + "." + item.key(), problems);
    }
  } else if (type.rfind(kObject, 0) == 0) {
    CheckObject(value, type.substr(kObject.size()), path, problems);
  } else if (type == "string") {
    if (!value.is_string()) mismatch();
  } else if (type == "integer") {
    if (!value.is_number_integer()) mismatch();
  } else if (type == "number") {
    if (!value.is_number()) mismatch();
  } else if (type == "boolean") {
    if (!value.is_boolean()) mismatch();
  } else {
    problems->push_back(path + ": the schema's type '" + type + "' is not one it defines");
  }
}

}  // namespace layerscope::e2e
