#include <atomic>
// Reader and writer of .safetensors files; the format and the promises are in safetensors.h.
// The reader treats every byte of the file as hostile: each size and offset is checked with
// overflow-checked 64-bit arithmetic before any pointer is formed from it.
#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <nlohmann/json.hpp>

#include "engine/error.h"

// Tensor bytes are handed out as-is and the length field is decoded as little-endian; the
// format is little-endian, so a big-endian port would need byte swapping in get_f32 and here.
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace aha {
namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; a real header is a few hundred KB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests 3 deep (object → entry → shape array). The limit keeps hostile input
// such as "[[[[..." from costing stack or time anywhere downstream.
constexpr int kMaxJsonDepth = 16;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

struct DTypeInfo { DType type; const char* name; size_t size; };
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},         {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},           {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d;
  throw InvalidArgument("invalid DType value " + std::to_string(static_cast<int>(t)));
}

[[noreturn]] void fail(const std::string& origin, const std::string& msg) {
  throw FormatError(origin + ": " + msg);
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", '" : "'") + v[i] + "'";
  return out;
}

// A JSON number that is an integer >= 0. nlohmann stores non-negative integers as unsigned and
// anything with a fraction, an exponent or beyond 2^64-1 as a float, which is rejected here.
bool as_u64(const json& v, uint64_t& out) {
  if (v.is_number_unsigned()) { out = v.get<uint64_t>(); return true; }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) { out = static_cast<uint64_t>(v.get<int64_t>()); return true; }
  return false;
}

// Parses the header. nlohmann silently keeps the last of duplicate keys, so a parser callback
// watches the key events and rejects a repeated key in any object (a repeated tensor name
// would otherwise hide a tensor). The callback also bounds the nesting depth.
json parse_header(const char* p, size_t n, const std::string& origin) {
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, one set per open object
  int depth = 0;
  auto callback = [&](int, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        [[fallthrough]];
      case json::parse_event_t::array_start:
        if (++depth > kMaxJsonDepth) fail(origin, "header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        [[fallthrough]];
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key: {
        const auto& k = parsed.get_ref<const std::string&>();
        if (!open_objects.empty() && !open_objects.back().insert(k).second)
          fail(origin, (open_objects.size() == 1 ? "duplicate tensor name '" : "duplicate key '") + k + "' in header");
        break;
      }
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore what follows;
  // the reference parser rejects NUL outside strings, and so do we.
  if (std::memchr(p, '\0', n)) fail(origin, "header is not valid JSON: it contains a NUL byte");
  try {
    return json::parse(p, p + n, callback);
  } catch (const json::exception& e) {
    fail(origin, std::string("header is not valid JSON: ") + e.what());
  }
}

std::map<std::string, std::string> parse_metadata(const json& m, const std::string& origin) {
  if (!m.is_object()) fail(origin, "__metadata__ must be an object of strings, got " + std::string(m.type_name()));
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) fail(origin, "__metadata__ value for key '" + k + "' must be a string, got " + v.type_name());
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

// Validates one tensor entry and returns its view; data_size is the length of the data buffer
// that starts at `data`. The entry's [begin, end) is returned through begin/end for the
// overlap check.
TensorView parse_entry(const std::string& name, const json& e, const uint8_t* data, uint64_t data_size,
                       const std::string& origin, uint64_t& begin, uint64_t& end) {
  const std::string t = "tensor '" + name + "'";
  if (!e.is_object()) fail(origin, t + ": entry must be an object, got " + e.type_name());
  for (const auto& [k, v] : e.items())
    if (k != "dtype" && k != "shape" && k != "data_offsets") fail(origin, t + ": unexpected field '" + k + "'");
  for (const char* k : {"dtype", "shape", "data_offsets"})
    if (!e.contains(k)) fail(origin, t + ": missing field '" + k + "'");

  TensorView v;
  v.name = name;
  const json& dt = e["dtype"];
  if (!dt.is_string()) fail(origin, t + ": dtype must be a string, got " + dt.type_name());
  const auto& dname = dt.get_ref<const std::string&>();
  const DTypeInfo* di = nullptr;
  for (const auto& d : kDTypes)
    if (dname == d.name) di = &d;
  if (!di) fail(origin, t + ": unknown dtype '" + dname + "'");
  v.dtype = di->type;

  // The product of the non-zero dims must fit int64, so numel() and any stride a caller
  // computes cannot overflow; a zero dim makes the tensor empty.
  const json& sh = e["shape"];
  const std::string bad_shape = t + ": shape must be an array of non-negative integers";
  if (!sh.is_array()) fail(origin, bad_shape);
  uint64_t prod = 1;
  bool empty = false;
  for (const json& d : sh) {
    uint64_t x = 0;
    if (!as_u64(d, x) || x > kInt64Max) fail(origin, bad_shape);
    v.shape.push_back(static_cast<int64_t>(x));
    if (x == 0) { empty = true; continue; }
    if (__builtin_mul_overflow(prod, x, &prod) || prod > kInt64Max)
      fail(origin, t + ": shape " + shape_str(v.shape) + "... has too many elements (numel overflows int64)");
  }
  const uint64_t numel = empty ? 0 : prod;
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(di->size), &nbytes))
    fail(origin, t + ": shape " + shape_str(v.shape) + " has too many bytes (numel overflows 64 bits)");

  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !as_u64(off[0], begin) || !as_u64(off[1], end))
    fail(origin, t + ": data_offsets must be two non-negative integers [begin, end]");
  if (begin > end)
    fail(origin, t + ": data_offsets begin " + std::to_string(begin) + " > end " + std::to_string(end));
  if (end > data_size)
    fail(origin, t + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range of the data buffer of " + std::to_string(data_size) + " bytes");
  if (end - begin != nbytes)
    fail(origin, t + ": data size mismatch: dtype " + dname + " x shape " + shape_str(v.shape) + " expects " +
                     std::to_string(nbytes) + " bytes, data_offsets give " + std::to_string(end - begin) + " bytes");
  v.data = data + begin;  // begin <= end <= data_size: inside the buffer (or one past its end when empty)
  v.nbytes = static_cast<size_t>(nbytes);
  return v;
}

