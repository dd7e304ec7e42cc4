// The engine's outward event stream: thread-safe, bounded, never blocks the producer.
// The training loop pushes; a CLI progress bar or the studio's worker thread pops.
// When the consumer falls behind, the oldest events are dropped and counted.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace aha {

struct Event {
  // Token: a piece of generated text (message) of sample metrics["sample"] of the step
  // being generated (step = steps done in the stage) — the live chain of thought.
  enum class Kind { Started, Step, Eval, Checkpoint, Paused, Resumed, Stopped, Finished, Error, Log, Token };
  Kind kind = Kind::Log;
  std::string stage;                       // "pretrain", later "sft", "grpo"
  int64_t step = 0;                        // optimiser steps done in the stage
  int64_t total_steps = 0;
  double wall_s = 0.0;                     // seconds since the run started
  std::map<std::string, double> metrics;   // name → value (loss, lr, tokens_per_s, ...)
  std::string message;                     // errors, checkpoint paths, logs
};
const char* event_kind_name(Event::Kind k);

class EventStream {
 public:
  explicit EventStream(size_t capacity = 4096) : capacity_(capacity) {}
  void push(Event e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (q_.size() >= capacity_) { q_.pop_front(); dropped_++; }
      q_.push_back(std::move(e));
    }
    cv_.notify_one();
  }
  // Waits up to `timeout` for an event.
  std::optional<Event> pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !q_.empty(); })) return std::nullopt;
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
  }
  uint64_t dropped() const { std::lock_guard<std::mutex> lock(mu_); return dropped_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> q_;
  size_t capacity_;
  uint64_t dropped_ = 0;
};

}  // namespace aha
