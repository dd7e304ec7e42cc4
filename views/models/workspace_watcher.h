// Scans a workspace on its own thread, once now and then every interval, and reports
// the runs through a queued signal: runs that `aha` processes write appear and update
// live, and the UI thread never touches a database file while it paints.
#pragma once
#include <QObject>
#include <QThread>
#include <QTimer>

#include "views/models/run_row.h"

namespace aha::studio {

class WorkspaceWatcher : public QObject {
  Q_OBJECT
 public:
  explicit WorkspaceWatcher(QObject* parent = nullptr);
  ~WorkspaceWatcher() override;
  QString workspace() const { return workspace_; }

 public slots:
  void setWorkspace(const QString& dir);  // scans at once, then every interval
  void setInterval(int ms);
  void rescan();                          // one scan now (queued to the scan thread)

 signals:
  void scanned(const QString& workspace, const aha::studio::RunRows& rows);

 private:
  QString workspace_;  // read and written on the owner's thread
  QString scan_dir_;   // read and written on thread_ only
  QThread thread_;
  QObject* worker_ = nullptr;  // lives on thread_
  QTimer* timer_ = nullptr;    // lives on thread_
};

}  // namespace aha::studio
