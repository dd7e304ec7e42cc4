#include "views/plot_style.h"

#include <qcustomplot.h>

#include "views/theme.h"

namespace aha::studio {

void apply_plot_theme(QCustomPlot* p) {
  const ThemeColors& c = theme_colors();
  p->setBackground(c.background);
  for (QCPAxis* a : {p->xAxis, p->yAxis}) {
    a->setBasePen(QPen(c.text));
    a->setTickPen(QPen(c.text));
    a->setSubTickPen(QPen(c.text));
    a->setTickLabelColor(c.text);
    a->setLabelColor(c.text);
    a->grid()->setPen(QPen(c.grid, 0, Qt::DotLine));
  }
}

QCustomPlot* make_titled_plot(const QString& title, int min_height) {
  auto* p = new QCustomPlot;
  p->setMinimumHeight(min_height);
  p->plotLayout()->insertRow(0);
  auto* t = new QCPTextElement(p, title, QFont(p->font().family(), 10, QFont::Bold));
  t->setTextColor(theme_colors().text);
  p->plotLayout()->addElement(0, 0, t);
  apply_plot_theme(p);
  return p;
}

}  // namespace aha::studio
