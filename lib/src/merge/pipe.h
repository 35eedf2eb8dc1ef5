// Items handed from one thread to another a batch at a time. The batches go
// round: the consuming side gives each back when done, and the items in it
// keep their buffers (strings, vectors) for the next ones assigned over
// them, so a steady stream allocates nothing.
#pragma once

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "ctishare/result.h"

namespace ctishare::merge::detail {

template <typename T>
class BatchPipe {
 public:
  struct Batch {
    std::vector<T> items;
    std::size_t used = 0;
  };

  explicit BatchPipe(std::size_t items_per_batch, std::size_t batches = 8) : size_(items_per_batch) {
    for (std::size_t i = 0; i < batches; ++i) {
      auto batch = std::make_unique<Batch>();
      batch->items.resize(items_per_batch);
      free_.push_back(std::move(batch));
    }
  }

  // The producing side: the item to fill next (as the last one left it),
  // or nullptr once the consuming side has stopped.
  T* slot() {
    if (stopped_.load(std::memory_order_relaxed)) return nullptr;
    if (!filling_) filling_ = take_free();
    return filling_ ? &filling_->items[filling_->used] : nullptr;
  }
  // The producing side: the item from slot() is complete.
  void commit() {
    if (++filling_->used == size_) send(std::move(filling_));
  }
  // The producing side: no more items.
  void close() {
    if (filling_ && filling_->used > 0) send(std::move(filling_));
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

  // The consuming side: the next batch (items [0, used)), nullptr after
  // the last.
  std::unique_ptr<Batch> next() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !full_.empty() || closed_; });
    if (full_.empty()) return nullptr;
    auto batch = std::move(full_.front());
    full_.erase(full_.begin());
    return batch;
  }
  void done(std::unique_ptr<Batch> batch) {
    batch->used = 0;
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(batch));
    cv_.notify_all();
  }
  // The consuming side gives up (an error); the producing side stops.
  void stop() {
    std::lock_guard lock(mutex_);
    stopped_.store(true);
    cv_.notify_all();
  }

 private:
  void send(std::unique_ptr<Batch> batch) {
    std::lock_guard lock(mutex_);
    full_.push_back(std::move(batch));
    cv_.notify_all();
  }
  std::unique_ptr<Batch> take_free() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !free_.empty() || stopped_.load(); });
    if (free_.empty()) return nullptr;
    auto batch = std::move(free_.back());
    free_.pop_back();
    return batch;
  }

  const std::size_t size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Batch>> free_, full_;
  std::unique_ptr<Batch> filling_;
  bool closed_ = false;
  std::atomic<bool> stopped_{false};
};

// The consuming side's loop, for a thread of its own: `take` on every item
// in order until it fails; its error, or an exception as one (`what` says
// what was being done), is the outcome, and stops the producing side.
template <typename T, typename Take>
ctishare::Status drain(BatchPipe<T>& pipe, Take&& take, const char* what) {
  ctishare::Status outcome;
  try {
    while (auto batch = pipe.next()) {
      for (std::size_t i = 0; i < batch->used && outcome; ++i) outcome = take(batch->items[i]);
      pipe.done(std::move(batch));
      if (!outcome) break;
    }
  } catch (const std::bad_alloc&) {
    outcome = ctishare::Error(ctishare::ErrorCategory::io, std::string("out of memory while ") + what);
  } catch (const std::exception& e) {
    outcome = ctishare::Error(ctishare::ErrorCategory::internal, std::string("while ") + what + ": " + e.what());
  }
  if (!outcome) pipe.stop();
  return outcome;
}

// Runs `produce` (which fills `pipe`) on this thread and drain(`take`) on
// a thread named `name`: the consuming side's error if it failed, else the
// producing side's outcome. An exception from `produce` is passed on once
// the other thread has ended; a thread that cannot be started is a
// temp_fail error (try again later).
template <typename T, typename Produce, typename Take>
ctishare::Status run_pipe(BatchPipe<T>& pipe, const char* name, Produce&& produce, Take&& take, const char* what) {
  ctishare::Status taken;
  std::thread consumer;
  try {
    consumer = std::thread([&] {
      pthread_setname_np(pthread_self(), name);  // as top -H and perf show it
      taken = drain(pipe, take, what);
    });
  } catch (const std::system_error& e) {
    return ctishare::Error(ctishare::ErrorCategory::temp_fail, std::string("cannot start a thread: ") + e.what());
  }
  ctishare::Status produced;
  try {
    produced = produce();
  } catch (...) {
    pipe.close();
    consumer.join();
    throw;
  }
  pipe.close();
  consumer.join();
  if (!taken) return taken;
  return produced;
}

}  // namespace ctishare::merge::detail
