#include "engine/run.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "kernels/cpu/cpu_features.h"

namespace aha {
namespace fs = std::filesystem;

const char* run_status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Created: return "created";
    case RunStatus::Running: return "running";
    case RunStatus::Paused: return "paused";
    case RunStatus::Finished: return "finished";
    case RunStatus::Stopped: return "stopped";
    case RunStatus::Failed: return "failed";
  }
  return "?";
}

const char* event_kind_name(Event::Kind k) {
  switch (k) {
    case Event::Kind::Started: return "started";
    case Event::Kind::Step: return "step";
    case Event::Kind::Eval: return "eval";
    case Event::Kind::Checkpoint: return "checkpoint";
    case Event::Kind::Paused: return "paused";
    case Event::Kind::Resumed: return "resumed";
    case Event::Kind::Stopped: return "stopped";
    case Event::Kind::Finished: return "finished";
    case Event::Kind::Error: return "error";
    case Event::Kind::Log: return "log";
    case Event::Kind::Token: return "token";
  }
  return "?";
}

bool checkpoint_stage_step(const std::string& checkpoint_dir, std::string& stage, int64_t& step) {
  const fs::path p = fs::path(checkpoint_dir).lexically_normal();
  const std::string name = (p.filename().empty() ? p.parent_path() : p).filename().string();
  const auto at = name.rfind("_step");
  if (at == std::string::npos || at == 0) return false;
  try {
    size_t used = 0;
    step = std::stoll(name.substr(at + 5), &used);
    if (used != name.size() - at - 5) return false;
  } catch (const std::exception&) {
    return false;
  }
  stage = name.substr(0, at);
  return true;
}

std::string latest_checkpoint(const std::string& run_dir) {
  // Stages restart their step count, so "newest" is by the time it was written: a
  // checkpoint is complete once optimizer.safetensors exists (it is written last, then
  // the directory is renamed into place).
  std::string best;
  fs::file_time_type best_time{};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "checkpoints", ec)) {
    const fs::path opt = e.path() / "optimizer.safetensors";
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.find("_step") == std::string::npos || n.find('.') != std::string::npos || !fs::exists(opt))
      continue;  // "x.partial" and "x.old" are not checkpoints
    const auto t = fs::last_write_time(opt, ec);
    if (!ec && (best.empty() || t > best_time)) { best_time = t; best = e.path().string(); }
  }
  return best;
}

// ---- Run --------------------------------------------------------------------------

