#include "engine/evaluate.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/rewards.h"
#include "engine/tokenizer.h"

namespace aha {

std::map<std::string, double> EvalResult::metrics() const {
  const std::string k = "eval/" + task + "/";
  return {{k + "pass@1", pass1}, {k + "pass@" + std::to_string(samples), passk}, {k + "maj@" + std::to_string(samples), majk},
          {k + "format_rate", format_rate}, {k + "mean_length", mean_length}, {k + "language_mix_rate", language_mix_rate}, {k + "code_switch_rate", code_switch_rate},
          {k + "aha_rate", aha_rate}, {k + "truncated_rate", truncated_rate}};
}

std::string EvalResult::to_json() const {
  nlohmann::json j;
  j["task"] = task;
  j["problems"] = problems;
  j["samples"] = samples;
  j["pass@1"] = pass1;
  j["pass@" + std::to_string(samples)] = passk;
  j["maj@" + std::to_string(samples)] = majk;
  j["format_rate"] = format_rate;
  j["mean_length"] = mean_length;
  j["language_mix_rate"] = language_mix_rate;
  j["code_switch_rate"] = code_switch_rate;
  j["aha_rate"] = aha_rate;
  j["truncated_rate"] = truncated_rate;
  j["seconds"] = seconds;
  return j.dump();
}

std::string aha_spans_json(const std::vector<AhaSpan>& spans) {
  nlohmann::json sp = nlohmann::json::array();
  for (const auto& a : spans) sp.push_back({a.begin, a.end, a.kind});
  return sp.dump();
}

TraceRecord eval_trace(const Example& ex, const Completion& c, int64_t group) {
  const ParsedCompletion pc = parse_completion(c.text);
  const LanguageMix mix = language_mix(pc.think.empty() ? c.text : pc.think);
  TraceRecord t;
  t.step = 0;
  t.stage = "eval";
  t.split = "eval";
  t.prompt = ex.prompt;
  t.completion = c.text;
  t.group_id = group;
  t.rewards = {{"accuracy", accuracy_reward(ex.problem, c.text).value}, {"format", format_reward(c.text).value}};
  t.aha_spans_json = aha_spans_json(aha_spans(c.text));
  t.language_share = ex.language == "zh" ? mix.cjk_share : mix.latin_share;
  t.truncated = c.truncated;
  return t;
}

std::vector<TraceRecord> showcase_traces(Model& m, const std::vector<Example>& problems, int max_new_tokens,
                                         const std::function<void(int, const std::string&)>& on_token) {
  std::vector<std::string> prompts;
  std::vector<const Example*> kept;
  int budget = max_new_tokens;
  for (const Example& ex : problems) {
    const std::string p = "<bos>" + ex.prompt + " ";
    const int room = m.cfg.max_position_embeddings - (int)Tokenizer().encode(p).size();
    if (room < 16) continue;
    budget = std::min(budget, room);
    prompts.push_back(p);
    kept.push_back(&ex);
  }
  std::vector<TraceRecord> out;
  if (prompts.empty()) return out;
  SamplingConfig greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = budget;
  const std::vector<Completion> cs = sample_batch(m, prompts, 1, greedy, on_token);
  for (size_t i = 0; i < cs.size(); i++) out.push_back(eval_trace(*kept[i], cs[i], (int64_t)i));
  return out;
}

EvalResult evaluate_task(Model& m, const std::vector<Example>& problems, const std::string& task, int samples,
                         const SamplingConfig& s, const std::function<void(int, int)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  r.task = task;
  r.samples = samples;
  double total = 0;
  for (size_t i = 0; i < problems.size(); i++) {
    const Example& ex = problems[i];
    SamplingConfig si = s;
    si.seed = s.seed + i * kPromptSeedStride;  // each problem its own stream, independent of the others
    // exactly the context training saw before a completion: "<bos>" prompt " "
    std::vector<Completion> cs = sample(m, "<bos>" + ex.prompt + " ", samples, si);
    int correct = 0;
    std::map<std::string, int> votes;
    for (int k = 0; k < samples; k++) {
      const Completion& c = cs[k];
      const ParsedCompletion pc = parse_completion(c.text);
      const RewardResult acc = accuracy_reward(ex.problem, c.text);
      const RewardResult fmt = format_reward(c.text);
      correct += acc.value > 0.5;
      if (pc.has_answer && !pc.answer.empty()) votes[pc.answer]++;
      r.format_rate += fmt.value;
      r.mean_length += (double)c.tokens.size();
      const LanguageMix mix = language_mix(pc.think.empty() ? c.text : pc.think);
      r.language_mix_rate += mix.off_target("en");  // every prompt is in English
      r.code_switch_rate += mix.mixed;
      const auto spans = aha_spans(c.text);
      r.aha_rate += !spans.empty();
      r.truncated_rate += c.truncated;
      TraceRecord t = eval_trace(ex, c, (int64_t)i);
      r.traces.push_back(std::move(t));
      total++;
    }
    r.pass1 += (double)correct / samples;
    r.passk += correct > 0;
    if (!votes.empty()) {  // the most common answer (ties: the smallest string)
      auto best = votes.begin();
      for (auto it = votes.begin(); it != votes.end(); ++it)
        if (it->second > best->second) best = it;
      r.majk += task_by_name(ex.problem.task).check_answer(ex.problem, best->first).value > 0.5;
    }
    r.problems++;
    if (progress) progress((int)i + 1, (int)problems.size());
  }
  if (r.problems > 0) {
    r.pass1 /= r.problems;
    r.passk /= r.problems;
    r.majk /= r.problems;
  }
  if (total > 0) {
    r.format_rate /= total;
    r.mean_length /= total;
    r.language_mix_rate /= total;
    r.code_switch_rate /= total;
    r.aha_rate /= total;
    r.truncated_rate /= total;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace aha
