// The run browser's model and the workspace scan, on the fixture workspace written by
// the real engine (make_fixture.sh).
#include <QAbstractItemModelTester>
#include <QDir>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>

#include "engine/store.h"
#include "views/models/run_list_model.h"
#include "views/models/workspace_watcher.h"

using namespace aha::studio;
namespace fs = std::filesystem;

class TestRunListModel : public QObject {
  Q_OBJECT
 private:
  QString fixture = QStringLiteral(AHA_STUDIO_FIXTURE);

 private slots:
  void scanReadsEveryRunAsTheStoreHasIt() {
    const RunRows rows = scan_workspace(fixture);
    QVERIFY(rows.size() >= 2);
    const RunRow& a = rows[0];
    QCOMPARE(QDir(a.dir).dirName(), QString("run-a"));
    const aha::RunSummary s = aha::RunStoreReader::open(a.dir.toStdString(), false).summary();
    QCOMPARE(a.name, QString::fromStdString(s.name));
    QCOMPARE(a.status, QString("finished"));
    QCOMPARE(a.stage, QString("grpo"));
    QCOMPARE(a.tags, (QStringList{"fixture", "micro"}));
    QCOMPARE(a.steps_total, qint64(24 + 3 + 4));  // fixture.toml: pretrain 24, SFT 3, GRPO 4
    QCOMPARE(a.steps_done, a.steps_total);
    QCOMPARE(a.metric("reward"), s.latest.at("reward"));
    QVERIFY(std::isnan(a.metric("no/such/series")));
    QVERIFY(rows[1].tags.contains("seed99"));  // --tag adds to the config's tags
  }

  void anUnreadableRunIsARowWithItsReason() {
    QTemporaryDir ws;
    QDir(ws.path()).mkdir("broken");
    QFile f(ws.path() + "/broken/run.db");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("this is not a database at all, it is plain text padded out to a page ......");
    f.close();
    const RunRows rows = scan_workspace(ws.path());
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows[0].status, QString("unreadable"));
    QVERIFY(!rows[0].error.isEmpty());
    // the browser shows why, beside the status
    RunListModel m;
    m.setRuns(rows);
    const QString shown = m.data(m.index(0, RunListModel::Status)).toString();
    QVERIFY2(shown.startsWith("unreadable: ") && shown.size() > 14, qPrintable(shown));
    QVERIFY(m.data(m.index(0, RunListModel::Status), Qt::ForegroundRole).isValid());
  }

  void modelPassesTheTesterAndMergesScans() {
    RunListModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    RunRows rows = scan_workspace(fixture);
    m.setRuns(rows);
    QCOMPARE(m.rowCount(), rows.size());
    const QModelIndex loss = m.index(0, RunListModel::Loss);
    QCOMPARE(m.data(loss).toString(), QString::number(rows[0].metric("eval_loss"), 'f', 4));
    QCOMPARE(m.data(m.index(0, RunListModel::Name)).toString(), QString("run-a"));
    QCOMPARE(m.data(m.index(0, RunListModel::Progress)).toString(), QString("100%"));
    // a rescan with one run changed and one gone: one dataChanged, one removal
    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
    RunRows next = rows;
    next[0].status = "running";
    next.removeLast();
    m.setRuns(next);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(m.data(m.index(0, RunListModel::Status)).toString(), QString("running"));
    m.setRuns(rows);  // and back
    QCOMPARE(m.rowCount(), rows.size());
    QCOMPARE(m.rowOf(rows.last().dir), rows.size() - 1);
  }

  void sortAndFilterThroughAProxy() {
    RunListModel m;
    m.setRuns(scan_workspace(fixture));
    QSortFilterProxyModel p;
    p.setSourceModel(&m);
    p.setSortRole(RunListModel::SortRole);
    p.setFilterKeyColumn(-1);
    p.setFilterFixedString("seed99");
    QCOMPARE(p.rowCount(), 1);
    p.setFilterFixedString("");
    p.sort(RunListModel::Reward, Qt::DescendingOrder);
    const double r0 = p.data(p.index(0, RunListModel::Reward), RunListModel::SortRole).toDouble();
    const double r1 = p.data(p.index(1, RunListModel::Reward), RunListModel::SortRole).toDouble();
    QVERIFY(r0 >= r1);
  }

  void editingTagsAndNotesWritesTheRunDatabase() {
    QTemporaryDir ws;
    const QString copy = ws.path() + "/run-a";
    fs::copy((fixture + "/run-a").toStdString(), copy.toStdString(), fs::copy_options::recursive);
    RunListModel m;
    m.setRuns(scan_workspace(ws.path()));
    QVERIFY(m.flags(m.index(0, RunListModel::Tags)) & Qt::ItemIsEditable);
    QVERIFY(!(m.flags(m.index(0, RunListModel::Loss)) & Qt::ItemIsEditable));
    QVERIFY(m.setData(m.index(0, RunListModel::Tags), " baseline, ,fp32 ,baseline"));
    QVERIFY(m.setData(m.index(0, RunListModel::Notes), "looks good"));
    const aha::RunSummary s = aha::RunStoreReader::open(copy.toStdString(), false).summary();
    QCOMPARE(s.tags, (std::vector<std::string>{"baseline", "fp32"}));
    QCOMPARE(s.notes, std::string("looks good"));
    // a run deleted behind the model's back: a clear error, the row keeps its values
    fs::remove_all(copy.toStdString());
    QSignalSpy failed(&m, &RunListModel::editFailed);
    QVERIFY(!m.setData(m.index(0, RunListModel::Notes), "lost"));
    QCOMPARE(failed.count(), 1);
    QCOMPARE(m.data(m.index(0, RunListModel::Notes)).toString(), QString("looks good"));
  }

  void watcherReportsNewRunsFromItsOwnThread() {
    QTemporaryDir ws;
    WorkspaceWatcher w;
    w.setInterval(100);
    QSignalSpy spy(&w, &WorkspaceWatcher::scanned);
    w.setWorkspace(ws.path());
    QVERIFY(spy.wait(5000));
    QCOMPARE(spy.last().at(1).value<RunRows>().size(), 0);
    fs::copy((fixture + "/run-b").toStdString(), (ws.path() + "/run-b").toStdString(), fs::copy_options::recursive);
    QTRY_VERIFY_WITH_TIMEOUT(!spy.isEmpty() && spy.last().at(1).value<RunRows>().size() == 1, 5000);
  }
};

QTEST_GUILESS_MAIN(TestRunListModel)
#include "test_run_list_model.moc"
