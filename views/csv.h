// Tables to CSV (RFC 4180 quoting): what the user sees — the model's DisplayRole text,
// rows in view order — so an export matches the screen.
#pragma once
#include <QString>

class QAbstractItemModel;

namespace aha::studio {

QString csv_field(const QString& text);
// Writes the header and every row of `model`; returns "" or an error message.
QString export_model_csv(const QAbstractItemModel& model, const QString& path);

}  // namespace aha::studio
