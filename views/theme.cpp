#include "views/theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>

namespace aha::studio {

namespace {
Theme g_theme = Theme::Light;

const ThemeColors kLight{QColor("#ffffff"), QColor("#1f2328"), QColor("#d0d7de"), QColor("#0969da"),
                         QColor("#ddf4ff"), QColor("#dafbe1"), QColor("#fff8c5"), QColor("#ffebe9"),
                         QColor("#cf222e"), QColor("#ccffd8"), QColor("#ffd7d5")};
const ThemeColors kDark{QColor("#0d1117"), QColor("#e6edf3"), QColor("#30363d"), QColor("#58a6ff"),
                        QColor("#0c2d6b"), QColor("#033a16"), QColor("#5a4a00"), QColor("#67060c"),
                        QColor("#ff7b72"), QColor("#044f1e"), QColor("#6e1a1a")};
}  // namespace

Theme theme_from_name(const QString& name) { return name.compare("dark", Qt::CaseInsensitive) == 0 ? Theme::Dark : Theme::Light; }
QString theme_name(Theme t) { return t == Theme::Dark ? "dark" : "light"; }
Theme current_theme() { return g_theme; }
const ThemeColors& theme_colors() { return g_theme == Theme::Dark ? kDark : kLight; }

void apply_theme(QApplication& app, Theme t) {
  g_theme = t;
  app.setStyle(QStyleFactory::create("Fusion"));  // the same look on every platform
  const ThemeColors& c = theme_colors();
  QPalette p;
  if (t == Theme::Dark) {
    p.setColor(QPalette::Window, QColor("#161b22"));
    p.setColor(QPalette::WindowText, c.text);
    p.setColor(QPalette::Base, c.background);
    p.setColor(QPalette::AlternateBase, QColor("#161b22"));
    p.setColor(QPalette::Text, c.text);
    p.setColor(QPalette::Button, QColor("#21262d"));
    p.setColor(QPalette::ButtonText, c.text);
    p.setColor(QPalette::ToolTipBase, QColor("#21262d"));
    p.setColor(QPalette::ToolTipText, c.text);
    p.setColor(QPalette::PlaceholderText, QColor("#7d8590"));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor("#6e7681"));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor("#6e7681"));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor("#6e7681"));
  } else {
    p = app.style()->standardPalette();
    p.setColor(QPalette::Base, c.background);
    p.setColor(QPalette::AlternateBase, QColor("#f6f8fa"));
  }
  p.setColor(QPalette::Highlight, c.accent);
  p.setColor(QPalette::HighlightedText, QColor("#ffffff"));
  p.setColor(QPalette::Link, c.accent);
  app.setPalette(p);
}

QColor series_color(int i) {
  // Tableau-10 (light) and its brighter variant (dark): distinct, colour-blind friendlier.
  static const char* light[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  static const char* dark[] = {"#58a6ff", "#ffa657", "#3fb950", "#ff7b72", "#d2a8ff",
                               "#e3b341", "#f778ba", "#b1bac4", "#a5d6ff", "#56d4dd"};
  const int k = ((i % 10) + 10) % 10;
  return QColor(g_theme == Theme::Dark ? dark[k] : light[k]);
}

}  // namespace aha::studio
