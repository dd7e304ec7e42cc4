// The Reasoning tab on the fixture run: the step slider spans the store's trace steps, a
// selected trace is shown with the think/answer backgrounds where its tags are, token
// pieces cut from real completions rebuild those completions in the live panel, a bad
// search is a visible error, and the CSV export has a header and one record per row.
#include <QCheckBox>
#include <QFrame>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSlider>
#include <QTableView>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextDocument>
#include <QtTest>

#include "engine/store.h"
#include "views/group_view.h"
#include "views/inspector_view.h"
#include "views/live_reasoning_view.h"
#include "views/theme.h"
#include "views/trace_text_view.h"

using namespace aha;
using namespace aha::studio;

namespace {
const QString kRunA = QStringLiteral(AHA_STUDIO_FIXTURE "/run-a");

RunStoreReader reader() { return RunStoreReader::open_checked(kRunA.toStdString(), false, false); }

std::vector<TraceRow> all_traces() {
  std::vector<TraceRow> out;
  for (const auto& [stage, step] : reader().trace_steps())
    for (const TraceRow& r : reader().traces(step, stage)) out.push_back(r);
  return out;
}

// The background of every character of a document (invalid colour: none).
QVector<QColor> backgrounds(const QTextDocument* doc) {
  QVector<QColor> bg(doc->characterCount());
  for (QTextBlock b = doc->begin(); b.isValid(); b = b.next())
    for (auto it = b.begin(); !it.atEnd(); ++it) {
      const QTextFragment f = it.fragment();
      const QBrush brush = f.charFormat().background();
      for (int p = f.position(); p < f.position() + f.length(); p++)
        bg[p] = brush.style() == Qt::NoBrush ? QColor() : brush.color();
    }
  return bg;
}

// What QPlainTextEdit::toPlainText gives back for a text (it turns nbsp into a space).
QString as_shown(QString s) {
  for (QChar& c : s)
    if (c == QChar::Nbsp || c == '\r' || c == QChar::LineSeparator || c == QChar::ParagraphSeparator) c = ' ';
  return s;
}

// A minimal RFC 4180 reader: quoted fields may hold commas, quotes and line breaks.
QList<QStringList> parse_csv(const QString& text) {
  QList<QStringList> records;
  QStringList rec;
  QString field;
  bool quoted = false;
  for (int i = 0; i < text.size(); i++) {
    const QChar c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') { field += '"'; i++; }
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') quoted = true;
    else if (c == ',') { rec << field; field.clear(); }
    else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rec << field;
      records << rec;
      rec.clear();
      field.clear();
      i++;
    } else field += c;
  }
  if (!field.isEmpty() || !rec.isEmpty()) records << (rec << field);
  return records;
}
}  // namespace

class TestInspector : public QObject {
  Q_OBJECT
 private slots:
  void sliderSpansTheTraceSteps() {
    InspectorView v;
    v.setRun(kRunA);
    const auto steps = reader().trace_steps();
    auto* slider = v.findChild<QSlider*>("stepSlider");
    QVERIFY(slider);
    QCOMPARE(slider->minimum(), 0);
    QCOMPARE(slider->maximum(), int(steps.size()) - 1);
    QCOMPARE(slider->value(), slider->maximum());  // opens on the newest step
    QCOMPARE(v.traceModel()->rowCount(), int(reader().traces(steps.back().second, steps.back().first).size()));
    slider->setValue(0);
    QCOMPARE(v.traceModel()->rowCount(), int(reader().traces(steps[0].second, steps[0].first).size()));
    for (int i = 0; i < v.traceModel()->rowCount(); i++) QCOMPARE(v.traceModel()->entry(i)->row.step, steps[0].second);
    QVERIFY(v.findChild<QLabel*>("stepLabel")->text().contains(QString::number(steps[0].second)));
  }

