// Helpers shared by the task tests (test_tasks.cpp, test_task_traces.cpp).
#pragma once
#include <string>
#include <vector>

#include "engine/task.h"

namespace aha::test {

// The text between "<answer> " and " </answer>" (the solutions' exact form).
inline std::string answer_of(const std::string& sol) {
  const size_t a = sol.find("<answer> "), b = sol.find(" </answer>");
  if (a == std::string::npos || b == std::string::npos || b < a) return "";
  return sol.substr(a + 9, b - a - 9);
}
inline std::string think_of(const std::string& sol) {
  const size_t a = sol.find("<think> "), b = sol.find(" </think>");
  if (a == std::string::npos || b == std::string::npos || b < a) return "";
  return sol.substr(a + 8, b - a - 8);
}

// Letters by script: ASCII letters vs CJK ideographs (U+4E00..U+9FFF, 3-byte UTF-8).
struct Letters { int latin = 0, cjk = 0; };
inline Letters count_letters(const std::string& s) {
  Letters c;
  for (size_t i = 0; i < s.size(); i++) {
    const unsigned char b = (unsigned char)s[i];
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) c.latin++;
    if (b >= 0xE4 && b <= 0xE9 && i + 2 < s.size()) {
      c.cjk++;
      i += 2;
    }
  }
  return c;
}

inline std::vector<TraceStyle> all_styles() {
  std::vector<TraceStyle> v;
  for (const char* lang : {"en", "zh"})
    for (double cs : {0.0, 0.3, 1.0})
      for (double sc : {0.0, 0.5, 1.0}) {
        TraceStyle s;
        s.language = lang;
        s.code_switch = cs;
        s.self_correction = sc;
        v.push_back(s);
      }
  TraceStyle cold;
  cold.cold_start = true;
  v.push_back(cold);
  cold.self_correction = 1.0;
  v.push_back(cold);
  return v;
}

inline int max_difficulty(const std::string& task) { return task == "arithmetic" ? 9 : task == "countdown" ? 3 : 5; }

}  // namespace aha::test
