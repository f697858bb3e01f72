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
  kAsProduced,  // whatever conv1d produced (int8 codes, grid values or fp32)
  kRequantRne,  // clamp(RNE(v / s_u)) with the static scale s_u
};

// Quantized modes: the selective scan's arithmetic (../shared/docs/MODES.md §3).
enum class SsmArithmetic { kKernel, kFramework, kReference };

// Quantized modes: what the int8 quantization of the Hadamard-rotated SSM output (out_proj's input) does with a
// value beyond [-128, 127] (MODES.md §2.3 step 6).
enum class Int8Overflow {
  kSaturate,  // clamp to the range (our default)
  kWrap,      // wrap modulo 256, as the published kernel does (reproduces published numbers)
};

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
  Int8Overflow out_proj_input = Int8Overflow::kSaturate;
  bool builtin = false;

  // Stages that compute on quantized values, for listings ("norm, in_proj, conv1d (int8 in, fp32 out), ...").
  std::vector<std::string> QuantizedStages() const;
};

// How a capture of a mode was brought to the FP model's basis and units (MODES.md §4), recorded with it.
struct CaptureDescription {
  std::string dtype = "fp32";  // what the mode's data path held there: "int8", "fp16", "fp32"
  double scale = 0;            // the scale its int8 codes were dequantized with (0 when not int8)
  std::string scale_name;      // the recipe's name of that scale ("s_in", "s_xz", "s_u", "dynamic", ...)
  bool unrotated = false;      // Ĥ applied to return from the rotated basis (mixer_input/output, out_proj_input)
  bool gamma_applied = false;  // mixer_input multiplied by the layer's folded norm weight γ
};

// The named modes, in the order listings show them.
const std::vector<ModeSpec>& BuiltinModes();
std::optional<ModeSpec> FindBuiltinMode(const std::string& name);
// "fp32, fp16, bf16, 1, 0, 2-0, ..."
std::string BuiltinModeNames();
const char* FloatPrecisionName(FloatPrecision precision);

// Composes a user mode named `name` from "field=value,field=value" (e.g. "conv_out=fp32,ssm_in=requant,ssm=framework").
// Starts from the row named by the optional field `base` (default "0"); every other field overrides one ModeSpec
// field. x_proj is a W8A8 linear: with conv_out=fp32 it gets xproj_in=requant unless the text sets xproj_in.
// Throws Error(kInvalidArgument) naming the field or value at fault and what is allowed, or the two fields that
// cannot go together (xproj_in=as_produced with conv_out=fp32).
ModeSpec ParseModeSpec(const std::string& name, const std::string& text);
// The fields and values ParseModeSpec accepts, one "field: value|value" per line, for help texts and errors.
std::string ModeSpecSyntax();

}  // namespace layerscope
