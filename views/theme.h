// Light and dark themes: a QPalette for the widgets plus the few colours the charts and
// the reasoning inspector draw with themselves (so highlights stay readable on both).
#pragma once
#include <QColor>
#include <QString>

class QApplication;

namespace aha::studio {

struct ThemeColors {
  QColor background, text, grid, accent;
  QColor think, answer, aha, mixed_language, error;  // inspector highlights (backgrounds)
  QColor diff_added, diff_removed;
};

enum class Theme { Light, Dark };
Theme theme_from_name(const QString& name);  // "dark" → Dark, anything else → Light
QString theme_name(Theme t);
void apply_theme(QApplication& app, Theme t);
Theme current_theme();
const ThemeColors& theme_colors();  // of the theme applied last
// One distinct colour per series index, readable on the current background.
QColor series_color(int i);

}  // namespace aha::studio
