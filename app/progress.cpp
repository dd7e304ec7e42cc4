#include "app/progress.h"

#include <cstdio>
#include <string>

namespace aha::cli {

namespace {
std::string duration(double s) {
  char b[32];
  if (s >= 3600) std::snprintf(b, sizeof b, "%dh%02dm", (int)(s / 3600), (int)s % 3600 / 60);
  else std::snprintf(b, sizeof b, "%dm%02ds", (int)(s / 60), (int)s % 60);
  return b;
}
}  // namespace

void ProgressBar::draw(const Event& e) {
  const int width = 30;
  const double frac = e.total_steps > 0 ? (double)e.step / e.total_steps : 0.0;
  const int fill = (int)(frac * width);
  std::string bar(fill, '#');
  bar += std::string(width - fill, '-');
  const double eta = e.step > 0 ? (e.wall_s - stage_start_) / e.step * (e.total_steps - e.step) : 0.0;
  char line[320], what[160];
  if (rl_)  // GRPO: reward and accuracy of the samples, held-out pass@1
    std::snprintf(what, sizeof what, "reward %.3f acc %.3f len %.0f%s", loss_, acc_, len_,
                  eval_ >= 0 ? (" pass@1 " + std::to_string(eval_).substr(0, 5)).c_str() : "");
  else
    std::snprintf(what, sizeof what, "loss %.4f%s", loss_,
                  eval_ >= 0 ? (" eval " + std::to_string(eval_).substr(0, 6)).c_str() : "");
  std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %s | %.0f tok/s | ETA %s", e.stage.c_str(), bar.c_str(),
                (long long)e.step, (long long)e.total_steps, what, tps_, duration(eta).c_str());
  if (tty_) std::fprintf(stderr, "\r%s\033[K", line);
  else if (e.step % 10 == 0 || e.step == e.total_steps) std::fprintf(stderr, "%s\n", line);
}

bool ProgressBar::handle(const Event& e) {
  switch (e.kind) {
    case Event::Kind::Step: {
      if (e.stage != stage_) {  // a new stage: its own ETA, smoothing and line
        if (!stage_.empty() && tty_) std::fprintf(stderr, "\n");
        stage_ = e.stage;
        stage_start_ = e.wall_s - (e.metrics.count("step_ms") ? e.metrics.at("step_ms") / 1e3 : 0.0);
        first_loss_ = true;
        eval_ = -1;
      }
      // smoothed headline values: the first as is, then an exponential average
      const auto smooth = [&](double& into, const char* key) {
        const auto it = e.metrics.find(key);
        if (it == e.metrics.end()) return;
        into = first_loss_ ? it->second : 0.9 * into + 0.1 * it->second;
      };
      rl_ = e.metrics.count("reward") > 0;  // GRPO: reward, accuracy, length
      if (rl_) {
        smooth(acc_, "accuracy");
        smooth(len_, "completions/mean_length");
      }
      smooth(loss_, rl_ ? "reward" : "loss");
      first_loss_ = false;
      if (auto t = e.metrics.find("tokens_per_s"); t != e.metrics.end())
        tps_ = tps_ == 0 ? t->second : 0.8 * tps_ + 0.2 * t->second;
      draw(e);
      return true;
    }
    case Event::Kind::Eval:
      if (auto it = e.metrics.find("eval_loss"); it != e.metrics.end()) eval_ = it->second;
      for (const auto& [k, v] : e.metrics)  // GRPO's held-out eval: "eval/TASK/pass@1"
        if (k.size() > 7 && k.compare(k.size() - 7, 7, "/pass@1") == 0) eval_ = v;
      return true;
    case Event::Kind::Checkpoint:
      std::fprintf(stderr, "%scheckpoint: %s\n", tty_ ? "\n" : "", e.message.c_str());
      return true;
    case Event::Kind::Finished:
      if (rl_)
        std::fprintf(stderr, "%sfinished: %lld steps in %s, reward %.3f%s\n", tty_ ? "\n" : "", (long long)e.step,
                     duration(e.wall_s).c_str(), loss_,
                     eval_ >= 0 ? (", held-out pass@1 " + std::to_string(eval_).substr(0, 5)).c_str() : "");
      else
        std::fprintf(stderr, "finished: %lld steps in %s, final loss %.4f, eval loss %.4f\n",
                     (long long)e.step, duration(e.wall_s).c_str(), loss_, eval_);
      return false;
    case Event::Kind::Stopped:
      std::fprintf(stderr, "\nstopped at step %lld\n", (long long)e.step);
      return false;
    case Event::Kind::Error:
      std::fprintf(stderr, "\nerror: %s\n", e.message.c_str());
      return false;
    default:
      return true;
  }
}

}  // namespace aha::cli
