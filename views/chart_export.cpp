#include "views/chart_export.h"

#include <QFileInfo>
#include <QSvgGenerator>
#include <qcustomplot.h>

namespace aha::studio {

QString export_chart(QCustomPlot* plot, const QString& path) {
  if (!plot) return QStringLiteral("no chart to export");
  const QString ext = QFileInfo(path).suffix().toLower();
  int w = plot->width(), h = plot->height();
  if (!plot->isVisible() || w < 200 || h < 150) w = 800, h = 500;  // never laid out on screen
  bool ok = false;
  if (ext == "png") {
    ok = plot->savePng(path, w, h);
  } else if (ext == "pdf") {
    ok = plot->savePdf(path, w, h);
  } else if (ext == "svg") {
    QSvgGenerator gen;
    gen.setFileName(path);
    gen.setSize(QSize(w, h));
    gen.setViewBox(QRect(0, 0, w, h));
    gen.setTitle(QFileInfo(path).completeBaseName());
    QCPPainter painter;
    if (painter.begin(&gen)) {
      plot->toPainter(&painter, w, h);
      ok = painter.end();
    }
    ok = ok && QFileInfo(path).size() > 0;
  } else {
    return QStringLiteral("cannot export to '.%1': use .png, .svg or .pdf").arg(ext);
  }
  return ok ? QString() : QStringLiteral("could not write %1").arg(path);
}

}  // namespace aha::studio
