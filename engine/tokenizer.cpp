#include "engine/tokenizer.h"

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace aha {

const std::vector<std::string>& Tokenizer::specials() {
  static const std::vector<std::string> s = {"<pad>", "<bos>", "<eos>", "<think>",
                                             "</think>", "<answer>", "</answer>", "<sep>"};
  return s;
}

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int32_t> out;
  out.reserve(text.size());
  const auto& sp = specials();
  for (size_t i = 0; i < text.size();) {
    int found = -1;
    if (text[i] == '<')
      for (int s = 0; s < (int)sp.size(); s++)
        if (text.compare(i, sp[s].size(), sp[s]) == 0) { found = s; break; }
    if (found >= 0) {
      out.push_back(found);
      i += sp[found].size();
    } else {
      out.push_back(kByteOffset + (uint8_t)text[i]);
      i++;
    }
  }
  return out;
}

std::string Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= kSize)
    throw InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(kSize) + ")");
  if (id < kByteOffset) return specials()[id];
  return std::string(1, (char)(id - kByteOffset));
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  for (int32_t id : ids) s += token_text(id);
  return s;
}

std::string Tokenizer::to_json() const {
  nlohmann::json j;
  j["type"] = "aha-byte";
  j["version"] = 1;
  j["vocab_size"] = kSize;
  j["specials"] = specials();
  j["byte_offset"] = kByteOffset;
  return j.dump(2);
}

void Tokenizer::check_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw FormatError(origin + ": not valid JSON: " + e.what());
  }
  // Compare JSON values, never convert them: a wrong type is a mismatch, not an exception.
  const bool ok = j.is_object() && j.contains("type") && j["type"] == "aha-byte" &&
                  j.contains("byte_offset") && j["byte_offset"] == kByteOffset &&
                  j.contains("vocab_size") && j["vocab_size"] == kSize && j.contains("specials") &&
                  j["specials"] == nlohmann::json(specials());
  if (!ok)
    throw FormatError(origin + ": tokenizer is not the byte-level tokenizer of this build "
                               "(type aha-byte, 8 specials, 264 tokens)");
}

}  // namespace aha
