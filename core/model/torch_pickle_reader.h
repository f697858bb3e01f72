// Reader for files written by torch.save (the zip format): a zip archive (entries stored, not compressed) with
// `<name>/data.pkl`, a pickle whose persistent ids point at raw storages `<name>/data/<key>`. LibTorch's own
// pickle_load cannot read state dicts (../shared/docs/MODES.md §2.4), so this implements the subset of pickle
// protocol 2 that torch.save emits for state dicts: dict / OrderedDict, tuples, lists, strings, ints, floats,
// booleans, None, and torch._utils._rebuild_tensor_v2 over typed storages (size, stride and storage offset are
// honoured: non-contiguous views come back as dense row-major copies).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>

#include "core/model/host_tensor.h"

namespace layerscope {

struct PickleNone {};

// One value of a state dict: a tensor or a plain Python scalar.
using StateValue = std::variant<HostTensor, double, int64_t, bool, std::string, PickleNone>;

// Reads a state dict saved with torch.save. Throws Error (kNotFound, kDataLoss) naming the file and, where one is
// at fault, the key or the pickle opcode / zip entry that could not be read.
std::map<std::string, StateValue> ReadTorchStateDict(const std::string& path);

// Writes a state dict that torch.load reads back (zip format, protocol 2 pickle, OrderedDict of tensors and
// Python scalars). Used to save Quamba checkpoints in the layout users have.
void WriteTorchStateDict(const std::string& path, const std::map<std::string, StateValue>& state);

}  // namespace layerscope
