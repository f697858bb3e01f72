// Save: `layerscope save`, the seed's save workflow. Asks the server for the plan (captures.proto's Plan), prints
// the size it will download, asks for confirmation above a threshold, then streams the captures (Save) into OUT:
//
//   OUT/layer_outputs/mode_<mode>_layer_<idx>_<point>.npy   float32, shape [samples, seq_len, channels]: samples
//                                                          in data order, token positions in order, channels in
//                                                          the FP model's order at that point (its basis and units)
//   OUT/mode_<mode>_stats.json                             the seed's statistics of each array (below)
//
// Each array is checked against the size and SHA-256 the server sends; a mismatch fails the command. The stats file
// of a mode holds: "timestamp" (UTC, ISO 8601), "mode", "num_samples", "seq_length", "model_dtype", and "stats":
// one entry per array, keyed "layer_<idx>_<point>", with "shape", "dtype", "mean", "std" (population), "min",
// "max", "abs_mean", computed in fp64 over every element; plus what `compare --offline` needs to recompute the
// server's metrics: "model", "layers" (ascending), "points" (in request order), "batch_size", "device".
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

#include "client/connection.h"
#include "layerscope/v1/captures.pb.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// Downloads above this many MiB are confirmed first (unless SaveOptions::yes).
inline constexpr int64_t kDefaultConfirmAboveMib = 512;

struct SaveOptions {
  std::string out_dir;                                  // --out
  bool yes = false;                                     // --yes: never ask
  int64_t confirm_above_mib = kDefaultConfirmAboveMib;  // --confirm-above
};

// Runs the save: the estimate on `out`, the question on `err` and the answer from `in` when `in` is a terminal
// (`in_is_terminal`); without a terminal a download over the threshold is refused (kExitUsage) unless --yes.
// Throws ClientError.
void RunSave(Connection& connection, const v1::SaveRequest& request, const SaveOptions& options, std::istream& in,
             bool in_is_terminal, std::ostream& out, std::ostream& err);

// The save of what `request` selects: its model, modes (here also groups), layers, points, data, sizes and
// composed modes; its reference mode does not apply to a save.
v1::SaveRequest SaveRequestFrom(const v1::CompareRequest& request);

// "12.3 MiB", "512 B": a byte count for people.
std::string HumanBytes(int64_t bytes);

}  // namespace layerscope::client
