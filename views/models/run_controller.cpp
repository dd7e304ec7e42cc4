#include "views/models/run_controller.h"

#include <QDir>
#include <chrono>
#include <filesystem>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/run.h"

namespace aha::studio {

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
      auto last_flush = std::chrono::steady_clock::now();
      auto flush_tokens = [&] {
        if (!pending.isEmpty()) emit tokensGenerated(pending);
        pending.clear();
        last_flush = std::chrono::steady_clock::now();
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
              pending.push_back({stage, e->step, it == e->metrics.end() ? 0 : int(it->second),
                                 QString::fromStdString(e->message)});
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
