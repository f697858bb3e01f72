#include "core/model/torch_pickle_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/model/zip_archive.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

// The pickle opcodes of this subset, by the names Python's pickle module gives them.
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinUnicode = 'X',
  kEmptyList = ']',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kShortBinUnicode = 0x8c,
};

// The typed-storage classes torch.save names in a tensor's persistent id, one per dtype.
struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"DoubleStorage", DType::kF64},    {"FloatStorage", DType::kF32}, {"HalfStorage", DType::kF16},
    {"BFloat16Storage", DType::kBF16}, {"LongStorage", DType::kI64},  {"IntStorage", DType::kI32},
    {"ShortStorage", DType::kI16},     {"CharStorage", DType::kI8},   {"ByteStorage", DType::kU8},
    {"BoolStorage", DType::kBool},
};

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

// Row-major strides of a dense tensor, as torch computes them (a dimension of size 0 counts as 1).
std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading.

struct Object;
// A pickled value. Everything but scalars lives in the Unpickler's arena and is referred to by pointer: the memo
// then shares objects as Python does, no copy of a string is made per BINGET, and nothing is destroyed
// recursively (a file nesting a million tuples must not overflow the stack).
using Value = std::variant<PickleNone, bool, int64_t, double, Object*>;

struct Object {
  enum class Kind { kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind;
  std::string text;           // kString: the string; kGlobal: "module.name"; kStorage: the storage key
  std::vector<Value> items;   // kTuple, kList; kDict: key, value, key, value, ...
  bool storage_type = false;  // kGlobal: names a typed-storage class (of `dtype`)
  DType dtype = DType::kF32;  // kGlobal naming a storage type, kStorage, kTensor
  // kStorage: its size in elements. kTensor: the view of `storage`.
  int64_t numel = 0;
  const Object* storage = nullptr;
  int64_t storage_offset = 0;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

const char* KindName(const Value& value) {
  if (std::holds_alternative<PickleNone>(value)) return "None";
  if (std::holds_alternative<bool>(value)) return "bool";
  if (std::holds_alternative<int64_t>(value)) return "int";
  if (std::holds_alternative<double>(value)) return "float";
  switch (std::get<Object*>(value)->kind) {
    case Object::Kind::kString: return "str";
    case Object::Kind::kTuple: return "tuple";
    case Object::Kind::kList: return "list";
    case Object::Kind::kDict: return "dict";
    case Object::Kind::kGlobal: return "global";
    case Object::Kind::kStorage: return "storage";
    case Object::Kind::kTensor: return "tensor";
  }
  return "?";
}

Object* AsObject(const Value& value, Object::Kind kind) {
  Object* const* object = std::get_if<Object*>(&value);
  return object != nullptr && (*object)->kind == kind ? *object : nullptr;
}

// Runs the pickle machine over data.pkl, without recursion and reading only inside the buffer.
class Unpickler {
 public:
  Unpickler(std::string context, const std::vector<uint8_t>& pickle) : context_(std::move(context)), data_(pickle) {}

