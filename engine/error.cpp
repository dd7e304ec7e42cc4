#include "engine/error.h"

namespace aha {
void throw_internal(const char* file, int line, const std::string& msg) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + msg);
}
}  // namespace aha
