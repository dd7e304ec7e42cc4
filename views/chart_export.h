// Saving a chart as an image or a document, for reports and papers.
#pragma once
#include <QString>

class QCustomPlot;

namespace aha::studio {

// Writes the chart to `path`, the format chosen by its extension (.png, .svg, .pdf).
// Returns "" or a message saying what went wrong. A chart never shown (zero or default
// size) is drawn at 800×500. SVG goes through QSvgGenerator + QCPPainter (toPainter).
QString export_chart(QCustomPlot* plot, const QString& path);

}  // namespace aha::studio