  Value Run() {
    for (;;) {
      op_offset_ = pos_;
      const uint8_t op = *Take(1);
      switch (op) {
        case kProto: Take(1); break;
        case kStop: return Pop();
        case kMark: marks_.push_back(stack_.size()); break;
        case kNone: stack_.emplace_back(PickleNone{}); break;
        case kNewTrue: stack_.emplace_back(true); break;
        case kNewFalse: stack_.emplace_back(false); break;
        case kBinInt1: stack_.emplace_back(static_cast<int64_t>(LoadLittleEndian(Take(1), 1))); break;
        case kBinInt2: stack_.emplace_back(static_cast<int64_t>(LoadLittleEndian(Take(2), 2))); break;
        case kBinInt:
          stack_.emplace_back(static_cast<int64_t>(static_cast<int32_t>(LoadLittleEndian(Take(4), 4))));
          break;
        case kLong1: stack_.emplace_back(ReadLong1()); break;
        case kBinFloat: stack_.emplace_back(ReadBigEndianDouble()); break;
        case kBinUnicode: PushString(LoadLittleEndian(Take(4), 4)); break;
        case kShortBinUnicode: PushString(LoadLittleEndian(Take(1), 1)); break;
        case kGlobal: PushGlobal(); break;
        case kEmptyTuple: stack_.emplace_back(New(Object::Kind::kTuple)); break;
        case kEmptyList: stack_.emplace_back(New(Object::Kind::kList)); break;
        case kEmptyDict: stack_.emplace_back(New(Object::Kind::kDict)); break;
        case kTuple: PushTuple(PopToMark()); break;
        case kTuple1: PushTuple(PopN(1)); break;
        case kTuple2: PushTuple(PopN(2)); break;
        case kTuple3: PushTuple(PopN(3)); break;
        case kAppend: Append(PopN(1), Object::Kind::kList); break;
        case kAppends: Append(PopToMark(), Object::Kind::kList); break;
        case kSetItem: Append(PopN(2), Object::Kind::kDict); break;
        case kSetItems: {
          std::vector<Value> items = PopToMark();
          if (items.size() % 2 != 0) Fail("SETITEMS with an odd number of items");
          Append(std::move(items), Object::Kind::kDict);
          break;
        }
        case kBinPut: Memoize(static_cast<uint32_t>(LoadLittleEndian(Take(1), 1))); break;
        case kLongBinPut: Memoize(static_cast<uint32_t>(LoadLittleEndian(Take(4), 4))); break;
        case kBinGet: Recall(static_cast<uint32_t>(LoadLittleEndian(Take(1), 1))); break;
        case kLongBinGet: Recall(static_cast<uint32_t>(LoadLittleEndian(Take(4), 4))); break;
        case kReduce: Reduce(); break;
        case kBuild: Build(); break;
        case kBinPersId: PersistentLoad(); break;
        default: {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "0x%02x", op);
          Fail(std::string("unsupported pickle opcode ") + hex + " (torch.save state dicts use pickle protocol 2)");
        }
      }
    }
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw Error(ErrorKind::kDataLoss, context_ + ": " + what + " at offset " + std::to_string(op_offset_));
  }

