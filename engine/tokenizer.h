// The tokenizer: byte-level with 8 special tokens, so every UTF-8 text (English,
// Chinese, arithmetic) has an encoding and there is no unknown token. Ids:
//   0 <pad>  1 <bos>  2 <eos>  3 <think>  4 </think>  5 <answer>  6 </answer>  7 <sep>
//   8 + b    byte b (0..255)
// The literal strings of the specials in a text encode to the special ids.
// Decoding an id outside [0, size) throws InvalidArgument; decoding never fails on
// bytes that are not valid UTF-8 (they are returned as they are).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

class Tokenizer {
 public:
  static constexpr int kPad = 0, kBos = 1, kEos = 2, kThink = 3, kEndThink = 4, kAnswer = 5,
                       kEndAnswer = 6, kSep = 7, kByteOffset = 8;
  static constexpr int kSize = 264;
  int size() const { return kSize; }
  std::vector<int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string token_text(int32_t id) const;   // one token, for displays
  static const std::vector<std::string>& specials();
  std::string to_json() const;                // tokenizer.json stored with a checkpoint
  // Checks a tokenizer.json is the one this build understands (FormatError otherwise).
  static void check_json(const std::string& json, const std::string& origin);
};

}  // namespace aha