  void selectedTraceShowsTagsAndBodiesInTheirColours() {
    InspectorView v;
    v.setRun(kRunA);
    auto* text = v.findChild<QPlainTextEdit*>("traceText");
    QVERIFY(text);
    const ThemeColors& colors = theme_colors();
    int checked_think = 0, checked_answer = 0;
    for (const TraceRow& r : all_traces()) {
      const QString full = QString::fromStdString(r.completion);
      const bool has_think = full.contains("<think>");
      const int close = full.lastIndexOf("</answer>");
      const int open = close > 0 ? full.lastIndexOf("<answer>", close - 1) : -1;
      if (!has_think && open < 0) continue;
      v.jumpToTrace(r.id);
      auto* table = v.findChild<QTableView*>("traceTable");
      QCOMPARE(table->currentIndex().data(TraceModel::TraceIdRole).toLongLong(), r.id);
      const QString shown = text->toPlainText();
      QCOMPARE(shown, as_shown(mark_up_trace(r.completion, r.aha_spans_json).text));
      QCOMPARE(r.aha_spans_json, std::string("[]"));  // the micro model says no "wait": no aha paint below
      const QVector<QColor> bg = backgrounds(text->document());
      // an unclosed <answer> before <think> would paint over the reasoning: not this check's case
      const int first_answer = full.indexOf("<answer>");
      if (has_think && (first_answer < 0 || first_answer > full.indexOf("<think>"))) {
        const int t = shown.indexOf("<think>");
        for (int p = t; p < t + 7; p++) QCOMPARE(bg[p], markup_format(SpanKind::ThinkTag).background().color());
        // the body's ASCII (never mixed language) up to the next tag is painted as reasoning
        for (int p = t + 7; p < shown.size() && shown[p] != '<'; p++)
          if (shown[p].unicode() < 0x80 && shown[p] != '\n') {
            QCOMPARE(bg[p], colors.think);
            checked_think++;
          }
        if (t > 0 && shown[t - 1].unicode() < 0x80 && shown[t - 1] != '\n') QVERIFY(!bg[t - 1].isValid() || bg[t - 1] != colors.think);
      }
      if (open >= 0 && open + 8 < close) {
        const int a = shown.lastIndexOf("<answer>", shown.lastIndexOf("</answer>") - 1);
        QCOMPARE(bg[a], markup_format(SpanKind::AnswerTag).background().color());
        for (int p = a + 8; shown[p] != '<'; p++)
          if (shown[p].unicode() < 0x80 && shown[p] != '\n') {
            QCOMPARE(bg[p], colors.answer);
            checked_answer++;
          }
      }
      QVERIFY(v.findChild<QLabel*>("rewardsLabel")->text().contains(QString("#%1").arg(r.id)));
      // its GRPO group side by side: the fixture's 4 completions per prompt, this one framed
      auto* group = v.findChild<GroupView*>("groupView");
      QCOMPARE(group->columnCount(), 4);
      int framed = 0;
      for (int c = 0; c < 4; c++) framed += group->findChild<QFrame*>(QString("groupColumn%1").arg(c))->frameShape() == QFrame::Box;
      QCOMPARE(framed, 1);
    }
    QVERIFY2(checked_think > 0, "the fixture has a completion with <think>");
    QVERIFY2(checked_answer > 0, "the fixture has a completion with an <answer></answer> pair");
  }

  void tokenPiecesRebuildTheCompletionsLive() {
    InspectorView v;
    v.setRun(kRunA);
    const auto steps = reader().trace_steps();
    std::vector<TraceRow> rows;  // the step's GRPO samples (the live stream's rows)
    for (const TraceRow& r : reader().traces(steps.back().second, steps.back().first))
      if (r.split == "train") rows.push_back(r);
    QCOMPARE(int(rows.size()), 8);
    // the batches a generator would send: interleaved samples, 1-3 characters a piece
    std::vector<QString> full;
    for (const TraceRow& r : rows) full.push_back(QString::fromStdString(r.completion));
    TokenPieces batch;
    std::vector<int> pos(full.size(), 0);
    for (bool more = true; more;) {
      more = false;
      for (size_t s = 0; s < full.size(); s++) {
        const int n = 1 + int((pos[s] + s) % 3);
        if (pos[s] >= full[s].size()) continue;
        batch.push_back({"grpo", steps.back().second, int(s), full[s].mid(pos[s], n)});
        pos[s] += n;
        more = true;
      }
      if (batch.size() >= 12 || !more) {
        v.appendTokens(batch);
        batch.clear();
      }
    }
    auto* live = v.findChild<LiveReasoningView*>("liveView");
    QVERIFY(live);
    QCOMPARE(live->sampleCount(), int(full.size()));
    for (size_t s = 0; s < full.size(); s++) {
      QCOMPARE(live->sampleText(int(s)), full[s]);
      auto* box = v.findChild<QPlainTextEdit*>(QString("liveSample%1").arg(s));
      QVERIFY(box);
      QCOMPARE(box->toPlainText(), as_shown(full[s]));
    }
    // the next step starts from empty boxes
    v.appendTokens({{"grpo", steps.back().second + 1, 2, "<think> 3"}});
    QCOMPARE(live->step(), steps.back().second + 1);
    QCOMPARE(live->sampleText(0), QString());
    QCOMPARE(live->sampleText(2), QString("<think> 3"));
    auto* box = v.findChild<QPlainTextEdit*>("liveSample2");
    QVERIFY(box);
    QCOMPARE(box->toPlainText(), QString("<think> 3"));
    QCOMPARE(backgrounds(box->document())[8], theme_colors().think);  // highlighted while it grows
  }

