// A one-line terminal progress bar fed by the run's event stream.
#pragma once
#include <string>


#include "engine/events.h"

namespace aha::cli {

class ProgressBar {
 public:
  explicit ProgressBar(bool tty) : tty_(tty) {}
  // Consumes one event; returns false once the run has ended (finished, stopped, error).
  bool handle(const Event& e);

 private:
  void draw(const Event& e);
  bool tty_;
  double loss_ = 0, eval_ = -1, tps_ = 0;  // loss_: the smoothed loss, or reward in RL
  double acc_ = 0, len_ = 0;
  bool rl_ = false;                         // the stage reports rewards (GRPO)
  bool first_loss_ = true;
  std::string stage_;        // the stage being drawn, and when (run wall time) it began,
  double stage_start_ = 0;   // so the ETA of a later stage ignores the earlier ones
};

}  // namespace aha::cli
