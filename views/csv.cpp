#include "views/csv.h"

#include <QAbstractItemModel>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTextStream>

namespace aha::studio {

QString csv_field(const QString& text) {
  if (!text.contains(QRegularExpression("[\",\\r\\n]"))) return text;
  QString q = text;
  q.replace("\"", "\"\"");
  return "\"" + q + "\"";
}

QString export_model_csv(const QAbstractItemModel& model, const QString& path) {
  // QSaveFile: the old file stays intact unless the whole new one was written.
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Text)) return QString("%1: %2").arg(path, f.errorString());
  QTextStream out(&f);
  const int cols = model.columnCount();
  for (int c = 0; c < cols; c++) out << (c ? "," : "") << csv_field(model.headerData(c, Qt::Horizontal).toString());
  out << "\n";
  for (int r = 0; r < model.rowCount(); r++) {
    for (int c = 0; c < cols; c++) out << (c ? "," : "") << csv_field(model.index(r, c).data().toString());
    out << "\n";
  }
  out.flush();
  if (!f.commit()) return QString("%1: %2").arg(path, f.errorString());
  return {};
}

}  // namespace aha::studio