  void badSearchIsAnErrorNotACrash() {
    InspectorView v;
    v.setRun(kRunA);
    const int before = v.traceModel()->rowCount();
    auto* box = v.findChild<QLineEdit*>("searchBox");
    auto* err = v.findChild<QLabel*>("searchError");
    QVERIFY(box && err);
    QVERIFY(err->isHidden());
    box->setText("\"unbalanced");
    QTest::keyClick(box, Qt::Key_Return);
    QVERIFY(!err->isHidden());
    QVERIFY(err->text().contains("unbalanced"));
    QCOMPARE(v.traceModel()->rowCount(), before);
    box->setText("prompt:Compute");  // a good query clears the error and shows its hits
    QTest::keyClick(box, Qt::Key_Return);
    QVERIFY(err->isHidden());
    int with_compute = 0;  // every trace whose prompt has the word (arithmetic prompts)
    for (const TraceRow& r : all_traces()) with_compute += QString::fromStdString(r.prompt).contains("Compute");
    QVERIFY(with_compute > 0);
    QCOMPARE(v.traceModel()->rowCount(), with_compute);
    box->clear();  // back to the step
    QCOMPARE(v.traceModel()->rowCount(), before);
  }

  void exportCsvWritesAHeaderAndOneRecordPerRow() {
    InspectorView v;
    v.setRun(kRunA);
    QTemporaryDir dir;
    const QString path = dir.filePath("traces.csv");
    QCOMPARE(export_csv(*v.filterModel(), path), QString());
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QStringList> recs = parse_csv(QString::fromUtf8(f.readAll()));
    const TraceModel* m = v.traceModel();
    QCOMPARE(recs.size(), m->rowCount() + 1);
    QCOMPARE(recs[0].size(), m->columnCount());
    for (int c = 0; c < m->columnCount(); c++) QCOMPARE(recs[0][c], m->headerData(c, Qt::Horizontal).toString());
    const int completion = m->column(TraceModel::Preview), adv = m->column(TraceModel::Advantage);
    for (int r = 0; r < m->rowCount(); r++) {
      const TraceRow& t = m->entry(v.filterModel()->mapToSource(v.filterModel()->index(r, 0)).row())->row;
      QCOMPARE(recs[r + 1][completion], QString::fromStdString(t.completion));  // the whole text, not the preview
      QCOMPARE(recs[r + 1][adv].toDouble(), t.advantage);
    }
    // filtered: only what the table shows
    v.findChild<QCheckBox*>("filterTruncated")->setChecked(true);
    QCOMPARE(export_csv(*v.filterModel(), path), QString());
    QVERIFY(f.seek(0));
    f.close();
    QVERIFY(f.open(QIODevice::ReadOnly));
    int want = 0;
    for (int i = 0; i < m->rowCount(); i++) want += m->entry(i)->row.truncated;
    QVERIFY(want < m->rowCount());
    QCOMPARE(parse_csv(QString::fromUtf8(f.readAll())).size(), want + 1);
    QVERIFY(!export_csv(*v.filterModel(), "/nonexistent-dir/x.csv").isEmpty());
  }
};

QTEST_MAIN(TestInspector)
#include "test_inspector.moc"
