// Where the charts get their numbers: decimated buckets of one series of one run over an
// x range (RunStoreReader::decimate, one indexed range scan, so a million-point series
// costs the same as a short one at any zoom), and the points a live run adds (RunFollower).
// Every database read happens on the source's own thread; results come back as queued
// signals, so the UI thread never waits on SQLite while it paints.
#pragma once
#include <QHash>
#include <QMetaType>
#include <QObject>
#include <QSet>
#include <QString>
#include <QThread>
#include <QTimer>
#include <QVector>
#include <map>
#include <memory>
#include <vector>

#include "engine/store.h"
#include "views/models/series_math.h"

namespace aha::studio {

struct SeriesRequest {
  QString run_dir, series;
  XAxis axis = XAxis::Step;
  bool whole_run = true;      // true: the series' whole x extent (x0, x1 ignored)
  double x0 = 0, x1 = 0;
  int buckets = 1000;
};

struct SeriesData {
  quint64 id = 0;  // the request's id (a chart keeps only its latest answer)
  SeriesRequest request;
  std::vector<aha::Bucket> buckets;  // in x order, ≤ request.buckets
  double extent0 = 0, extent1 = 0;   // the series' whole x extent on the axis (0, 0: empty)
  QString error;                     // "" or why nothing could be read
};

// A point a live run added, placed on every x axis (the chart picks its own).
struct LivePoint {
  QString series;
  double step = 0, tokens = 0, wall = 0;  // run-wide step and tokens, wall seconds
  double value = 0;
  double x(XAxis a) const { return a == XAxis::Step ? step : a == XAxis::Tokens ? tokens : wall; }
};
using LivePoints = QVector<LivePoint>;

// The synchronous read behind a request (also for tests and small one-off reads).
SeriesData load_series(const SeriesRequest& r, quint64 id = 0);

class SeriesSource : public QObject {
  Q_OBJECT
 public:
  explicit SeriesSource(QObject* parent = nullptr);
  ~SeriesSource() override;

  // Queues a read; its answer comes as loaded(id, data). Thread-safe to call from the
  // owner's thread only.
  quint64 request(const SeriesRequest& r);
  // Polls the run every interval until unfollow(): new points come as appended().
  // The first poll only takes note of what is already there (a chart loads that with
  // request()); a chart drops appended points at or before its last x.
  void follow(const QString& run_dir);
  void unfollow(const QString& run_dir);
  void unfollowAll();
  void setPollInterval(int ms);  // default 250 ms
  bool isFollowing(const QString& run_dir) const { return following_.contains(run_dir); }

 signals:
  void loaded(quint64 id, const aha::studio::SeriesData& data);
  void appended(const QString& run_dir, const aha::studio::LivePoints& points);
  // The run's stage offsets moved (a resumed earlier stage): every chart of it reloads.
  void axisChanged(const QString& run_dir);
  void statusChanged(const QString& run_dir, const QString& status);
  void failed(const QString& run_dir, const QString& message);

 private:
  struct Followed {
    std::unique_ptr<aha::RunFollower> follower;
    RunAxis axis;
    QString status;
  };
  void pollAll();  // on thread_

  QThread thread_;
  QObject* worker_ = nullptr;  // lives on thread_
  QTimer* timer_ = nullptr;    // lives on thread_
  quint64 next_id_ = 1;        // owner's thread
  QSet<QString> following_;    // owner's thread
  std::map<QString, Followed> followed_;  // thread_ only
};

}  // namespace aha::studio

Q_DECLARE_METATYPE(aha::studio::SeriesData)
Q_DECLARE_METATYPE(aha::studio::LivePoints)
