#include "views/run_browser_view.h"

#include <QComboBox>
#include <QFile>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTextStream>
#include <QVBoxLayout>

#include "views/models/csv_export.h"

namespace aha::studio {

namespace {
// Text filter over every column plus a status filter, both case-insensitive.
class RunFilter : public QSortFilterProxyModel {
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;
  void setStatus(const QString& s) {
    status_ = s;
    invalidateFilter();
  }

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override {
    if (!status_.isEmpty()) {
      const QString st = sourceModel()->index(row, 0, parent).data(RunListModel::StatusRole).toString();
      if (st != status_) return false;
    }
    return QSortFilterProxyModel::filterAcceptsRow(row, parent);
  }

 private:
  QString status_;
};
}  // namespace

RunBrowserView::RunBrowserView(QWidget* parent) : QWidget(parent) {
  model_ = new RunListModel(this);
  auto* proxy = new RunFilter(this);
  proxy_ = proxy;
  proxy_->setSourceModel(model_);
  proxy_->setSortRole(RunListModel::SortRole);
  proxy_->setFilterKeyColumn(-1);
  proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);

  filter_ = new QLineEdit;
  filter_->setPlaceholderText(tr("Filter runs by name, tag, note, stage… (Ctrl+F)"));
  filter_->setClearButtonEnabled(true);
  filter_->setObjectName("runFilter");
  status_ = new QComboBox;
  status_->addItem(tr("All statuses"), QString());
  for (const char* s : {"running", "paused", "finished", "stopped", "failed", "interrupted", "unreadable"})
    status_->addItem(s, QString(s));
  open_ = new QPushButton(tr("Open"));
  compare_ = new QPushButton(tr("Compare"));
  resume_ = new QPushButton(tr("Resume"));
  open_->setToolTip(tr("Show the run in the dashboard, experts, efficiency and reasoning tabs (Enter)"));
  compare_->setToolTip(tr("Compare the selected runs (select two or more)"));
  resume_->setToolTip(tr("Continue an interrupted or stopped run from its last checkpoint"));

  table_ = new QTableView;
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(RunListModel::Created, Qt::DescendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  table_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->horizontalHeader()->setSectionResizeMode(RunListModel::Name, QHeaderView::ResizeToContents);
  summary_ = new QLabel;

  auto* top = new QHBoxLayout;
  top->addWidget(filter_, 1);
  top->addWidget(status_);
  top->addWidget(open_);
  top->addWidget(compare_);
  top->addWidget(resume_);
  auto* lay = new QVBoxLayout(this);
  lay->addLayout(top);
  lay->addWidget(table_, 1);
  lay->addWidget(summary_);

  connect(filter_, &QLineEdit::textChanged, this, &RunBrowserView::setFilterText);
  connect(status_, &QComboBox::currentIndexChanged, this, [this, proxy] {
    proxy->setStatus(status_->currentData().toString());
  });
  connect(table_, &QTableView::activated, this, [this](const QModelIndex& i) {
    // name/status/... columns open the run; tags and notes are edited instead
    if (i.column() != RunListModel::Tags && i.column() != RunListModel::Notes)
      emit runActivated(i.data(RunListModel::RunDirRole).toString());
  });
  connect(open_, &QPushButton::clicked, this, [this] {
    const QStringList s = selectedRuns();
    if (!s.isEmpty()) emit runActivated(s.first());
  });
  connect(compare_, &QPushButton::clicked, this, [this] { emit compareRequested(selectedRuns()); });
  connect(resume_, &QPushButton::clicked, this, [this] {
    const QStringList s = selectedRuns();
    if (!s.isEmpty()) emit resumeRequested(s.first());
  });
  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunBrowserView::updateButtons);
  connect(model_, &QAbstractItemModel::dataChanged, this, &RunBrowserView::updateButtons);
  updateButtons();
}

void RunBrowserView::setRuns(const QString& workspace, const RunRows& rows) {
  model_->setRuns(rows);
  int running = 0;
  for (const RunRow& r : rows) running += r.status == "running";
  summary_->setText(tr("%1 runs in %2 — %3 running").arg(rows.size()).arg(workspace).arg(running));
  updateButtons();
}

void RunBrowserView::setFilterText(const QString& text) {
  if (filter_->text() != text) filter_->setText(text);
  proxy_->setFilterFixedString(text);
}

QStringList RunBrowserView::selectedRuns() const {
  QStringList out;
  for (const QModelIndex& i : table_->selectionModel()->selectedRows())
    out << i.data(RunListModel::RunDirRole).toString();
  return out;
}

void RunBrowserView::updateButtons() {
  const QStringList s = selectedRuns();
  open_->setEnabled(s.size() >= 1);
  compare_->setEnabled(s.size() >= 2);
  bool resumable = false;
  if (s.size() == 1) {
    const RunRow* r = model_->run(model_->rowOf(s.first()));
    resumable = r && (r->status == "interrupted" || r->status == "stopped" || r->status == "failed");
  }
  resume_->setEnabled(resumable);
}

QString RunBrowserView::exportCsv(const QString& path) const { return export_csv(*proxy_, path); }

}  // namespace aha::studio