Run::Run(RunConfig cfg, std::string run_dir, std::string resume_from, bool continue_store)
    : cfg_(std::move(cfg)), run_dir_(std::move(run_dir)) {
  model_ = std::make_unique<Model>(cfg_.model, kernels::cpu_ops());
  model_->init_weights(cfg_.train.seed);
  model_->set_precision(cfg_.train.precision, cfg_.train.fp8_pow2_scales);
  const double peak = kernels::measure_peak_gflops(kernels::default_peak_cache());  // for "mfu"
  stages_.push_back(std::make_unique<PretrainStage>(cfg_, *model_, kernels::cpu_ops(), peak));
  if (cfg_.sft.steps > 0) stages_.push_back(std::make_unique<SftStage>(cfg_, *model_, kernels::cpu_ops(), peak));
  if (cfg_.grpo.steps > 0) stages_.push_back(std::make_unique<GrpoStage>(cfg_, *model_, kernels::cpu_ops()));
  for (auto& st : stages_) {
    Stage* sp = st.get();
    // the live chain of thought: one Token event per generated piece (sample index in "sample")
    sp->on_token = [this, sp](int sample, const std::string& piece) {
      Event e;
      e.kind = Event::Kind::Token;
      e.stage = sp->name();
      e.step = sp->generating_step();
      e.total_steps = sp->total_steps();
      e.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
      e.metrics = {{"sample", (double)sample}};
      e.message = piece;
      events_.push(std::move(e));
    };
  }
  if (!resume_from.empty()) {
    // The checkpoint's directory name says its stage ("sft_step000040"): the stages before
    // it are complete, and that stage continues from the checkpoint.
    const std::string name = fs::path(resume_from).lexically_normal().filename().string().empty()
                                 ? fs::path(resume_from).lexically_normal().parent_path().filename().string()
                                 : fs::path(resume_from).lexically_normal().filename().string();
    size_t k = 0;
    for (; k < stages_.size(); k++)
      if (name.rfind(stages_[k]->name() + "_step", 0) == 0) break;
    if (k == stages_.size()) {
      if (name.rfind("sft_step", 0) == 0)
        throw ConfigError("resume: '" + resume_from + "' is an SFT checkpoint but this configuration has no SFT stage (sft.steps = 0)");
      if (name.rfind("grpo_step", 0) == 0)
        throw ConfigError("resume: '" + resume_from + "' is a GRPO checkpoint but this configuration has no GRPO stage (grpo.steps = 0)");
      k = 0;  // a checkpoint from elsewhere: continue pretraining from it
    }
    for (size_t j = 0; j < k; j++) stages_[j]->skip();
    if (auto* p = dynamic_cast<PretrainStage*>(stages_[k].get())) p->restore(resume_from);
    if (auto* s = dynamic_cast<SftStage*>(stages_[k].get())) s->restore(resume_from);
    if (auto* g = dynamic_cast<GrpoStage*>(stages_[k].get())) g->restore(resume_from);
  }
  if (!run_dir_.empty()) {
    if (continue_store) {
      store_ = RunStoreWriter::reopen(run_dir_);
      wall_offset_ = store_->last_wall();  // the time axis continues where the run stopped
      for (const auto& st : stages_)
        if (!st->skipped()) store_->rewind(st->name(), st->steps_done());  // finished stages keep their rows
    } else {
      RunInfo info;
      info.name = cfg_.name;
      info.config_toml = to_toml(cfg_);
      info.version = "aha 0.1.0";
      info.tags = cfg_.tags;
      info.notes = cfg_.notes;
      store_ = RunStoreWriter::create(run_dir_, info);
    }
  }
}

Run::~Run() {
  stop();
  wait();
  if (store_) store_->finish(status_ == RunStatus::Created ? "stopped" : run_status_name(status_.load()));
}

void Run::publish(Event::Kind k, const Stage* s, std::map<std::string, double> m, std::string msg) {
  Event e;
  e.kind = k;
  if (s) { e.stage = s->name(); e.step = s->steps_done(); e.total_steps = s->total_steps(); }
  e.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  e.metrics = std::move(m);
  e.message = std::move(msg);
  if (store_) {
    if (k == Event::Kind::Step || k == Event::Kind::Eval) {
      for (const auto& [name, v] : e.metrics) last_metrics_[name] = v;
    } else {
      store_->event(event_kind_name(k), e.stage, e.step, e.message);
    }
  }
  events_.push(std::move(e));
}

std::string Run::last_checkpoint() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_ckpt_;
}

void Run::start() {
  claim_start();
  worker_ = std::thread([this] { body(); });
}

void Run::run_blocking() {
  claim_start();
  body();
}

void Run::claim_start() {
  RunStatus expected = RunStatus::Created;
  if (!status_.compare_exchange_strong(expected, RunStatus::Running))
    throw InvalidArgument(std::string("a run starts once; this one is ") + run_status_name(expected));
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;  // a stop() before the start does not cancel the run
}

void Run::pause() { pause_ = true; }
void Run::resume() {
  { std::lock_guard<std::mutex> lock(mu_); pause_ = false; }
  cv_.notify_all();
}
void Run::stop() {
  { std::lock_guard<std::mutex> lock(mu_); stop_ = true; }
  cv_.notify_all();
}
void Run::wait() {
  if (worker_.joinable()) worker_.join();
}

