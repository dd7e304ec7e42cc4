// One look for every QCustomPlot of the studio, in the current theme's colours.
#pragma once
#include <QString>

class QCustomPlot;

namespace aha::studio {

// Background, axes, tick labels and a dotted grid in theme_colors().
void apply_plot_theme(QCustomPlot* p);
// A new plot with a bold title row above its axis rect, themed.
QCustomPlot* make_titled_plot(const QString& title, int min_height = 200);

}  // namespace aha::studio