// Writes all of [p, p+n) to fd, retrying short writes and EINTR. False with errno set on failure.
bool write_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (w == 0) { errno = ENOSPC; return false; }
    c += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

const char* dtype_name(DType t) { return info(t).name; }
size_t dtype_size(DType t) { return info(t).size; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      throw InvalidArgument("tensor '" + name + "': invalid shape " + shape_str(shape));
  }
  return n;
}

SafetensorsFile SafetensorsFile::parse(std::vector<uint8_t> bytes, const std::string& origin) {
  SafetensorsFile f;
  f.origin_ = origin;
  f.bytes_ = std::move(bytes);  // views point into this buffer; moving the file keeps it in place
  const uint8_t* base = f.bytes_.data();
  const uint64_t size = f.bytes_.size();
  if (size < 8)
    fail(origin, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length field");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(base[i]) << (8 * i);
  if (n > kMaxHeaderBytes)
    fail(origin, "header length " + std::to_string(n) + " bytes is absurd (limit " + std::to_string(kMaxHeaderBytes) + ")");
  if (n > size - 8)
    fail(origin, "header length " + std::to_string(n) + " runs past the end of the file: only " +
                     std::to_string(size - 8) + " bytes follow the length field");

  const json header = parse_header(reinterpret_cast<const char*>(base + 8), static_cast<size_t>(n), origin);
  if (!header.is_object()) fail(origin, std::string("header must be a JSON object, got ") + header.type_name());

  const uint8_t* data = base + 8 + n;
  const uint64_t data_size = size - 8 - n;
  struct Span { uint64_t begin, end; const std::string* name; };
  std::vector<Span> spans;
  for (const auto& [key, val] : header.items()) {
    if (key == "__metadata__") { f.metadata_ = parse_metadata(val, origin); continue; }
    uint64_t b = 0, e = 0;
    TensorView v = parse_entry(key, val, data, data_size, origin, b, e);
    auto it = f.tensors_.emplace(key, std::move(v)).first;
    if (b != e) spans.push_back({b, e, &it->first});  // empty tensors occupy no bytes
  }

  // Gaps and trailing bytes are tolerated (some writers align tensors), overlap is not: after
  // sorting by begin, a span overlaps an earlier one iff it begins before the furthest end so far.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  const Span* furthest = nullptr;
  for (const Span& s : spans) {
    if (furthest && s.begin < furthest->end)
      fail(origin, "tensors '" + *furthest->name + "' [" + std::to_string(furthest->begin) + ", " +
                       std::to_string(furthest->end) + ") and '" + *s.name + "' [" + std::to_string(s.begin) +
                       ", " + std::to_string(s.end) + ") overlap");
    if (!furthest || s.end > furthest->end) furthest = &s;
  }
  return f;
}

SafetensorsFile SafetensorsFile::read(const std::string& path) {
  auto io_fail = [&](const char* what) { throw IoError(path + ": cannot " + what + ": " + std::strerror(errno)); };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail("open");
  std::vector<uint8_t> bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) bytes.reserve(static_cast<size_t>(st.st_size));
  // Read to EOF rather than trusting st_size, which may change under us or be 0 (pipes, /proc).
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { int err = errno; ::close(fd); errno = err; io_fail("read"); }
    if (r == 0) break;
    bytes.insert(bytes.end(), buf, buf + r);
  }
  ::close(fd);
  return parse(std::move(bytes), path);
}