void Run::body() {
  // OpenMP's thread count is per calling thread: set it here, on the thread that trains.
  if (cfg_.train.threads > 0) omp_set_num_threads(cfg_.train.threads);
  t0_ = std::chrono::steady_clock::now();
  Stage* cur = nullptr;
  auto checkpoint = [&](Stage* s) {
    if (run_dir_.empty()) return;
    char name[64];
    std::snprintf(name, sizeof name, "%s_step%06lld", s->name().c_str(), (long long)s->steps_done());
    const std::string dir = (fs::path(run_dir_) / "checkpoints" / name).string();
    fs::create_directories(fs::path(run_dir_) / "checkpoints");
    // Commit the metrics up to this step first: a checkpoint on disk then always has its
    // history in the database, and a resume from it leaves no gap.
    if (store_) store_->flush();
    s->save(dir);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ckpt_ = dir;
    }
    if (store_) store_->checkpoint(s->name(), s->steps_done(), dir, last_metrics_);
    publish(Event::Kind::Checkpoint, s, {}, dir);
  };
  try {
    publish(Event::Kind::Started, nullptr, {{"params_total", (double)model_->params_total()},
                                         {"params_active", (double)model_->params_active()}});
    for (auto& st : stages_) {
      if (st->skipped()) continue;
      cur = st.get();
      if (store_ && cur->steps_done() == 0) {
        store_->stage_started(cur->name());
        // what the model is, recorded at the stage's step 0 (BF16 cache bytes, as served)
        store_->metrics(cur->name(), 0, 0.0, 0,
                        {{"params_total", (double)model_->params_total()},
                         {"params_active", (double)model_->params_active()},
                         {"flops_per_token", model_->flops_per_token(cfg_.train.seq_len)},
                         {"kv_bytes_per_token_mla", model_->kv_bytes_per_token(true)},
                         {"kv_bytes_per_token_mha", model_->kv_bytes_per_token(false)}});
      }
      const int log_every = cfg_.train.log_every;
      while (cur->steps_done() < cur->total_steps()) {
        if (pause_) {
          status_ = RunStatus::Paused;
          publish(Event::Kind::Paused, cur);
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return !pause_ || stop_; });
          status_ = RunStatus::Running;
          if (!stop_) publish(Event::Kind::Resumed, cur);
        }
        if (stop_) {
          checkpoint(cur);
          status_ = RunStatus::Stopped;
          publish(Event::Kind::Stopped, cur);
          if (store_) {
            store_->stage_ended(cur->name(), "stopped");
            store_->finish("stopped");
          }
          return;
        }
        StepReport rep = cur->step();
        const int64_t s = cur->steps_done();
        const double wall = wall_offset_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        if (store_) {
          store_->metrics(cur->name(), s, wall, rep.tokens, rep.metrics);
          if (!rep.moe.empty()) store_->moe(cur->name(), s, rep.moe);
          if (!rep.fp8.empty()) store_->fp8(cur->name(), s, rep.fp8);
          for (const TraceRecord& t : rep.traces) store_->trace(t);
          // a store that cannot write (disk full, read-only) stops training cleanly:
          // what was committed stays, the error is reported on the run
          if (std::string err = store_->error(); !err.empty()) throw IoError("run store: " + err);
        }
        publish(Event::Kind::Step, cur, std::move(rep.metrics));
        if (s % log_every == 0 || s == cur->total_steps()) {
          auto ev = cur->evaluate();
          if (store_) {
            store_->metrics(cur->name(), s, wall, rep.tokens, ev);
            for (TraceRecord t : cur->take_eval_traces()) {
              t.stage = cur->name();
              t.step = s;
              store_->trace(t);
            }
          }
          publish(Event::Kind::Eval, cur, std::move(ev));
        }
        if (cfg_.train.checkpoint_every > 0 && s % cfg_.train.checkpoint_every == 0 && s < cur->total_steps())
          checkpoint(cur);
      }
      checkpoint(cur);
      if (store_) store_->stage_ended(cur->name(), "finished");
    }
    status_ = RunStatus::Finished;
    publish(Event::Kind::Finished, cur);
    if (store_) store_->finish("finished");
  } catch (const std::exception& e) {
    status_ = RunStatus::Failed;
    spdlog::error("run failed: {}", e.what());
    publish(Event::Kind::Error, cur, {}, e.what());
    if (store_) {
      if (cur) store_->stage_ended(cur->name(), "failed");
      store_->finish("failed");
    }
  }
}

}  // namespace aha
