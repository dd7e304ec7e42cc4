// Hosts one engine Run in-process for the studio. Everything heavy — building the model
// and the curriculum, training, saving — happens on a worker thread; the UI thread only
// calls the non-blocking controls (pause/resume/stop set flags) and receives queued
// signals. Token pieces of the live chain of thought are batched per ~40 ms so a fast
// generator cannot flood the event loop.
#pragma once
#include <QObject>
#include <QString>
#include <QVariantMap>
#include <QVector>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/config.h"

namespace aha { class Run; }

namespace aha::studio {

struct TokenPiece {
  QString stage;
  qint64 step = 0;   // steps done in the stage when the piece was generated
  int sample = 0;    // which completion of the generation batch
  QString text;
};
using TokenPieces = QVector<TokenPiece>;

// Lowers the calling thread's priority (nice +5). Training, measuring and other engine
// work the studio starts call it first: on a 2-core machine the OpenMP team otherwise
// keeps the UI thread waiting for a time slice. Threads created later inherit it.
void lower_thread_priority();

// Splits off the longest prefix of whole UTF-8 characters (see run_controller.cpp).
std::string take_complete_utf8(std::string& bytes);

class RunController : public QObject {
  Q_OBJECT
 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;  // stops a live run (it saves) and joins its thread

  // Starts a new run in run_dir (created if needed). Returns at once; failures arrive as
  // failed(). InvalidArgument if a run is already active.
  void launch(const aha::RunConfig& cfg, const QString& run_dir);
  // Continues an interrupted run from its last checkpoint (as `aha train --resume`).
  void resumeInterrupted(const QString& run_dir);

  void pause();
  void resume();
  void stop();  // finishes the current step, saves a checkpoint, stops
  bool active() const { return active_.load(); }
  QString runDir() const;

 signals:
  void started(const QString& run_dir);
  void stepReported(const QString& stage, qint64 step, qint64 total_steps, double wall_s, const QVariantMap& metrics);
  void tokensGenerated(const aha::studio::TokenPieces& pieces);
  void statusChanged(const QString& status);  // running | paused | finished | stopped | failed
  void checkpointSaved(const QString& path);
  void logged(const QString& stage, const QString& message);
  void failed(const QString& message);        // an engine error, verbatim
  void finished(const QString& status);       // the worker is done; the controller is free again

 private:
  void begin(const QString& run_dir, std::function<std::unique_ptr<aha::Run>()> make);
  void join();

  std::thread worker_;
  std::atomic<bool> active_{false};
  mutable std::mutex mu_;
  aha::Run* run_ = nullptr;     // valid while the worker owns a Run (guarded by mu_)
  bool want_pause_ = false, want_stop_ = false;  // requests made before the Run existed
  QString run_dir_;
};

}  // namespace aha::studio

Q_DECLARE_METATYPE(aha::studio::TokenPieces)
