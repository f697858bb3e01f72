#include "core/modes/mode_spec.h"

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
  return {"norm", "in_proj", "conv1d", "x_proj", "dt_proj", "ssm", "hadamard", "out_proj"};
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

}  // namespace layerscope
