// The built-in presets, compiled from resources/presets/*.toml at configure time.
#include <string>
#include <utility>
#include <vector>

namespace aha {
const std::vector<std::pair<std::string, std::string>>& builtin_presets() {
  static const std::vector<std::pair<std::string, std::string>> presets = {
#include "presets_data.inc"
  };
  return presets;
}
}  // namespace aha
