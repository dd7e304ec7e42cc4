// A GRPO group side by side: every completion of one prompt at one step, in columns, each
// with its reward and advantage — the comparison GRPO's advantage is computed from.
#pragma once
#include <QWidget>
#include <vector>

#include "engine/store.h"

class QHBoxLayout;
class QLabel;

namespace aha::studio {

class GroupView : public QWidget {
  Q_OBJECT
 public:
  explicit GroupView(QWidget* parent = nullptr);
  // `group` in sample order; the column of `selected_id` is emphasised.
  void showGroup(const std::vector<aha::TraceRow>& group, qint64 selected_id);
  void clear();
  int columnCount() const { return columns_; }

 private:
  QLabel* prompt_;
  QWidget* inner_;
  QHBoxLayout* columns_layout_;
  int columns_ = 0;
};

}  // namespace aha::studio
