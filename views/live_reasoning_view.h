// The chains of thought being generated right now, one box per sample, growing token by
// token with their highlights recomputed as they grow (a closing </think> or a revision
// can change how earlier text is marked). A new (stage, step) starts from empty boxes.
#pragma once
#include <QSet>
#include <QString>
#include <QVector>
#include <QWidget>

#include "views/models/run_controller.h"

class QLabel;
class QVBoxLayout;

namespace aha::studio {

class TraceTextView;

class LiveReasoningView : public QWidget {
  Q_OBJECT
 public:
  // Beyond this many samples the rest are dropped: a batch is displayed, not archived.
  static constexpr int kMaxSamples = 64;

  explicit LiveReasoningView(QWidget* parent = nullptr);
  void appendTokens(const TokenPieces& pieces);
  void clear();
  QString sampleText(int sample) const;  // "" for a sample not seen
  int sampleCount() const { return int(texts_.size()); }
  QString stage() const { return stage_; }
  qint64 step() const { return step_; }

 signals:
  // The generator moved to another (stage, step): the previous step's traces are stored.
  void stepStarted(const QString& stage, qint64 step);

 private:
  TraceTextView* box(int sample);

  QLabel* header_;
  QVBoxLayout* boxes_layout_;
  QVector<QString> texts_;
  QVector<TraceTextView*> boxes_;
  QString stage_;
  qint64 step_ = -1;
};

}  // namespace aha::studio
