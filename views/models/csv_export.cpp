#include "views/models/csv_export.h"

#include <QSaveFile>
#include <QStringList>
#include <QTextStream>

namespace aha::studio {

QString csv_field(QString s) {
  if (s.contains(',') || s.contains('"') || s.contains('\n') || s.contains('\r'))
    s = '"' + s.replace('"', QStringLiteral("\"\"")) + '"';
  return s;
}

QString export_csv(const QAbstractItemModel& model, const QString& path) {
  QSaveFile f(path);  // all or nothing: a failed export never leaves half a file
  if (!f.open(QIODevice::WriteOnly)) return QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
  QTextStream out(&f);
  out.setEncoding(QStringConverter::Utf8);
  const int cols = model.columnCount();
  QStringList line;
  for (int c = 0; c < cols; c++) line << csv_field(model.headerData(c, Qt::Horizontal).toString());
  out << line.join(',') << "\r\n";
  for (int r = 0; r < model.rowCount(); r++) {
    line.clear();
    for (int c = 0; c < cols; c++) {
      const QModelIndex i = model.index(r, c);
      const QVariant v = model.data(i, kExportRole);
      line << csv_field((v.isValid() ? v : model.data(i, Qt::DisplayRole)).toString());
    }
    out << line.join(',') << "\r\n";
  }
  out.flush();
  if (!f.commit()) return QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
  return {};
}

}  // namespace aha::studio
