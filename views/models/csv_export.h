// Tables to CSV (RFC 4180): header, then one record per row in the model's (view's) order,
// so an export matches the screen. A model may offer a fuller value for the file than for
// the screen (a whole completion instead of its preview) under kExportRole.
#pragma once
#include <QAbstractItemModel>
#include <QString>

namespace aha::studio {

inline constexpr int kExportRole = Qt::UserRole + 100;  // above every model's own roles

QString csv_field(QString text);
// Writes `model` to `path` through QSaveFile (all or nothing); "" or the error message.
QString export_csv(const QAbstractItemModel& model, const QString& path);

}  // namespace aha::studio
