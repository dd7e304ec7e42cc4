// libFuzzer target for the safetensors reader: any input must either parse or throw an
// aha::Error; never crash, read out of bounds or hit undefined behaviour (ASan + UBSan).
// On success every view is read end to end, so a view pointing outside the buffer or
// overstating nbytes is caught by ASan.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = aha::SafetensorsFile::parse(std::vector<uint8_t>(data, data + size), "fuzz");
    volatile uint8_t sink = 0;  // volatile: keep the reads from being optimised away
    for (const std::string& name : f.names()) {
      const aha::TensorView& v = f.get(name);
      for (size_t i = 0; i < v.nbytes; ++i) sink = sink ^ v.data[i];
      for (char c : v.name) sink = sink ^ static_cast<uint8_t>(c);
      // The reader promises the byte count matches dtype x shape.
      if (static_cast<size_t>(v.numel()) * aha::dtype_size(v.dtype) != v.nbytes) __builtin_trap();
      if (v.dtype == aha::DType::F32) (void)f.get_f32(name, v.shape);
    }
    for (const auto& [k, val] : f.metadata()) sink = sink ^ static_cast<uint8_t>(k.size() + val.size());
    f.expect_exactly(f.names());
  } catch (const aha::Error&) {
    // Rejected cleanly: the expected outcome for most inputs.
  }
  return 0;
}