bool SafetensorsFile::has(const std::string& name) const { return tensors_.count(name) != 0; }

const TensorView& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(origin_, "missing tensor '" + name + "'");
  return it->second;
}

std::vector<float> SafetensorsFile::get_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const TensorView& v = get(name);
  if (v.dtype != DType::F32)
    fail(origin_, "tensor '" + name + "' has dtype " + dtype_name(v.dtype) + ", expected F32");
  if (v.shape != expected_shape)
    fail(origin_, "tensor '" + name + "' has shape " + shape_str(v.shape) + ", expected " + shape_str(expected_shape));
  std::vector<float> out(v.nbytes / sizeof(float));
  // memcpy, not a cast: the data sits at an arbitrary offset in the file and may be unaligned.
  if (v.nbytes) std::memcpy(out.data(), v.data, v.nbytes);
  return out;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

void SafetensorsFile::expect_exactly(const std::vector<std::string>& expected) const {
  const std::set<std::string> want(expected.begin(), expected.end());
  std::vector<std::string> missing, unexpected;
  for (const auto& n : want)
    if (!has(n)) missing.push_back(n);
  for (const auto& [n, v] : tensors_)
    if (!want.count(n)) unexpected.push_back(n);
  if (missing.empty() && unexpected.empty()) return;
  std::string msg = "tensor names differ from the expected set:";
  if (!missing.empty()) msg += " missing " + join(missing) + (unexpected.empty() ? "" : ";");
  if (!unexpected.empty()) msg += " unexpected " + join(unexpected);
  fail(origin_, msg);
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Lay the tensors out contiguously in name order, the order of the (sorted) JSON keys.
  std::vector<const TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<size_t> sizes;
  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite& t = *order[i];
    if (t.name == "__metadata__") throw InvalidArgument(path + ": '__metadata__' cannot be a tensor name");
    if (i && order[i - 1]->name == t.name) throw InvalidArgument(path + ": duplicate tensor name '" + t.name + "'");
    TensorView shape_only{t.name, t.dtype, t.shape, nullptr, 0};
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(shape_only.numel()), dtype_size(t.dtype), &nbytes) ||
        nbytes > std::numeric_limits<size_t>::max())
      throw InvalidArgument(path + ": tensor '" + t.name + "' is too large");
    if (nbytes && !t.data) throw InvalidArgument(path + ": tensor '" + t.name + "' has no data");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    sizes.push_back(static_cast<size_t>(nbytes));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // a name or metadata string that is not valid UTF-8
    throw InvalidArgument(path + ": cannot encode safetensors header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  // Write a temporary file next to the target, fsync it, then rename over the target: rename is
  // atomic, so readers see the old file or the complete new one, never a torn one.
  static std::atomic<unsigned> counter{0};  // two writers in one process never share a temp name
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  auto io_fail = [&](const char* what) {
    const int err = errno;  // close/unlink below may overwrite errno
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot " + what + ": " + std::strerror(err));
  };
  if (fd < 0) io_fail("create temporary file");
  bool ok = write_all(fd, len, 8) && write_all(fd, text.data(), text.size());
  for (size_t i = 0; ok && i < order.size(); ++i) ok = write_all(fd, order[i]->data, sizes[i]);
  if (!ok) io_fail("write");
  if (::fsync(fd) != 0) io_fail("fsync");
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) io_fail("close");  // NFS and some file systems report write errors only here
  if (::rename(tmp.c_str(), path.c_str()) != 0) io_fail("rename temporary file over");
  // Make the rename itself durable; best effort, the data is already safe.
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace aha
