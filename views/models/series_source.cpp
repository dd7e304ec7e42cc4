#include "views/models/series_source.h"

#include <QMetaObject>
#include <map>

#include "engine/error.h"

namespace aha::studio {

SeriesData load_series(const SeriesRequest& r, quint64 id) {
  SeriesData d;
  d.id = id;
  d.request = r;
  try {
    const RunStoreReader reader = RunStoreReader::open_checked(r.run_dir.toStdString(), false, false);
    const std::string name = r.series.toStdString(), x = store_axis_name(r.axis);
    // One bucket over everything: its x_min and x_max are the series' extent.
    const auto all = reader.decimate(name, x, -1e300, 1e300, 1);
    if (all.empty()) return d;  // no such series, or no points yet
    d.extent0 = all[0].x_min;
    d.extent1 = all[0].x_max;
    const double x0 = r.whole_run ? d.extent0 : r.x0, x1 = r.whole_run ? d.extent1 : r.x1;
    if (x1 >= x0) d.buckets = reader.decimate(name, x, x0, x1, std::max(1, r.buckets));
  } catch (const std::exception& e) {
    d.error = QString::fromStdString(e.what());
  }
  return d;
}

SeriesSource::SeriesSource(QObject* parent) : QObject(parent) {
  qRegisterMetaType<SeriesData>("aha::studio::SeriesData");
  qRegisterMetaType<LivePoints>("aha::studio::LivePoints");
  worker_ = new QObject;
  timer_ = new QTimer(worker_);
  timer_->setInterval(250);
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(timer_, &QTimer::timeout, worker_, [this] { pollAll(); });
  thread_.setObjectName("series-source");
  thread_.start();
}

SeriesSource::~SeriesSource() {
  QMetaObject::invokeMethod(worker_, [this] {
    timer_->stop();
    followed_.clear();
  }, Qt::BlockingQueuedConnection);
  thread_.quit();
  thread_.wait();
}

quint64 SeriesSource::request(const SeriesRequest& r) {
  const quint64 id = next_id_++;
  QMetaObject::invokeMethod(worker_, [this, r, id] { emit loaded(id, load_series(r, id)); });
  return id;
}

void SeriesSource::follow(const QString& run_dir) {
  if (following_.contains(run_dir)) return;
  following_.insert(run_dir);
  QMetaObject::invokeMethod(worker_, [this, run_dir] {
    Followed f;
    try {
      f.follower = std::make_unique<RunFollower>(run_dir.toStdString());
      // The baseline: what is there now is the charts' request()s to read.
      const auto u = f.follower->poll();
      f.status = QString::fromStdString(u.status);
      f.axis = RunAxis(RunStoreReader::open_checked(run_dir.toStdString(), false, false).stage_steps());
    } catch (const std::exception& e) {
      emit failed(run_dir, QString::fromStdString(e.what()));
      return;
    }
    followed_[run_dir] = std::move(f);
    emit statusChanged(run_dir, followed_[run_dir].status);
    if (!timer_->isActive()) timer_->start();
  });
}

void SeriesSource::unfollow(const QString& run_dir) {
  following_.remove(run_dir);
  QMetaObject::invokeMethod(worker_, [this, run_dir] {
    followed_.erase(run_dir);
    if (followed_.empty()) timer_->stop();
  });
}

void SeriesSource::unfollowAll() {
  following_.clear();
  QMetaObject::invokeMethod(worker_, [this] {
    followed_.clear();
    timer_->stop();
  });
}

void SeriesSource::setPollInterval(int ms) {
  QMetaObject::invokeMethod(worker_, [t = timer_, ms] { t->setInterval(ms); });
}

void SeriesSource::pollAll() {
  for (auto& [dir, f] : followed_) {
    try {
      const RunFollower::Update u = f.follower->poll();
      const QString status = QString::fromStdString(u.status);
      if (status != f.status) {
        f.status = status;
        emit statusChanged(dir, status);
      }
      if (u.points.empty()) continue;
      // A stage the axis has not seen: its place comes from the store's stage order
      // (points arrive by series, so their order does not tell which stage came first).
      bool reread = false;
      for (const auto& p : u.points) reread = reread || !f.axis.knows(p.stage);
      bool stale = false;
      if (reread) {
        RunAxis fresh(RunStoreReader::open_checked(dir.toStdString(), false, false).stage_steps());
        stale = !fresh.agrees_with(f.axis);
        f.axis = fresh;
      }
      for (const auto& p : u.points) stale = !f.axis.extend(p.stage, p.step, p.tokens) || stale;
      if (stale) {
        emit axisChanged(dir);
        continue;
      }
      LivePoints out;
      out.reserve(static_cast<qsizetype>(u.points.size()));
      for (const auto& p : u.points)
        out.push_back({QString::fromStdString(p.series), static_cast<double>(f.axis.run_step(p.stage, p.step)),
                       static_cast<double>(f.axis.run_tokens(p.stage, p.tokens)), p.wall, p.value});
      emit appended(dir, out);
    } catch (const std::exception& e) {
      emit failed(dir, QString::fromStdString(e.what()));
    }
  }
}

}  // namespace aha::studio
