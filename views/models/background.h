// Runs engine or store work off the UI thread and hands the result back to a receiver on
// its own thread. The work runs at a lowered priority (lower_thread_priority); if the
// receiver is gone by the time the work is done, the result is dropped.
#pragma once
#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <functional>
#include <memory>
#include <thread>

#include "views/models/run_controller.h"

namespace aha::studio {

template <class T>
void run_in_background(QObject* receiver, std::function<T()> work, std::function<void(T)> done) {
  QPointer<QObject> guard(receiver);
  std::thread([guard, work = std::move(work), done = std::move(done)]() mutable {
    lower_thread_priority();
    auto result = std::make_shared<T>(work());
    QObject* r = guard.data();
    if (!r) return;
    QMetaObject::invokeMethod(r, [guard, done = std::move(done), result]() mutable {
      if (guard) done(std::move(*result));
    }, Qt::QueuedConnection);
  }).detach();
}

}  // namespace aha::studio
