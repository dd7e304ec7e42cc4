#include "engine/curriculum.h"

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace aha {
namespace fs = std::filesystem;

namespace {
// Independent, reproducible streams per purpose and index: example i of a set does not
// depend on how many were generated before it.
Rng stream(uint64_t seed, uint64_t purpose, int64_t i) {
  return Rng(seed * 0x9E3779B97F4A7C15ull ^ (purpose << 56) ^ (uint64_t)i * 0xD1B54A32D192ED03ull);
}
enum Purpose : uint64_t { kPretrain = 1, kSft = 2, kRl = 3, kEval = 4 };
}  // namespace

Curriculum::Curriculum(const CurriculumConfig& c) : c_(c) {}

int Curriculum::difficulty(const std::string& task) const {
  if (task == "arithmetic") return c_.difficulty_arithmetic;
  if (task == "countdown") return c_.difficulty_countdown;
  return c_.difficulty_linear;
}

const Task& Curriculum::pick_task(Rng& rng) const {
  const double total = c_.weight_arithmetic + c_.weight_countdown + c_.weight_linear;
  const double u = rng.uniform() * total;
  if (u < c_.weight_arithmetic) return task_by_name("arithmetic");
  if (u < c_.weight_arithmetic + c_.weight_countdown) return task_by_name("countdown");
  return task_by_name("linear");
}

Problem Curriculum::train_problem(const Task& t, Rng& rng) const {
  for (int tries = 0; tries < 1000; tries++) {
    Problem p = t.generate(rng, difficulty(t.name()));
    if (!in_eval_split(p, c_.eval_fraction)) return p;
  }
  throw InvalidArgument("curriculum: task " + t.name() + " gave no training problem in 1000 draws");
}

Example Curriculum::pretrain(int64_t i) const {
  Rng rng = stream(c_.seed, kPretrain, i);
  const Task& t = pick_task(rng);
  Example e;
  e.problem = train_problem(t, rng);
  TraceStyle style;
  style.language = rng.uniform() < c_.zh_fraction ? "zh" : "en";
  style.code_switch = c_.code_switch;
  style.self_correction = c_.self_correction;
  style.two_facts = c_.carry_style == "two_facts";
  e.language = style.language;
  e.prompt = r1_prompt(e.problem.question);
  if (rng.uniform() >= c_.template_fraction) e.prompt = e.prompt.substr(e.prompt.rfind("User: "));  // compact form
  e.completion = t.solution(e.problem, style, rng);
  return e;
}

Example Curriculum::sft(int64_t i) const {
  Rng rng = stream(c_.seed, kSft, i);
  const Task& t = pick_task(rng);
  Example e;
  e.problem = train_problem(t, rng);
  TraceStyle style;
  style.cold_start = true;  // English, readable, reasoning then summary
  style.two_facts = c_.carry_style == "two_facts";
  e.prompt = r1_prompt(e.problem.question);
  e.completion = t.solution(e.problem, style, rng);
  return e;
}

Example Curriculum::rl(int64_t i) const {
  Rng rng = stream(c_.seed, kRl, i);
  const Task& t = pick_task(rng);
  Example e;
  e.problem = train_problem(t, rng);
  e.prompt = r1_prompt(e.problem.question);
  return e;
}

std::vector<Example> Curriculum::eval(const std::string& task) const {
  const Task& t = task_by_name(task);
  std::vector<Example> out;
  for (Problem& p : draw_problems(t, c_.seed ^ 0xE7A1ull, c_.eval_problems, difficulty(task), true, c_.eval_fraction)) {
    Example e;
    e.prompt = r1_prompt(p.question);
    e.problem = std::move(p);
    out.push_back(std::move(e));
  }
  return out;
}

std::string Curriculum::document(const Example& e) {
  return "<bos>" + e.prompt + " " + e.completion + "<eos>\n";
}

std::vector<int32_t> curriculum_tokens(const CurriculumConfig& c) {
  Curriculum cur(c);
  Tokenizer tok;
  std::vector<int32_t> out;
  for (int64_t i = 0; i < c.pretrain_problems; i++) {
    const std::vector<int32_t> t = tok.encode(Curriculum::document(cur.pretrain(i)));
    out.insert(out.end(), t.begin(), t.end());
  }
  return out;
}

namespace {
nlohmann::json example_json(const Example& e) {
  nlohmann::json j = e.problem.to_json();
  j["prompt"] = e.prompt;
  if (!e.completion.empty()) j["completion"] = e.completion;
  if (!e.completion.empty()) j["language"] = e.language;
  return j;
}

class Out {
 public:
  explicit Out(const fs::path& p) : path_(p), f_(p, std::ios::binary) {
    if (!f_) throw IoError("cannot write '" + p.string() + "'");
  }
  void line(const std::string& s) {
    f_ << s << '\n';
    if (!f_) throw IoError("cannot write '" + path_.string() + "' (disk full?)");
  }
  void raw(const std::string& s) {
    f_ << s;
    if (!f_) throw IoError("cannot write '" + path_.string() + "' (disk full?)");
  }
  void close() {
    f_.close();
    if (!f_) throw IoError("cannot finish writing '" + path_.string() + "'");
  }

 private:
  fs::path path_;
  std::ofstream f_;
};
}  // namespace

DataSummary write_dataset(const RunConfig& cfg, const std::string& dir,
                          const std::function<void(int64_t, int64_t)>& progress) {
  const CurriculumConfig& c = cfg.curriculum;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create '" + dir + "': " + ec.message());
  Curriculum cur(c);
  DataSummary s;
  const int64_t total = c.pretrain_problems + c.sft_problems + c.rl_problems + 3LL * c.eval_problems;
  int64_t done = 0;
  auto tick = [&] {
    if (progress && (++done % 1000 == 0 || done == total)) progress(done, total);
  };
  {
    Out o(fs::path(dir) / "pretrain.txt");
    for (int64_t i = 0; i < c.pretrain_problems; i++) {
      const std::string doc = Curriculum::document(cur.pretrain(i));
      o.raw(doc);
      s.pretrain_docs++;
      s.pretrain_bytes += (int64_t)doc.size();
      tick();
    }
    o.close();
  }
  {
    Out o(fs::path(dir) / "sft.jsonl");
    for (int64_t i = 0; i < c.sft_problems; i++, s.sft++) { o.line(example_json(cur.sft(i)).dump()); tick(); }
    o.close();
  }
  {
    Out o(fs::path(dir) / "rl.jsonl");
    for (int64_t i = 0; i < c.rl_problems; i++, s.rl++) { o.line(example_json(cur.rl(i)).dump()); tick(); }
    o.close();
  }
  for (const std::string& task : task_names()) {
    Out o(fs::path(dir) / ("eval_" + task + ".jsonl"));
    for (const Example& e : cur.eval(task)) { o.line(example_json(e).dump()); s.eval++; tick(); }
    o.close();
  }
  nlohmann::json m;
  m["format"] = "aha-curriculum-1";
  m["pretrain_documents"] = s.pretrain_docs;
  m["pretrain_bytes"] = s.pretrain_bytes;
  m["sft_examples"] = s.sft;
  m["rl_prompts"] = s.rl;
  m["eval_problems"] = s.eval;
  m["config"] = to_toml(cfg);
  Out o(fs::path(dir) / "manifest.json");
  o.raw(m.dump(2) + "\n");
  o.close();
  return s;
}

std::vector<Example> read_examples(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "'");
  std::vector<Example> out;
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(where + ": not valid JSON: " + e.what());
    }
    Example e;
    e.problem = Problem::from_json(j, where);
    if (!j.contains("prompt") || !j["prompt"].is_string()) throw FormatError(where + ": missing string field 'prompt'");
    e.prompt = j["prompt"].get<std::string>();
    if (j.contains("completion")) {
      if (!j["completion"].is_string()) throw FormatError(where + ": field 'completion' must be a string");
      e.completion = j["completion"].get<std::string>();
    }
    if (j.contains("language") && j["language"].is_string()) e.language = j["language"].get<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace aha
