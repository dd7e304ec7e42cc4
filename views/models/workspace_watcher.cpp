#include "views/models/workspace_watcher.h"

#include <QMetaObject>

namespace aha::studio {

WorkspaceWatcher::WorkspaceWatcher(QObject* parent) : QObject(parent) {
  qRegisterMetaType<RunRows>("aha::studio::RunRows");
  worker_ = new QObject;  // a context object on the scan thread
  timer_ = new QTimer(worker_);
  timer_->setInterval(1000);
  worker_->moveToThread(&thread_);
  QObject::connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  QObject::connect(timer_, &QTimer::timeout, worker_, [this] { rescan(); });
  thread_.setObjectName("workspace-scan");
  thread_.start(QThread::LowPriority);
}

WorkspaceWatcher::~WorkspaceWatcher() {
  QMetaObject::invokeMethod(worker_, [t = timer_] { t->stop(); }, Qt::BlockingQueuedConnection);
  thread_.quit();
  thread_.wait();
}

void WorkspaceWatcher::setWorkspace(const QString& dir) {
  workspace_ = dir;
  QMetaObject::invokeMethod(worker_, [this, dir] {
    scan_dir_ = dir;
    const RunRows rows = scan_workspace(dir);
    emit scanned(dir, rows);  // queued to the receivers' threads
    timer_->start();
  });
}

void WorkspaceWatcher::setInterval(int ms) {
  QMetaObject::invokeMethod(worker_, [t = timer_, ms] { t->setInterval(ms); });
}

void WorkspaceWatcher::rescan() {
  QMetaObject::invokeMethod(worker_, [this] {
    const QString dir = scan_dir_;
    if (dir.isEmpty()) return;
    emit scanned(dir, scan_workspace(dir));
  });
}

}  // namespace aha::studio