  const uint8_t* Take(uint64_t n) {
    if (n > data_.size() - pos_) Fail("truncated pickle");
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

  Object* New(Object::Kind kind) {
    arena_.push_back(std::make_unique<Object>());
    arena_.back()->kind = kind;
    return arena_.back().get();
  }

  // Objects above the innermost MARK belong to it: popping into them would corrupt the mark (Python refuses too).
  size_t Floor() const { return marks_.empty() ? 0 : marks_.back(); }

  Value Pop() {
    if (stack_.size() <= Floor()) Fail("pickle stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }

  std::vector<Value> PopN(size_t n) {
    if (stack_.size() - Floor() < n) Fail("pickle stack underflow");
    std::vector<Value> items(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
  }

  std::vector<Value> PopToMark() {
    if (marks_.empty()) Fail("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return items;
  }

  Value& Top() {
    if (stack_.size() <= Floor()) Fail("pickle stack underflow");
    return stack_.back();
  }

  int64_t ReadLong1() {
    const size_t n = *Take(1);
    if (n > 8) Fail("integer of " + std::to_string(n) + " bytes does not fit 64 bits");
    uint64_t v = LoadLittleEndian(Take(n), n);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  double ReadBigEndianDouble() {
    const uint8_t* p = Take(8);
    uint8_t little[8];
    for (int i = 0; i < 8; ++i) little[i] = p[7 - i];
    double v;
    std::memcpy(&v, little, sizeof(v));
    return v;
  }

  void PushString(uint64_t length) {
    const uint8_t* p = Take(length);  // checked against the pickle's size before anything is allocated
    Object* s = New(Object::Kind::kString);
    s->text.assign(reinterpret_cast<const char*>(p), length);
    stack_.emplace_back(s);
  }

  std::string ReadLine() {
    const uint8_t* start = data_.data() + pos_;
    const void* newline = std::memchr(start, '\n', data_.size() - pos_);
    if (newline == nullptr) Fail("GLOBAL without a newline");
    const size_t length = static_cast<const uint8_t*>(newline) - start;
    Take(length + 1);
    return std::string(reinterpret_cast<const char*>(start), length);
  }

  // Only the globals a state dict needs are accepted, so a pickle cannot name anything else (as torch.load's
  // weights_only mode does).
  void PushGlobal() {
    const std::string module = ReadLine();
    const std::string name = module + "." + ReadLine();
    Object* global = New(Object::Kind::kGlobal);
    global->text = name;
    bool known = name == kOrderedDict || name == kRebuildTensor || name == kRebuildParameter;
    for (const StorageType& type : kStorageTypes) {
      if (name == std::string("torch.") + type.name) {
        global->storage_type = true;
        global->dtype = type.dtype;
        known = true;
      }
    }
    if (!known) Fail("unsupported global " + name + " (only state dicts of tensors and Python scalars are read)");
    stack_.emplace_back(global);
  }

  void PushTuple(std::vector<Value> items) {
    Object* tuple = New(Object::Kind::kTuple);
    tuple->items = std::move(items);
    stack_.emplace_back(tuple);
  }

  void Append(std::vector<Value> items, Object::Kind kind) {
    Object* target = AsObject(Top(), kind);
    if (target == nullptr) Fail(std::string("cannot add items to a ") + KindName(Top()));
    target->items.insert(target->items.end(), items.begin(), items.end());
  }

  void Memoize(uint32_t key) { memo_[key] = Top(); }

  void Recall(uint32_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) Fail("memo key " + std::to_string(key) + " was never stored");
    stack_.push_back(it->second);
  }

  // A persistent id ('storage', storage type, key, location, numel) names a storage saved as data/<key>.
  void PersistentLoad() {
    const Object* id = AsObject(Pop(), Object::Kind::kTuple);
    const Object* tag =
        id != nullptr && id->items.size() == 5 ? AsObject(id->items[0], Object::Kind::kString) : nullptr;
    if (tag == nullptr || tag->text != "storage") Fail("persistent id is not ('storage', type, key, location, numel)");
    const Object* type = AsObject(id->items[1], Object::Kind::kGlobal);
    const Object* key = AsObject(id->items[2], Object::Kind::kString);
    const int64_t* numel = std::get_if<int64_t>(&id->items[4]);
    if (type == nullptr || !type->storage_type || key == nullptr || numel == nullptr || *numel < 0) {
      Fail("persistent id is not ('storage', type, key, location, numel)");
    }
    Object* storage = New(Object::Kind::kStorage);
    storage->dtype = type->dtype;
    storage->text = key->text;
    storage->numel = *numel;
    stack_.emplace_back(storage);
  }

  static bool IntTuple(const Value& value, std::vector<int64_t>* out) {
    const Object* tuple = AsObject(value, Object::Kind::kTuple);
    if (tuple == nullptr) return false;
    for (const Value& item : tuple->items) {
      const int64_t* v = std::get_if<int64_t>(&item);
      if (v == nullptr) return false;
      out->push_back(*v);
    }
    return true;
  }

  void Reduce() {
    const Object* args = AsObject(Pop(), Object::Kind::kTuple);
    const Object* callable = AsObject(Pop(), Object::Kind::kGlobal);
    if (args == nullptr || callable == nullptr) Fail("REDUCE needs a global and an argument tuple");
    const std::vector<Value>& a = args->items;
    if (callable->text == kOrderedDict) {
      if (!a.empty()) Fail("OrderedDict called with arguments");
      stack_.emplace_back(New(Object::Kind::kDict));
    } else if (callable->text == kRebuildTensor) {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      Object* tensor = New(Object::Kind::kTensor);
      const int64_t* offset = a.size() == 6 || a.size() == 7 ? std::get_if<int64_t>(&a[1]) : nullptr;
      tensor->storage = offset != nullptr ? AsObject(a[0], Object::Kind::kStorage) : nullptr;
      if (tensor->storage == nullptr || !IntTuple(a[2], &tensor->size) || !IntTuple(a[3], &tensor->stride) ||
          tensor->size.size() != tensor->stride.size()) {
        Fail("_rebuild_tensor_v2 needs (storage, offset, size, stride, requires_grad, hooks)");
      }
      tensor->dtype = tensor->storage->dtype;
      tensor->storage_offset = *offset;
      stack_.emplace_back(tensor);
    } else if (callable->text == kRebuildParameter) {
      // (data, requires_grad, backward_hooks): a parameter is its tensor.
      if (a.size() != 3 || AsObject(a[0], Object::Kind::kTensor) == nullptr) {
        Fail("_rebuild_parameter needs (tensor, requires_grad, hooks)");
      }
      stack_.push_back(a[0]);
    } else {
      Fail("cannot call " + callable->text);
    }
  }

  // BUILD sets an object's state: an OrderedDict's (state_dict()'s _metadata) or a tensor's; neither matters here.
  void Build() {
    Pop();
    const Value& target = Top();
    if (AsObject(target, Object::Kind::kDict) == nullptr && AsObject(target, Object::Kind::kTensor) == nullptr) {
      Fail(std::string("BUILD on a ") + KindName(target));
    }
  }

  const std::string context_;
  const std::vector<uint8_t>& data_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  std::vector<std::unique_ptr<Object>> arena_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value> memo_;
};

// Copies the view `tensor` of a storage into a dense row-major HostTensor; takes the storage's bytes instead when
// the view is all of them and `sole_user`. `context` names the file and the tensor for errors.
HostTensor Materialize(const Object& tensor, std::vector<uint8_t>* storage_bytes, bool sole_user, uint64_t file_size,
                       const std::string& context) {
  const auto fail = [&](const std::string& what) { throw Error(ErrorKind::kDataLoss, context + ": " + what); };
  HostTensor out;
  out.dtype = tensor.dtype;
  out.shape = tensor.size;
  const uint64_t esize = DTypeSize(tensor.dtype);
  const uint64_t storage_numel = static_cast<uint64_t>(tensor.storage->numel);

  // Every size, stride and offset comes from the file: check them all (without overflow) before copying.
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t numel = 1;
  if (tensor.storage_offset < 0 || static_cast<uint64_t>(tensor.storage_offset) > storage_numel) {
    fail("storage offset " + std::to_string(tensor.storage_offset) + " outside a storage of " +
         std::to_string(storage_numel) + " elements");
  }
  uint64_t last = static_cast<uint64_t>(tensor.storage_offset);  // the view's highest element index
  for (size_t i = 0; i < tensor.size.size(); ++i) {
    const int64_t size = tensor.size[i];
    const int64_t stride = tensor.stride[i];
    if (size < 0 || stride < 0) fail("negative size or stride");
    if (numel != 0 && static_cast<uint64_t>(size) > kLimit / numel) fail("size " + out.ShapeString() + " too large");
    numel *= static_cast<uint64_t>(size);
    if (size > 0 && stride > 0) {
      if (static_cast<uint64_t>(size - 1) > (kLimit - last) / static_cast<uint64_t>(stride)) {
        fail("view " + out.ShapeString() + " lies outside its storage");
      }
      last += static_cast<uint64_t>(size - 1) * static_cast<uint64_t>(stride);
    }
  }
  if (numel == 0) return out;
  if (last >= storage_numel) {
    fail("view " + out.ShapeString() + " at offset " + std::to_string(tensor.storage_offset) + " needs element " +
         std::to_string(last) + " of a storage of " + std::to_string(storage_numel));
  }
  // Overlapping views (stride 0, as torch.expand makes) can be larger than their storage; none may be larger than
  // the file itself, so that the allocation below stays bounded by what was read.
  if (numel > kLimit / esize || numel * esize > std::max<uint64_t>(file_size, storage_numel * esize)) {
    fail("broadcast view " + out.ShapeString() + " is larger than the file");
  }

  const std::vector<int64_t> dense = ContiguousStrides(tensor.size);
  bool contiguous = true;
  for (size_t i = 0; i < dense.size(); ++i) {
    if (tensor.size[i] != 1 && tensor.stride[i] != dense[i]) contiguous = false;
  }
  const uint8_t* base = storage_bytes->data() + tensor.storage_offset * esize;
  if (contiguous) {
    if (sole_user && tensor.storage_offset == 0 && numel * esize == storage_bytes->size()) {
      out.bytes = std::move(*storage_bytes);  // the common case for large weights: no second copy in memory
    } else {
      out.bytes.assign(base, base + numel * esize);
    }
    return out;
  }
  // Strided: walk the index space in row-major order; rows of the last dimension are copied whole when dense.
  out.bytes.resize(numel * esize);
  const size_t ndim = tensor.size.size();
  const bool dense_rows = tensor.stride[ndim - 1] == 1;
  const uint64_t inner = dense_rows ? static_cast<uint64_t>(tensor.size[ndim - 1]) : 1;
  std::vector<int64_t> index(ndim, 0);
  uint8_t* dst = out.bytes.data();
  for (uint64_t done = 0; done < numel; done += inner, dst += inner * esize) {
    uint64_t element = 0;
    for (size_t i = 0; i < ndim; ++i) element += static_cast<uint64_t>(index[i] * tensor.stride[i]);
    std::memcpy(dst, base + element * esize, inner * esize);
    for (size_t i = dense_rows ? ndim - 1 : ndim; i-- > 0;) {  // odometer over the dimensions not copied whole
      if (++index[i] < tensor.size[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

// The folder holding data.pkl, looked up: torch names it after the file's stem ("cases/" in cases.bin).
std::string FindArchivePrefix(const ZipReader& zip) {
  for (const ZipEntry& entry : zip.entries()) {
    const size_t slash = entry.name.find('/');
    if (slash != std::string::npos && entry.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      return entry.name.substr(0, slash + 1);
    }
  }
  throw Error(ErrorKind::kDataLoss,
              zip.path() + ": no <archive>/data.pkl entry: not a state dict written by torch.save");
}

// ---------------------------------------------------------------------------------------------------------------
// Writing.

class PickleWriter {
 public:
  void Op(Opcode op) { bytes_.push_back(op); }

  void Proto() {
    Op(kProto);
    bytes_.push_back(2);
  }

  void Global(const std::string& module, const std::string& name) {
    Op(kGlobal);
    bytes_.insert(bytes_.end(), module.begin(), module.end());
    bytes_.push_back('\n');
    bytes_.insert(bytes_.end(), name.begin(), name.end());
    bytes_.push_back('\n');
  }

  void String(const std::string& s) {
    Op(kBinUnicode);
    AppendLittleEndian(s.size(), 4, &bytes_);
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }

  // Python's own choice of encoding: the shortest of BININT1, BININT2, BININT, then LONG1.
  void Int(int64_t v) {
    if (v >= 0 && v <= 0xff) {
      Op(kBinInt1);
      AppendLittleEndian(static_cast<uint64_t>(v), 1, &bytes_);
    } else if (v >= 0 && v <= 0xffff) {
      Op(kBinInt2);
      AppendLittleEndian(static_cast<uint64_t>(v), 2, &bytes_);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      Op(kBinInt);
      AppendLittleEndian(static_cast<uint64_t>(v), 4, &bytes_);
    } else {
      size_t n = 1;  // two's complement, as few bytes as keep the sign
      while (n < 8 && (v >> (8 * n - 1)) != 0 && (v >> (8 * n - 1)) != -1) ++n;
      Op(kLong1);
      bytes_.push_back(static_cast<uint8_t>(n));
      AppendLittleEndian(static_cast<uint64_t>(v), n, &bytes_);
    }
  }

  void Float(double v) {
    Op(kBinFloat);
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    for (int i = 7; i >= 0; --i) bytes_.push_back(static_cast<uint8_t>(bits >> (8 * i)));  // big-endian
  }

  void IntTuple(const std::vector<int64_t>& values) {
    Op(kMark);
    for (int64_t v : values) Int(v);
    Op(kTuple);
  }

  void EmptyOrderedDict() {
    Global("collections", "OrderedDict");
    Op(kEmptyTuple);
    Op(kReduce);
  }

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

const char* StorageTypeName(DType dtype) {
  for (const StorageType& type : kStorageTypes) {
    if (type.dtype == dtype) return type.name;
  }
  throw Error(ErrorKind::kInternal, std::string("no torch storage type for ") + DTypeName(dtype));
}

}  // namespace

std::map<std::string, StateValue> ReadTorchStateDict(const std::string& path) {
  {
    // Before 1.6 torch.save wrote a bare pickle stream; say so rather than "not a zip archive".
    InputFile file(path);
    uint8_t magic[2] = {0, 0};
    if (file.size() >= 2) file.Read(0, 2, magic, "the file's first bytes");
    if (magic[0] == kProto && magic[1] == 2) {
      throw Error(ErrorKind::kDataLoss, path +
                                            ": the legacy (PyTorch < 1.6) torch.save format is not supported; "
                                            "re-save it with a current PyTorch");
    }
  }
  const ZipReader zip(path);
  const std::string prefix = FindArchivePrefix(zip);
  const auto read_entry = [&](const std::string& name, const std::string& needed_by) -> std::vector<uint8_t> {
    const ZipEntry* entry = zip.Find(prefix + name);
    if (entry == nullptr) {
      throw Error(ErrorKind::kDataLoss, path + ": missing zip entry \"" + prefix + name + "\"" + needed_by);
    }
    return zip.Read(*entry);
  };

  if (zip.Find(prefix + "byteorder") != nullptr) {  // absent in files of older versions, which were all little
    const std::vector<uint8_t> order = read_entry("byteorder", "");
    if (std::string(order.begin(), order.end()) != "little") {
      throw Error(ErrorKind::kDataLoss, path + ": byteorder is \"" + std::string(order.begin(), order.end()) +
                                            "\"; only little-endian checkpoints are supported");
    }
  }

  const std::vector<uint8_t> pickle = read_entry("data.pkl", "");
  Unpickler unpickler(path + ": " + prefix + "data.pkl", pickle);
  const Value result = unpickler.Run();
  const Object* dict = AsObject(result, Object::Kind::kDict);
  if (dict == nullptr) {
    throw Error(ErrorKind::kDataLoss,
                path + ": holds a " + std::string(KindName(result)) + ", not a state dict (a dict of tensors)");
  }

  std::map<std::string, Value> entries;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const Object* key = AsObject(dict->items[i], Object::Kind::kString);
    if (key == nullptr) {
      throw Error(ErrorKind::kDataLoss,
                  path + ": a state dict key is a " + std::string(KindName(dict->items[i])) + ", not a string");
    }
    entries[key->text] = dict->items[i + 1];  // a repeated key replaces the earlier value, as in Python
  }

  std::map<std::string, StateValue> state;
  std::map<std::string, std::vector<std::pair<std::string, const Object*>>> tensors_by_storage;
  for (const auto& [key, value] : entries) {
    if (const auto* none = std::get_if<PickleNone>(&value)) {
      state.emplace(key, *none);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      state.emplace(key, *b);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      state.emplace(key, *n);
    } else if (const auto* d = std::get_if<double>(&value)) {
      state.emplace(key, *d);
    } else if (const Object* s = AsObject(value, Object::Kind::kString)) {
      state.emplace(key, s->text);
    } else if (const Object* t = AsObject(value, Object::Kind::kTensor)) {
      tensors_by_storage[t->storage->text].emplace_back(key, t);
    } else {
      throw Error(ErrorKind::kDataLoss, path + ": \"" + key + "\" is a " + KindName(value) +
                                            "; only tensors and Python scalars are supported in a state dict");
    }
  }

  // Each storage is read once, for all the tensors that view it, and dropped before the next one is read.
  for (const auto& [storage_key, users] : tensors_by_storage) {
    const std::string entry_name = "data/" + storage_key;
    std::vector<uint8_t> bytes = read_entry(entry_name, " (the storage of tensor \"" + users[0].first + "\")");
    for (const auto& [key, tensor] : users) {
      const std::string context = path + ": tensor \"" + key + "\"";
      const uint64_t esize = DTypeSize(tensor->dtype);
      if (static_cast<uint64_t>(tensor->storage->numel) > bytes.size() / esize) {
        throw Error(ErrorKind::kDataLoss, context + ": storage \"" + prefix + entry_name + "\" holds " +
                                              std::to_string(bytes.size()) + " bytes, fewer than its " +
                                              std::to_string(tensor->storage->numel) + " " + DTypeName(tensor->dtype) +
                                              " elements");
      }
      state.emplace(key, Materialize(*tensor, &bytes, users.size() == 1, zip.file_size(), context));
    }
  }
  return state;
}

void WriteTorchStateDict(const std::string& path, const std::map<std::string, StateValue>& state) {
  PickleWriter p;
  std::vector<const HostTensor*> storages;
  p.Proto();
  p.EmptyOrderedDict();
  p.Op(kMark);
  for (const auto& [key, value] : state) {
    p.String(key);
    if (const auto* tensor = std::get_if<HostTensor>(&value)) {
      for (int64_t dim : tensor->shape) {
        if (dim < 0) throw Error(ErrorKind::kInvalidArgument, path + ": tensor \"" + key + "\" has a negative size");
      }
      if (tensor->bytes.size() != static_cast<uint64_t>(tensor->numel()) * DTypeSize(tensor->dtype)) {
        throw Error(ErrorKind::kInvalidArgument, path + ": tensor \"" + key + "\" holds " +
                                                     std::to_string(tensor->bytes.size()) + " bytes for " +
                                                     DTypeName(tensor->dtype) + " " + tensor->ShapeString());
      }
      // torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()) over a dense storage.
      p.Global("torch._utils", "_rebuild_tensor_v2");
      p.Op(kMark);
      p.Op(kMark);
      p.String("storage");
      p.Global("torch", StorageTypeName(tensor->dtype));
      p.String(std::to_string(storages.size()));
      p.String("cpu");
      p.Int(tensor->numel());
      p.Op(kTuple);
      p.Op(kBinPersId);
      p.Int(0);
      p.IntTuple(tensor->shape);
      p.IntTuple(ContiguousStrides(tensor->shape));
      p.Op(kNewFalse);
      p.EmptyOrderedDict();
      p.Op(kTuple);
      p.Op(kReduce);
      storages.push_back(tensor);
    } else if (const auto* d = std::get_if<double>(&value)) {
      p.Float(*d);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      p.Int(*n);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      p.Op(*b ? kNewTrue : kNewFalse);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      p.String(*s);
    } else {
      p.Op(kNone);
    }
  }
  p.Op(kSetItems);
  p.Op(kStop);

  // The entries torch.save writes, in its order; torch.load requires "version".
  const std::string byteorder = "little";
  const std::string version = "3\n";
  ZipWriter zip(path);
  zip.Add("archive/data.pkl", p.bytes().data(), p.bytes().size());
  zip.Add("archive/byteorder", reinterpret_cast<const uint8_t*>(byteorder.data()), byteorder.size());
  for (size_t i = 0; i < storages.size(); ++i) {
    zip.Add("archive/data/" + std::to_string(i), storages[i]->bytes.data(), storages[i]->bytes.size());
  }
  zip.Add("archive/version", reinterpret_cast<const uint8_t*>(version.data()), version.size());
  zip.Finish();
}

}  // namespace layerscope
