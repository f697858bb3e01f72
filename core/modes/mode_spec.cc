#include "core/modes/mode_spec.h"

#include <algorithm>

#include "core/util/error.h"

namespace layerscope {

const char* FloatPrecisionName(FloatPrecision precision) {
  switch (precision) {
    case FloatPrecision::kFp32: return "fp32";
    case FloatPrecision::kFp16: return "fp16";
    case FloatPrecision::kBf16: return "bf16";
  }
  return "?";
}

std::vector<std::string> ModeSpec::QuantizedStages() const {
  if (weights == WeightSet::kFloat) return {};
  // Norm, in_proj, x_proj, dt_proj and out_proj are int8 in every quantized mode (MODES.md §3); the conv1d output
  // and the scan's u follow the fields.
  std::vector<std::string> stages = {"norm", "in_proj"};
  const char* conv_in = conv_input == ConvInput::kInt8Static ? "int8 in" : "int8 in, dynamic scale";
  const char* conv_out = conv_output == ConvOutput::kInt8       ? "int8 out"
                         : conv_output == ConvOutput::kInt8Grid ? "int8 grid out"
                                                                : "fp32 out";
  stages.push_back(std::string("conv1d (") + conv_in + ", " + conv_out + ")");
  stages.push_back("x_proj");
  stages.push_back("dt_proj");
  const bool u_int8 = ssm_input == StageInput::kRequantRne || conv_output == ConvOutput::kInt8;
  const bool u_grid = ssm_input == StageInput::kAsProduced && conv_output == ConvOutput::kInt8Grid;
  stages.push_back(std::string("ssm (u ") + (u_int8 ? "int8" : u_grid ? "int8 grid" : "fp32") + ")");
  stages.push_back(out_proj_input == Int8Overflow::kSaturate ? "hadamard" : "hadamard (wrapping)");
  stages.push_back("out_proj");
  return stages;
}

const std::vector<ModeSpec>& BuiltinModes() {
  static const std::vector<ModeSpec> kModes = [] {
    std::vector<ModeSpec> modes;
    auto float_mode = [&](const char* name, const char* description, FloatPrecision precision) {
      ModeSpec spec;
      spec.name = name;
      spec.description = description;
      spec.weights = WeightSet::kFloat;
      spec.precision = precision;
      spec.builtin = true;
      modes.push_back(spec);
    };
    float_mode("fp32", "FP model, fp32 weights and activations (the usual reference)", FloatPrecision::kFp32);
    float_mode("fp16", "FP model in fp16: weights and activations fp16, residual and scan state fp32",
               FloatPrecision::kFp16);
    float_mode("bf16", "FP model in bf16: weights and activations bf16, residual and scan state fp32",
               FloatPrecision::kBf16);
    // The quantized rows of MODES.md §3. Norm, in_proj, x_proj, dt_proj, Hadamard and out_proj are int8 in all.
    auto quantized_mode = [&](const char* name, const char* description, ConvInput conv_input, ConvOutput conv_output,
                              StageInput x_proj_input, StageInput ssm_input, SsmArithmetic ssm) {
      ModeSpec spec;
      spec.name = name;
      spec.description = description;
      spec.weights = WeightSet::kQuantized;
      spec.conv_input = conv_input;
      spec.conv_output = conv_output;
      spec.x_proj_input = x_proj_input;
      spec.ssm_input = ssm_input;
      spec.ssm = ssm;
      spec.builtin = true;
      modes.push_back(spec);
    };
    constexpr auto kStatic = ConvInput::kInt8Static;
    constexpr auto kProduced = StageInput::kAsProduced;
    constexpr auto kRequant = StageInput::kRequantRne;
    quantized_mode("1",
                   "FP32 upper bound on the quantized model (the research documents' \"mode 1\"; its result files "
                   "called the FP16 model \"mode 1\": that is fp16 here): fp32 conv1d output, x_proj on it "
                   "requantized, fp32 SSM input, reference scan",
                   kStatic, ConvOutput::kFp32, kRequant, kProduced, SsmArithmetic::kReference);
    quantized_mode("0", "Quamba W8A8 as published: int8 conv1d output feeds x_proj and the SSM, kernel scan", kStatic,
                   ConvOutput::kInt8, kProduced, kProduced, SsmArithmetic::kKernel);
    quantized_mode("2-0",
                   "int8 conv1d output dequantized to fp32 (on the grid), requantized losslessly (RNE, same scale) "
                   "for the SSM, kernel scan: equals 0",
                   kStatic, ConvOutput::kInt8Grid, kProduced, kRequant, SsmArithmetic::kKernel);
    quantized_mode("2-1", "as 0, with the framework (PyTorch) scan arithmetic", kStatic, ConvOutput::kInt8, kProduced,
                   kProduced, SsmArithmetic::kFramework);
    quantized_mode("2-2", "int8 conv1d output, the SSM gets it as fp32 values on the grid, framework scan", kStatic,
                   ConvOutput::kInt8Grid, kProduced, kProduced, SsmArithmetic::kFramework);
    quantized_mode("2-3", "true fp32 conv1d output, requantized with RNE for both x_proj and the SSM, framework scan",
                   kStatic, ConvOutput::kFp32, kRequant, kRequant, SsmArithmetic::kFramework);
    quantized_mode("2-4",
                   "true fp32 conv1d output: requantized (RNE) for x_proj, unclipped fp32 for the SSM, framework scan",
                   kStatic, ConvOutput::kFp32, kRequant, kProduced, SsmArithmetic::kFramework);
    quantized_mode("3",
                   "as 2-4 with the conv1d input requantized dynamically (in_proj's float x half, scale max|x|/127 "
                   "of the call), reference scan",
                   ConvInput::kFloatDynamic, ConvOutput::kFp32, kRequant, kProduced, SsmArithmetic::kReference);
    return modes;
  }();
  return kModes;
}

std::optional<ModeSpec> FindBuiltinMode(const std::string& name) {
  for (const auto& mode : BuiltinModes()) {
    if (mode.name == name) return mode;
  }
  return std::nullopt;
}

std::string BuiltinModeNames() {
  std::string names;
  for (const auto& mode : BuiltinModes()) {
    if (!names.empty()) names += ", ";
    names += mode.name;
  }
  return names;
}

namespace {

struct FieldValue {
  const char* value;
  void (*apply)(ModeSpec&);
};

struct Field {
  const char* name;
  std::vector<FieldValue> values;
};

// One row per field a user can set; adding a field or value is adding a row here.
const std::vector<Field>& ComposableFields() {
  static const std::vector<Field> kFields = {
      {"conv_in",
       {{"int8", [](ModeSpec& m) { m.conv_input = ConvInput::kInt8Static; }},
        {"fp32_dynamic", [](ModeSpec& m) { m.conv_input = ConvInput::kFloatDynamic; }}}},
      {"conv_out",
       {{"int8", [](ModeSpec& m) { m.conv_output = ConvOutput::kInt8; }},
        {"int8_grid", [](ModeSpec& m) { m.conv_output = ConvOutput::kInt8Grid; }},
        {"fp32", [](ModeSpec& m) { m.conv_output = ConvOutput::kFp32; }}}},
      {"xproj_in",
       {{"as_produced", [](ModeSpec& m) { m.x_proj_input = StageInput::kAsProduced; }},
        {"requant", [](ModeSpec& m) { m.x_proj_input = StageInput::kRequantRne; }}}},
      {"ssm_in",
       {{"as_produced", [](ModeSpec& m) { m.ssm_input = StageInput::kAsProduced; }},
        {"requant", [](ModeSpec& m) { m.ssm_input = StageInput::kRequantRne; }}}},
      {"ssm",
       {{"kernel", [](ModeSpec& m) { m.ssm = SsmArithmetic::kKernel; }},
        {"framework", [](ModeSpec& m) { m.ssm = SsmArithmetic::kFramework; }},
        {"reference", [](ModeSpec& m) { m.ssm = SsmArithmetic::kReference; }}}},
      {"had_overflow",
       {{"saturate", [](ModeSpec& m) { m.out_proj_input = Int8Overflow::kSaturate; }},
        {"wrap", [](ModeSpec& m) { m.out_proj_input = Int8Overflow::kWrap; }}}},
  };
  return kFields;
}

std::string Trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

}  // namespace

std::string ModeSpecSyntax() {
  std::string out = "base: a named mode (default 0)\n";
  for (const Field& field : ComposableFields()) {
    out += std::string(field.name) + ": ";
    for (size_t i = 0; i < field.values.size(); ++i) out += (i ? "|" : "") + std::string(field.values[i].value);
    out += "\n";
  }
  return out;
}

ModeSpec ParseModeSpec(const std::string& name, const std::string& text) {
  const std::string where = "mode spec \"" + name + "\"";
  if (name.empty()) throw Error(ErrorKind::kInvalidArgument, "a composed mode needs a name");
  if (FindBuiltinMode(name)) {
    throw Error(ErrorKind::kInvalidArgument,
                where + ": the name is taken by a built-in mode; built-in modes: " + BuiltinModeNames());
  }
  std::vector<std::pair<std::string, std::string>> assignments;
  std::string base = "0";
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw Error(ErrorKind::kInvalidArgument,
                  where + ": \"" + item + "\" is not field=value; fields:\n" + ModeSpecSyntax());
    }
    const std::string key = Trim(item.substr(0, eq)), value = Trim(item.substr(eq + 1));
    for (const auto& [seen, unused] : assignments) {
      if (seen == key) throw Error(ErrorKind::kInvalidArgument, where + ": field \"" + key + "\" is set twice");
    }
    if (key == "base") {
      base = value;
    }
    assignments.emplace_back(key, value);
  }
  const auto base_mode = FindBuiltinMode(base);
  if (!base_mode) {
    throw Error(ErrorKind::kInvalidArgument,
                where + ": base \"" + base + "\" is not a named mode; named modes: " + BuiltinModeNames());
  }
  ModeSpec spec = *base_mode;
  spec.name = name;
  spec.builtin = false;
  spec.description = "composed: " + (text.empty() ? "base=" + base : text);
  for (const auto& assignment : assignments) {
    // Named references, not a structured binding: C++17 lambdas cannot capture those (clang refuses; the fuzz
    // build compiles this file with clang).
    const std::string& key = assignment.first;
    const std::string& value = assignment.second;
    if (key == "base") continue;
    const auto field = std::find_if(ComposableFields().begin(), ComposableFields().end(),
                                    [&](const Field& f) { return key == f.name; });
    if (field == ComposableFields().end()) {
      throw Error(ErrorKind::kInvalidArgument, where + ": unknown field \"" + key + "\"; fields:\n" + ModeSpecSyntax());
    }
    if (spec.weights != WeightSet::kQuantized) {
      throw Error(
          ErrorKind::kInvalidArgument,
          where + ": field \"" + key + "\" applies to quantized modes, and base \"" + base + "\" is a float mode");
    }
    const auto choice =
        std::find_if(field->values.begin(), field->values.end(), [&](const FieldValue& v) { return value == v.value; });
    if (choice == field->values.end()) {
      std::string allowed;
      for (const auto& v : field->values) allowed += (allowed.empty() ? "" : ", ") + std::string(v.value);
      throw Error(ErrorKind::kInvalidArgument,
                  where + ": field \"" + key + "\" has value \"" + value + "\"; allowed: " + allowed);
    }
    choice->apply(spec);
  }
  // x_proj is a W8A8 linear: from an fp32 conv1d output it can only take the requantized value. A spec that
  // leaves xproj_in to its base gets that; one that asks for as_produced is refused.
  if (spec.x_proj_input == StageInput::kAsProduced && spec.conv_output == ConvOutput::kFp32) {
    const bool explicit_xproj = std::any_of(assignments.begin(), assignments.end(),
                                            [](const auto& assignment) { return assignment.first == "xproj_in"; });
    if (explicit_xproj) {
      throw Error(ErrorKind::kInvalidArgument,
                  where +
                      ": xproj_in=as_produced needs conv_out=int8 or int8_grid (x_proj is a W8A8 linear and "
                      "takes int8); with conv_out=fp32 use xproj_in=requant");
    }
    spec.x_proj_input = StageInput::kRequantRne;
  }
  return spec;
}

}  // namespace layerscope
