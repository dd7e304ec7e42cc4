// Reading and writing .safetensors files (the Hugging Face format):
//   [u64 little-endian header length N][N bytes of JSON header][data]
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}
// relative to the start of the data; an optional "__metadata__" maps strings to strings.
// The reader validates everything before it hands out a view and never reads out of
// bounds: header length past the end of the file, offsets out of range, overlapping
// (gaps between tensors are accepted, as other writers leave them), unknown dtype, data size not matching the shape, duplicate names.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aha {

enum class DType { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };
const char* dtype_name(DType t);       // "F32", "BF16", ... as safetensors spells them
size_t dtype_size(DType t);            // bytes per element

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;       // points into the owning SafetensorsFile
  size_t nbytes = 0;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Views point into the owned bytes: moving keeps them valid, copying would not.
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  SafetensorsFile() = default;
  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;
  // Parses and validates a whole file held in memory. `origin` names it in errors.
  // Throws FormatError.
  static SafetensorsFile parse(std::vector<uint8_t> bytes, const std::string& origin);
  // Reads a file from disk (IoError if unreadable) and parses it.
  static SafetensorsFile read(const std::string& path);

  bool has(const std::string& name) const;
  // Throws FormatError "<origin>: missing tensor '<name>'".
  const TensorView& get(const std::string& name) const;
  // Copies an F32 tensor out after checking its shape; FormatError names the tensor
  // and both shapes when they differ, or the dtype when it is not F32.
  std::vector<float> get_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& origin() const { return origin_; }
  // Throws FormatError listing missing and unexpected tensor names (sorted) when the
  // file's set of names differs from `expected`.
  void expect_exactly(const std::vector<std::string>& expected) const;

 private:
  std::vector<uint8_t> bytes_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
  std::string origin_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;          // dtype_size(dtype) * numel bytes
};

// Writes atomically (a temporary file in the same directory, then rename), so an
// existing file is never left half-written. Tensors are laid out sorted by name,
// 8-byte aligned header as the reference implementation does. Throws IoError.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace aha
