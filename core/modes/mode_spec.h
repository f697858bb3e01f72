// ModeSpec: a numeric mode as data. Each field says how one stage of a layer computes; the named modes
// (fp32, fp16, bf16, and the research's quantized modes) are rows of one table, and users compose their own
// from the same fields. The model code reads the fields; it never branches on a mode's name.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace layerscope {

// Which resident weights a mode runs: the FP checkpoint or its W8A8 (Quamba) quantization.
enum class WeightSet { kFloat, kQuantized };

// Precision of a float mode's weights and activations (the scan state is fp32 in every mode).
enum class FloatPrecision { kFp32, kFp16, kBf16 };

// Quantized modes: what the conv1d stage outputs.
enum class ConvOutput {
  kInt8,      // int8 codes (RHAZ, static scale s_u)
  kInt8Grid,  // int8 codes dequantized to fp32 (values on the grid)
  kFp32,      // true fp32, no output quantization
};

// Quantized modes: how conv1d's input is obtained.
enum class ConvInput {
  kInt8Static,    // the int8 x half of in_proj (static scale s_xz)
  kFloatDynamic,  // in_proj's float x half requantized with s = max|x| / 127 of that call
};

// Quantized modes: how a consumer (x_proj: path A; the scan's u: path B) gets its input from conv1d's output.
enum class StageInput {
  kAsProduced,    // whatever conv1d produced (int8 codes, grid values or fp32)
  kRequantRne,    // clamp(RNE(v / s_u)) with the static scale s_u
};

// Quantized modes: the selective scan's arithmetic (../shared/docs/MODES.md §3).
enum class SsmArithmetic { kKernel, kFramework, kReference };

struct ModeSpec {
  std::string name;
  std::string description;
  WeightSet weights = WeightSet::kFloat;
  FloatPrecision precision = FloatPrecision::kFp32;  // float modes only
  // The fields below apply to quantized modes only.
  ConvInput conv_input = ConvInput::kInt8Static;
  ConvOutput conv_output = ConvOutput::kInt8;
  StageInput x_proj_input = StageInput::kAsProduced;  // path A
  StageInput ssm_input = StageInput::kAsProduced;     // path B
  SsmArithmetic ssm = SsmArithmetic::kKernel;
  bool builtin = false;

  // Stages that compute on quantized values, for listings ("in_proj, conv1d, x_proj, ...").
  std::vector<std::string> QuantizedStages() const;
};

// The named modes, in the order listings show them.
const std::vector<ModeSpec>& BuiltinModes();
std::optional<ModeSpec> FindBuiltinMode(const std::string& name);
// "fp32, fp16, bf16"
std::string BuiltinModeNames();
const char* FloatPrecisionName(FloatPrecision precision);

// Composes a user mode named `name` from "field=value,field=value" (e.g. "conv_out=fp32,ssm_in=requant,ssm=framework").
// Starts from the row named by the optional field `base` (default "0"); every other field overrides one ModeSpec
// field. Throws Error(kInvalidArgument) naming the field or value at fault and what is allowed.
ModeSpec ParseModeSpec(const std::string& name, const std::string& text);
// The fields and values ParseModeSpec accepts, one "field: value|value" per line, for help texts and errors.
std::string ModeSpecSyntax();

}  // namespace layerscope
