// Typed exceptions of the engine. The engine is hosted by a GUI: it never exits
// or aborts; every failure is one of these, with a message that says what is
// wrong and where. Internal errors (a broken invariant) carry file:line.
#pragma once
#include <stdexcept>
#include <string>

namespace aha {

struct Error : std::runtime_error { using std::runtime_error::runtime_error; };
// A configuration key is missing, unknown, of the wrong type, or breaks a rule.
// key(): the offending key ("model.n_group", "tags[1]"), or "" when the error is not
// about one key (a TOML syntax error, an unknown preset) — the studio's form shows the
// message beside that key's field.
struct ConfigError : Error {
  explicit ConfigError(const std::string& msg, std::string key = "") : Error(msg), key_(std::move(key)) {}
  const std::string& key() const { return key_; }
 private:
  std::string key_;
};
// A file (checkpoint, safetensors, corpus) is malformed or unreadable.
struct FormatError : Error { using Error::Error; };
// Reading or writing a file failed (permissions, disk full, missing path).
struct IoError : Error { using Error::Error; };
// A caller passed an argument the operation cannot take (bad token id, shape).
struct InvalidArgument : Error { using Error::Error; };
// Training produced a non-finite loss or gradient.
struct NumericError : Error { using Error::Error; };
// A broken invariant inside the engine: a bug, reported with file:line.
struct InternalError : Error { using Error::Error; };

[[noreturn]] inline void throw_internal(const char* file, int line, const std::string& msg) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + msg);
}

}  // namespace aha

// AHA_CHECK(cond, msg): an invariant the engine relies on; throws InternalError with file:line.
#define AHA_CHECK(cond, msg)                                                   \
  do {                                                                         \
    if (!(cond)) ::aha::throw_internal(__FILE__, __LINE__, std::string("check failed: " #cond ": ") + (msg)); \
  } while (0)
