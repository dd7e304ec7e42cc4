#include "views/models/run_controller.h"

#include <QDir>
#include <chrono>
#include <filesystem>
#include <map>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/run.h"

namespace aha::studio {

// The engine emits one token per byte: a character outside ASCII arrives in 2-4 pieces.
// Splits `bytes` into the longest prefix of whole UTF-8 sequences (returned) and an
// incomplete tail (left in `bytes`); a tail that can never complete (4 bytes without a
// finished sequence) is released as it is, to be shown as a replacement character.
void lower_thread_priority() {
  // per thread on Linux: setpriority with a thread id
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5);
}

std::string take_complete_utf8(std::string& bytes) {
  size_t i = bytes.size(), back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(bytes[i - 1]) & 0xC0) == 0x80) i--, back++;
  size_t cut = bytes.size();
  if (i > 0) {
    const unsigned char lead = static_cast<unsigned char>(bytes[i - 1]);
    const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > 1 && bytes.size() - (i - 1) < need) cut = i - 1;  // the last sequence is unfinished
  }
  if (bytes.size() - cut >= 4) cut = bytes.size();
  std::string out = bytes.substr(0, cut);
  bytes.erase(0, cut);
  return out;
}

RunController::RunController(QObject* parent) : QObject(parent) {
  qRegisterMetaType<TokenPieces>("aha::studio::TokenPieces");
}

RunController::~RunController() {
  stop();
  join();
}

void RunController::join() {
  if (worker_.joinable()) worker_.join();
}

QString RunController::runDir() const {
  std::lock_guard<std::mutex> lock(mu_);
  return run_dir_;
}

void RunController::launch(const RunConfig& cfg, const QString& run_dir) {
  begin(run_dir, [cfg, dir = run_dir.toStdString()] {
    std::filesystem::create_directories(dir);
    return std::make_unique<Run>(cfg, dir);
  });
}

void RunController::resumeInterrupted(const QString& run_dir) {
  begin(run_dir, [dir = run_dir.toStdString()] {
    const std::string ckpt = latest_checkpoint(dir);
    if (ckpt.empty()) throw IoError(dir + ": the run has no checkpoint to continue from");
    return std::make_unique<Run>(read_checkpoint_config(ckpt), dir, ckpt, /*continue_store=*/true);
  });
}

void RunController::begin(const QString& run_dir, std::function<std::unique_ptr<Run>()> make) {
  if (active_.exchange(true)) throw InvalidArgument("a run is already active in this window; stop it first");
  join();  // the previous worker has finished (active_ was false); reap it
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_dir_ = run_dir;
    want_pause_ = want_stop_ = false;
  }
  worker_ = std::thread([this, run_dir, make = std::move(make)] {
    lower_thread_priority();  // inherited by the Run's thread and its OpenMP team
    QString final_status = "failed";
    try {
      std::unique_ptr<Run> run = make();  // model, data: seconds for big presets, never on the UI thread
      {
        std::lock_guard<std::mutex> lock(mu_);
        run_ = run.get();
        if (want_pause_) run->pause();
        if (want_stop_) run->stop();
      }
      emit started(run_dir);
      emit statusChanged("running");
      run->start();
      TokenPieces pending;
      std::map<int, std::string> tails;  // per sample: bytes of an unfinished UTF-8 character
      qint64 tail_step = -1;
      QString tail_stage;
      auto last_flush = std::chrono::steady_clock::now();
      auto flush_tokens = [&] {
        if (!pending.isEmpty()) emit tokensGenerated(pending);
        pending.clear();
        last_flush = std::chrono::steady_clock::now();
      };
      // bytes still held for a sample when its generation batch ends (a completion that
      // stops inside a UTF-8 sequence): released as they are, so the live text ends
      // exactly as the stored completion does
      auto release_tails = [&] {
        for (auto& [sample, bytes] : tails)
          if (!bytes.empty()) pending.push_back({tail_stage, tail_step, sample, QString::fromStdString(bytes)});
        tails.clear();
      };
      auto terminal = [&] {
        const RunStatus s = run->status();
        return s == RunStatus::Finished || s == RunStatus::Stopped || s == RunStatus::Failed;
      };
      for (;;) {
        auto e = run->events().pop(std::chrono::milliseconds(40));
        if (e) {
          const QString stage = QString::fromStdString(e->stage);
          switch (e->kind) {
            case Event::Kind::Token: {
              const auto it = e->metrics.find("sample");
              const int sample = it == e->metrics.end() ? 0 : int(it->second);
              if (e->step != tail_step || stage != tail_stage) release_tails();  // a new generation batch
              tail_step = e->step;
              tail_stage = stage;
              std::string& tail = tails[sample];
              tail += e->message;
              const std::string whole = take_complete_utf8(tail);
              if (!whole.empty()) pending.push_back({stage, e->step, sample, QString::fromStdString(whole)});
              break;
            }
            case Event::Kind::Step:
            case Event::Kind::Eval: {
              QVariantMap m;
              for (const auto& [k, v] : e->metrics) m.insert(QString::fromStdString(k), v);
              emit stepReported(stage, e->step, e->total_steps, e->wall_s, m);
              break;
            }
            case Event::Kind::Checkpoint: emit checkpointSaved(QString::fromStdString(e->message)); break;
            case Event::Kind::Paused: emit statusChanged("paused"); break;
            case Event::Kind::Resumed: emit statusChanged("running"); break;
            case Event::Kind::Error: emit failed(QString::fromStdString(e->message)); break;
            case Event::Kind::Log:
            case Event::Kind::Started: emit logged(stage, QString::fromStdString(e->message)); break;
            default: break;
          }
        }
        if (std::chrono::steady_clock::now() - last_flush > std::chrono::milliseconds(40)) flush_tokens();
        if (!e && terminal()) break;  // the stream is drained and the run is over
      }
      release_tails();
      flush_tokens();
      run->wait();
      final_status = run_status_name(run->status());
      {
        std::lock_guard<std::mutex> lock(mu_);
        run_ = nullptr;
      }
    } catch (const std::exception& ex) {
      std::lock_guard<std::mutex> lock(mu_);
      run_ = nullptr;
      emit failed(QString::fromUtf8(ex.what()));
    }
    emit statusChanged(final_status);
    active_ = false;
    emit finished(final_status);
  });
}

void RunController::pause() {
  std::lock_guard<std::mutex> lock(mu_);
  if (run_) run_->pause(); else want_pause_ = true;
}
void RunController::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (run_) run_->resume(); else want_pause_ = false;
}
void RunController::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (run_) {
    run_->resume();  // a paused run must wake up to stop
    run_->stop();
  } else {
    want_stop_ = true;
  }
}

}  // namespace aha::studio
