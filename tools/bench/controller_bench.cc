// controller_bench: the controller's three benchmark figures, measured in-process on the
// real libraries (TransferManager, PlanningLoop, Store on RocksDB in a scratch
// directory, RealClock). No gRPC: the figures are the controller's own limits.
//
//   transitions  Durable task transitions per second through the real store. One
//                transfer of --tasks single-file tasks is planned, --workers threads
//                (one registered worker each) lease everything in LeaseTasks calls of
//                --lease_batch, then report every task DONE: the first
//                --unbatched_reports one per ReportTasks call (as copyd reports), the
//                rest in calls of --report_batch. Figures: DONE reports/s batched
//                (target >= 50,000), leases/s, and DONE reports/s one per call. Each
//                call is committed as the controller commits it (durability is its
//                choice, not the benchmark's).
//   plan         PlanningLoop::PlanOnce over a synthetic tree of --files files in --dirs
//                directories, generated page by page (--page_size entries) by a fake
//                SourceLister with a resumable cursor, so no listing is ever held whole.
//                Figures: files/s (target >= 100,000) and peak RSS of the process
//                (max of getrusage ru_maxrss and /proc/self/status VmHWM; target
//                < 500 MB). Tasks batch files as the controller does by default
//                (--max_files_per_task=256).
//   fairness     3 users, A with --fair_ratio times the tasks of B and C. Workers lease
//                and complete one task at a time. A runs alone for --fair_head_start
//                tasks, then B and C arrive; from then until the first user's queue is
//                empty (every user has queued work throughout), completed tasks are
//                counted per user. Once per weight set of --fair_weights. Figures: each
//                user's share (target: its weight's share) and the largest relative
//                deviation |share / expected - 1| (target <= 0.10).
//   all          (default) each of the above in a child process of its own, so each
//                peak RSS is its own.
//
// Output: progress and human tables; then per figure one line on stdout
//   FIGURE name=<name> value=<number> target=<op><number>|none unit=<unit> met=yes|no|n/a
// Nothing here judges a time (the smoke test only checks the lines exist). Timings on
// these VMs swing up to 5x between runs; repeat a run before trusting one number.
// Exit status: 0 when every benchmark ran (whether or not it met its target), 1 on an
// error, 2 for bad flags or arguments, 130 when interrupted (SIGINT/SIGTERM end the run
// at the next page or call and the scratch directory is still removed).
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/planning_loop.h"
#include "controller/source_lister.h"
#include "controller/store.h"
#include "controller/transfer_manager.h"
#include "glog/logging.h"
#include "proto/common.pb.h"
#include "proto/copy_service.pb.h"
#include "proto/data_service.pb.h"
#include "proto/worker_service.pb.h"

extern char** environ;

ABSL_FLAG(bool, quick, false,
          "Small sizes for CI, a few seconds in all: transitions 5000 tasks, plan 20000 "
          "files in 20 directories, fairness 10000/100/100 tasks (overrides the size "
          "flags).");
ABSL_FLAG(std::string, dir, "",
          "Parent of the scratch directory (a fresh controller_bench.XXXXXX inside it, "
          "removed at exit). Default: $TEST_TMPDIR, else $TMPDIR, else /tmp.");
ABSL_FLAG(bool, verbose, false, "Show the controller's INFO logs on stderr.");
ABSL_FLAG(bool, keep_scratch, false,
          "Keep the scratch directory (its RocksDB LOG has flush, compaction and stall "
          "statistics) and print its path.");
// transitions
ABSL_FLAG(int64_t, tasks, 200000, "transitions: single-file tasks planned, leased, done.");
ABSL_FLAG(int32_t, workers, 4, "transitions: worker threads (one registered worker each).");
ABSL_FLAG(int32_t, lease_batch, 1024, "transitions: max_tasks per LeaseTasks (1-1024).");
ABSL_FLAG(int32_t, report_batch, 1024, "transitions: reports per ReportTasks call.");
ABSL_FLAG(int64_t, unbatched_reports, 2000,
          "transitions: of the tasks, these are reported first one per ReportTasks call "
          "(as copyd reports), the rest --report_batch per call.");
// plan
ABSL_FLAG(int64_t, files, 1000000, "plan: regular files in the synthetic tree.");
ABSL_FLAG(int64_t, dirs, 1000, "plan: directories the files are spread over.");
ABSL_FLAG(int32_t, page_size, 1000, "plan: entries per listing page.");
ABSL_FLAG(int32_t, max_files_per_task, 256,
          "plan: files batched per task (the controller's own default and flag).");
// fairness
ABSL_FLAG(int64_t, fair_small_tasks, 1000, "fairness: tasks of users B and C each.");
ABSL_FLAG(int32_t, fair_ratio, 100, "fairness: user A has this many times B's tasks.");
ABSL_FLAG(int32_t, fair_workers, 4, "fairness: worker threads, one task at a time each.");
ABSL_FLAG(int64_t, fair_head_start, -1,
          "fairness: tasks A completes alone before B and C arrive; -1 = as many as B has.");
ABSL_FLAG(std::vector<std::string>, fair_weights, std::vector<std::string>({"1:1:1", "2:1:1"}),
          "fairness: comma-separated weight sets A:B:C, one run each.");

namespace ferry::bench {
namespace {

using controller::ManagerOptions;
using controller::PlanningLoop;
using controller::SourceLister;
using controller::Store;
using controller::TransferManager;
using controller::TransferRecord;
using Steady = std::chrono::steady_clock;

constexpr char kCluster[] = "local";
constexpr double kMiB = 1024.0 * 1024.0;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnSignal(int) { g_interrupted = 1; }

// SIGINT/SIGTERM end the run at the next page or call; the scratch directory is removed.
absl::Status CheckInterrupted() {
  if (g_interrupted) return absl::CancelledError("interrupted");
  return absl::OkStatus();
}

double SecondsSince(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

// ---------------------------------------------------------------- output

struct Figure {
  std::string name;
  double value;
  std::string op;  // ">=", "<", "<=", "~" (near), or "" (no target).
  double target;
  std::string unit;
};

std::string FormatNumber(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrFormat("%.0f", value);
  }
  std::string text = absl::StrFormat("%.4f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

void PrintFigure(const Figure& figure) {
  std::string target = "none";
  std::string met = "n/a";
  if (!figure.op.empty()) {
    target = absl::StrCat(figure.op, FormatNumber(figure.target));
    bool ok = false;
    if (figure.op == ">=") ok = figure.value >= figure.target;
    if (figure.op == "<") ok = figure.value < figure.target;
    if (figure.op == "<=") ok = figure.value <= figure.target;
    if (figure.op != "~") met = ok ? "yes" : "no";
  }
  absl::PrintF("FIGURE name=%s value=%s target=%s unit=%s met=%s\n", figure.name,
               FormatNumber(figure.value), target, figure.unit, met);
  std::fflush(stdout);
}

// Progress on stderr, flushed at once.
template <typename... Args>
void Progress(const absl::FormatSpec<Args...>& format, const Args&... args) {
  absl::FPrintF(stderr, format, args...);
  std::fflush(stderr);
}

// CPU seconds (user + system) of the whole process so far, RocksDB's threads included.
double ProcessCpuSeconds() {
  struct rusage usage = {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const struct timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---------------------------------------------------------------- memory

struct Memory {
  double vm_rss_mb = 0;
  double vm_hwm_mb = 0;
  double ru_maxrss_mb = 0;
};

Memory ReadMemory() {
  Memory memory;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    for (auto [prefix, field] : {std::pair<const char*, double*>("VmRSS:", &memory.vm_rss_mb),
                                 std::pair<const char*, double*>("VmHWM:", &memory.vm_hwm_mb)}) {
      if (line.rfind(prefix, 0) != 0) continue;
      int64_t kib = 0;
      std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) *field = kib / 1024.0;
    }
  }
  struct rusage usage = {};
  if (getrusage(RUSAGE_SELF, &usage) == 0) memory.ru_maxrss_mb = usage.ru_maxrss / 1024.0;
  return memory;
}

// ---------------------------------------------------------------- scratch and setup

std::string ScratchParent() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  for (const char* env : {"TEST_TMPDIR", "TMPDIR"}) {
    if (!dir.empty()) break;
    if (const char* value = std::getenv(env); value != nullptr) dir = value;
  }
  return dir.empty() ? "/tmp" : dir;
}

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

absl::Status RemoveTree(const std::string& root) {
  if (nftw(root.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
    return absl::InternalError(absl::StrCat("remove ", root, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// A Store and a manager on a fresh RocksDB directory, as a controller process holds them.
struct Controller {
  RealClock clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<TransferManager> manager;
};

absl::Status OpenController(const std::string& dir, ManagerOptions options,
                            Controller* controller) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir);
  if (!store.ok()) return store.status();
  controller->store = *std::move(store);
  options.cluster = kCluster;
  // Nothing expires during a run: no housekeeping thread runs, and leases are long.
  options.lease_duration = absl::Hours(10);
  options.worker_timeout = absl::Hours(10);
  controller->manager =
      std::make_unique<TransferManager>(controller->store.get(), &controller->clock, options);
  return controller->manager->Recover();
}

absl::StatusOr<std::string> CreateTransfer(TransferManager* manager, const std::string& user,
                                           const std::string& name) {
  v1::CreateTransferRequest request;
  request.set_request_id(name);
  request.mutable_source()->set_cluster(kCluster);
  request.mutable_source()->set_path(absl::StrCat("/src/", name));
  v1::Location* destination = request.add_destinations();
  destination->set_cluster(kCluster);
  destination->set_path(absl::StrCat("/dst/", name));
  request.set_recursive(true);
  absl::StatusOr<v1::Transfer> transfer = manager->CreateTransfer(user, request);
  if (!transfer.ok()) return transfer.status();
  return transfer->id();
}

// Registers workers bench-0 .. bench-<count - 1>; their ids.
absl::StatusOr<std::vector<std::string>> RegisterWorkers(TransferManager* manager, int count) {
  std::vector<std::string> ids;
  for (int w = 0; w < count; ++w) {
    v1::RegisterWorkerRequest request;
    request.set_worker_name(absl::StrCat("bench-", w));
    request.set_cluster(kCluster);
    request.set_data_address(absl::StrCat("bench-", w, ":7000"));
    request.set_max_concurrent_tasks(1024);
    absl::StatusOr<v1::RegisterWorkerResponse> response = manager->RegisterWorker(request);
    if (!response.ok()) return response.status();
    ids.push_back(response->worker_id());
  }
  return ids;
}

// A regular file entry as DataService.List returns it, with every field filled so the
// planned tasks are as large as real ones.
void FillFile(v1::FileInfo* info, int64_t dir, int64_t file) {
  info->set_path(absl::StrFormat("d%05d/f%07d", dir, file));
  info->set_type(v1::FILE_TYPE_REGULAR);
  info->set_size(1024 + (file * 7919) % 65536);
  info->set_mode(0644);
  info->set_mtime_ns(1'700'000'000'000'000'000 + file * 1000);
  info->set_inode(1000 + file);
  info->set_device(2049);
  info->set_nlink(1);
  info->set_uid(1000);
  info->set_gid(1000);
}

void FillDirectory(v1::FileInfo* info, int64_t dir) {
  info->set_path(absl::StrFormat("d%05d", dir));
  info->set_type(v1::FILE_TYPE_DIRECTORY);
  info->set_mode(0755);
  info->set_mtime_ns(1'700'000'000'000'000'000);
  info->set_inode(10 + dir);
  info->set_device(2049);
  info->set_nlink(2);
  info->set_uid(1000);
  info->set_gid(1000);
}

// Plans `count` file entries into transfer `id` in pages of 1000, as the planning loop
// would (with max_files_per_task = 1, one task per file).
absl::Status PlanFlat(TransferManager* manager, const std::string& id, int64_t count) {
  absl::StatusOr<TransferRecord> record = manager->BeginPlanning(id);
  if (!record.ok()) return record.status();
  constexpr int64_t kPage = 1000;
  std::vector<v1::FileInfo> entries;
  for (int64_t next = 0; next < count || next == 0;) {
    if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
    entries.clear();
    const int64_t end = std::min(count, next + kPage);
    for (int64_t i = next; i < end; ++i) FillFile(&entries.emplace_back(), i / 1000, i);
    const bool complete = end >= count;
    if (absl::Status s = manager->AddPlannedEntries(id, entries, absl::StrCat(end),
                                                    /*root_entry=*/next == 0, complete);
        !s.ok()) {
      return s;
    }
    next = end;
    if (complete) break;
  }
  return absl::OkStatus();
}

v1::ReportTasksRequest DoneReports(const std::string& worker_id, const std::vector<v1::Task>& tasks,
                                   size_t begin, size_t end) {
  v1::ReportTasksRequest request;
  request.set_worker_id(worker_id);
  for (size_t i = begin; i < end; ++i) {
    const v1::Task& task = tasks[i];
    v1::TaskReport* report = request.add_reports();
    report->set_task_id(task.task_id());
    report->set_lease_generation(task.lease_generation());
    for (const v1::FileTask& file : task.files()) {
      v1::FileResult* result = report->add_files();
      result->set_bytes(file.length());
      result->set_crc32c(0x12345678);
    }
  }
  return request;
}

// Collects the first error of several threads.
class FirstError {
 public:
  void Set(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (status_.ok()) status_ = status;
  }
  absl::Status Get() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  bool failed() {
    absl::MutexLock lock(&mu_);
    return !status_.ok();
  }

 private:
  absl::Mutex mu_;
  absl::Status status_;
};

// ---------------------------------------------------------------- transitions

struct TransitionsOptions {
  int64_t tasks;
  int workers;
  int lease_batch;
  int report_batch;
  int64_t unbatched_reports;
};

struct PhaseResult {
  double seconds = 0;
  double cpu = 0;
  int64_t calls = 0;
  int64_t transitions = 0;
  double rate() const { return transitions / seconds; }
};

absl::Status RunTransitions(const std::string& scratch, const TransitionsOptions& o) {
  Progress("transitions: %d single-file tasks, %d workers, lease batch %d, report batch %d\n",
           o.tasks, o.workers, o.lease_batch, o.report_batch);
  ManagerOptions options;
  options.plan_limits.max_files_per_task = 1;
  Controller c;
  if (absl::Status s = OpenController(absl::StrCat(scratch, "/transitions"), options, &c);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> id = CreateTransfer(c.manager.get(), "bench", "transitions");
  if (!id.ok()) return id.status();
  Steady::time_point start = Steady::now();
  if (absl::Status s = PlanFlat(c.manager.get(), *id, o.tasks); !s.ok()) return s;
  const double plan_seconds = SecondsSince(start);
  Progress("  planned %d tasks in %.2f s (%.0f tasks/s)\n", o.tasks, plan_seconds,
           o.tasks / plan_seconds);

  absl::StatusOr<std::vector<std::string>> registered = RegisterWorkers(c.manager.get(), o.workers);
  if (!registered.ok()) return registered.status();
  const std::vector<std::string>& worker_ids = *registered;

  // Phase 1: every worker leases until the queue is empty.
  FirstError error;
  std::vector<std::vector<v1::Task>> leased(o.workers);
  std::vector<int64_t> lease_calls(o.workers, 0);
  double cpu_start = ProcessCpuSeconds();
  start = Steady::now();
  {
    std::vector<std::thread> threads;
    for (int w = 0; w < o.workers; ++w) {
      threads.emplace_back([&, w] {
        v1::LeaseTasksRequest request;
        request.set_worker_id(worker_ids[w]);
        request.set_max_tasks(o.lease_batch);
        while (!error.failed()) {
          if (absl::Status s = CheckInterrupted(); !s.ok()) return error.Set(s);
          absl::StatusOr<v1::LeaseTasksResponse> response = c.manager->LeaseTasks(request);
          ++lease_calls[w];
          if (!response.ok()) return error.Set(response.status());
          if (response->tasks().empty()) return;  // Queue drained.
          for (v1::Task& task : *response->mutable_tasks()) {
            leased[w].push_back(std::move(task));
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  const double lease_seconds = SecondsSince(start);
  const double lease_cpu = ProcessCpuSeconds() - cpu_start;
  if (absl::Status s = error.Get(); !s.ok()) return s;
  int64_t leased_total = 0;
  for (const auto& tasks : leased) leased_total += tasks.size();
  if (leased_total != o.tasks) {
    return absl::InternalError(absl::StrCat("leased ", leased_total, " tasks, planned ", o.tasks));
  }

  // Phase 2: every worker reports its tasks DONE: the first few one per ReportTasks call
  // (as copyd reports today), the rest many per call.
  auto report_phase = [&](std::function<std::pair<size_t, size_t>(int worker)> range,
                          int batch) -> PhaseResult {
    PhaseResult result;
    std::vector<int64_t> calls(o.workers, 0), reports(o.workers, 0);
    const double cpu_start = ProcessCpuSeconds();
    const Steady::time_point start = Steady::now();
    std::vector<std::thread> threads;
    for (int w = 0; w < o.workers; ++w) {
      threads.emplace_back([&, w] {
        const std::vector<v1::Task>& tasks = leased[w];
        const auto [first, last] = range(w);
        for (size_t begin = first; begin < last && !error.failed(); begin += batch) {
          if (absl::Status s = CheckInterrupted(); !s.ok()) return error.Set(s);
          const size_t end = std::min(last, begin + batch);
          v1::ReportTasksRequest request = DoneReports(worker_ids[w], tasks, begin, end);
          absl::StatusOr<v1::ReportTasksResponse> response = c.manager->ReportTasks(request);
          ++calls[w];
          reports[w] += end - begin;
          if (!response.ok()) return error.Set(response.status());
          for (const v1::TaskAck& ack : response->acks()) {
            if (ack.code() != 0) {
              error.Set(absl::InternalError(
                  absl::StrCat("report of ", ack.task_id(), " refused: ", ack.message())));
            }
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    result.seconds = SecondsSince(start);
    result.cpu = ProcessCpuSeconds() - cpu_start;
    for (int w = 0; w < o.workers; ++w) {
      result.calls += calls[w];
      result.transitions += reports[w];
    }
    return result;
  };
  // The unbatched reports, spread over the workers as evenly as their leases allow.
  std::vector<size_t> unbatched(o.workers, 0);
  for (int64_t left = o.unbatched_reports; left > 0;) {
    for (int w = 0; w < o.workers && left > 0; ++w) {
      if (unbatched[w] < leased[w].size()) {
        ++unbatched[w];
        --left;
      }
    }
  }
  const PhaseResult single =
      report_phase([&](int w) { return std::make_pair(size_t{0}, unbatched[w]); }, 1);
  if (absl::Status s = error.Get(); !s.ok()) return s;
  const PhaseResult batched = report_phase(
      [&](int w) { return std::make_pair(unbatched[w], leased[w].size()); }, o.report_batch);
  if (absl::Status s = error.Get(); !s.ok()) return s;

  absl::StatusOr<v1::Transfer> transfer = c.manager->GetTransfer(*id);
  if (!transfer.ok()) return transfer.status();
  if (transfer->state() != v1::TRANSFER_STATE_SUCCEEDED ||
      transfer->progress().files_done() != o.tasks) {
    return absl::InternalError(
        absl::StrCat("transfer ended ", v1::TransferState_Name(transfer->state()), " with ",
                     transfer->progress().files_done(), " of ", o.tasks, " files done"));
  }
  int64_t total_lease_calls = 0;
  for (int w = 0; w < o.workers; ++w) total_lease_calls += lease_calls[w];
  const PhaseResult lease{lease_seconds, lease_cpu, total_lease_calls, o.tasks};
  absl::PrintF("\n== transitions: %d tasks through the real store ==\n", o.tasks);
  absl::PrintF("  %-32s %7s %11s %8s %11s %7s %14s\n", "transition", "calls", "transitions",
               "seconds", "per second", "cpu s", "per cpu-second");
  auto row = [](const std::string& what, const PhaseResult& r) {
    absl::PrintF("  %-32s %7d %11d %8.2f %11.0f %7.2f %14.0f\n", what, r.calls, r.transitions,
                 r.seconds, r.rate(), r.cpu, r.transitions / r.cpu);
  };
  row(absl::StrCat("QUEUED->LEASED, ", o.lease_batch, " per call"), lease);
  row(absl::StrCat("LEASED->DONE, ", o.report_batch, " per call"), batched);
  row("LEASED->DONE, 1 per call", single);
  absl::PrintF(
      "  (cpu s: the whole process, RocksDB's threads included; wall time beyond it "
      "is waiting: WAL syncs, other processes)\n");
  absl::PrintF("  transfer %s ended %s, %d files done\n", *id,
               v1::TransferState_Name(transfer->state()), transfer->progress().files_done());
  PrintFigure({"transitions_done_per_s", std::round(batched.rate()), ">=", 50000, "reports/s"});
  PrintFigure({"transitions_leases_per_s", std::round(lease.rate()), "", 0, "leases/s"});
  PrintFigure({"transitions_done_per_s_unbatched", std::round(single.rate()), "", 0, "reports/s"});
  return absl::OkStatus();
}

// ---------------------------------------------------------------- plan

// A source tree generated on the fly: directory d (d%05d) holds files
// [d * per_dir, min((d + 1) * per_dir, files)) named f%07d. Walk order: each directory,
// then its files. The cursor is the index of the next entry, in decimal.
class SyntheticLister : public SourceLister {
 public:
  SyntheticLister(int64_t files, int64_t dirs, int page_size)
      : files_(files),
        per_dir_((files + dirs - 1) / dirs),
        dirs_((files + per_dir_ - 1) / per_dir_),
        page_size_(page_size) {}

  int64_t entries() const { return files_ + dirs_; }
  int64_t pages() const { return pages_.load(); }

  absl::StatusOr<v1::FileInfo> Stat(const std::string&, const std::string&) override {
    v1::FileInfo root;
    root.set_type(v1::FILE_TYPE_DIRECTORY);
    root.set_mode(0755);
    root.set_nlink(2);
    return root;
  }

  absl::Status List(const std::string&, const std::string&, const std::string& cursor,
                    const PageCallback& on_page) override {
    int64_t next = 0;
    if (!cursor.empty() && (!absl::SimpleAtoi(cursor, &next) || next < 0)) {
      return absl::InvalidArgumentError(absl::StrCat("cursor: '", cursor, "' is not ours"));
    }
    v1::ListResponse page;
    while (next < entries()) {
      if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
      page.Clear();
      for (int i = 0; i < page_size_ && next < entries(); ++i, ++next) {
        const int64_t dir = next / (per_dir_ + 1);
        const int64_t slot = next % (per_dir_ + 1);
        if (slot == 0) {
          FillDirectory(page.add_entries(), dir);
        } else {
          FillFile(page.add_entries(), dir, dir * per_dir_ + slot - 1);
        }
      }
      page.set_cursor(absl::StrCat(next));
      ++pages_;
      if (absl::Status s = on_page(page); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  const int64_t files_;
  const int64_t per_dir_;
  const int64_t dirs_;
  const int page_size_;
  std::atomic<int64_t> pages_{0};
};

struct PlanOptions {
  int64_t files;
  int64_t dirs;
  int page_size;
  int max_files_per_task;
};

absl::Status RunPlan(const std::string& scratch, const PlanOptions& o) {
  const Memory before = ReadMemory();
  Progress("plan: %d files in %d directories, pages of %d, up to %d files per task\n", o.files,
           o.dirs, o.page_size, o.max_files_per_task);
  ManagerOptions options;
  options.plan_limits.max_files_per_task = o.max_files_per_task;
  Controller c;
  if (absl::Status s = OpenController(absl::StrCat(scratch, "/plan"), options, &c); !s.ok()) {
    return s;
  }
  // PlanOnce lists through a live worker's address.
  if (absl::Status s = RegisterWorkers(c.manager.get(), 1).status(); !s.ok()) return s;
  absl::StatusOr<std::string> id = CreateTransfer(c.manager.get(), "bench", "plan");
  if (!id.ok()) return id.status();
  SyntheticLister lister(o.files, o.dirs, o.page_size);
  PlanningLoop loop(c.manager.get(), &lister, &c.clock);
  const Memory opened = ReadMemory();

  // Samples VmRSS while planning, for the curve; the peak comes from VmHWM/ru_maxrss.
  std::atomic<bool> done{false};
  std::vector<double> samples;
  std::thread sampler([&] {
    while (!done.load()) {
      samples.push_back(ReadMemory().vm_rss_mb);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  const double cpu_start = ProcessCpuSeconds();
  const Steady::time_point start = Steady::now();
  const PlanningLoop::Outcome outcome = loop.PlanOnce(*id);
  const double seconds = SecondsSince(start);
  const double cpu = ProcessCpuSeconds() - cpu_start;
  done = true;
  sampler.join();
  if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
  const Memory after = ReadMemory();

  if (outcome != PlanningLoop::Outcome::kDone) {
    return absl::InternalError("PlanOnce asked to retry later");
  }
  absl::StatusOr<v1::Transfer> transfer = c.manager->GetTransfer(*id);
  if (!transfer.ok()) return transfer.status();
  // files_total counts every planned entry: the root, the directories and the files.
  const int64_t expected_entries = lister.entries() + 1;
  if (!transfer->progress().listing_complete() ||
      transfer->progress().files_total() != expected_entries) {
    return absl::InternalError(absl::StrCat(
        "planning ended with ", transfer->progress().files_total(), " of ", expected_entries,
        " entries, listing_complete=", transfer->progress().listing_complete(), ": ",
        transfer->ShortDebugString()));
  }
  // What was persisted: every entry in exactly one queued task.
  int64_t tasks = 0, queued = 0, planned_files = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it = c.store->NewIterator(controller::Family::kTasks);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      controller::TaskRecord task;
      if (!task.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError(absl::StrCat("unparsable task ", it->key().ToString()));
      }
      ++tasks;
      planned_files += task.files_size();
    }
    it = c.store->NewIterator(controller::Family::kQueue);
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++queued;
  }
  if (planned_files != expected_entries || queued != tasks) {
    return absl::InternalError(absl::StrCat("the store holds ", tasks, " tasks (", queued,
                                            " queued) with ", planned_files, " entries; ",
                                            expected_entries, " were listed"));
  }
  const double files_per_s = o.files / seconds;
  const double peak_mb = std::max(after.vm_hwm_mb, after.ru_maxrss_mb);
  double sampled_peak = 0;
  for (double mb : samples) sampled_peak = std::max(sampled_peak, mb);
  absl::PrintF("\n== plan: %d files (%d entries with directories) through PlanOnce ==\n", o.files,
               lister.entries());
  absl::PrintF(
      "  %d pages in %.2f s (%.2f cpu s): %.0f files/s (%.0f per cpu-second), "
      "%.0f entries/s;\n  the store holds %d queued tasks with every entry\n",
      lister.pages(), seconds, cpu, files_per_s, o.files / cpu, lister.entries() / seconds, tasks);
  absl::PrintF("  memory (MB)      %10s %10s %10s\n", "VmRSS", "VmHWM", "ru_maxrss");
  absl::PrintF("  process start    %10.1f %10.1f %10.1f\n", before.vm_rss_mb, before.vm_hwm_mb,
               before.ru_maxrss_mb);
  absl::PrintF("  store opened     %10.1f %10.1f %10.1f\n", opened.vm_rss_mb, opened.vm_hwm_mb,
               opened.ru_maxrss_mb);
  absl::PrintF("  after planning   %10.1f %10.1f %10.1f\n", after.vm_rss_mb, after.vm_hwm_mb,
               after.ru_maxrss_mb);
  absl::PrintF("  VmRSS sampled every 250 ms while planning: peak %.1f MB over %d samples\n",
               sampled_peak, samples.size());
  PrintFigure({"plan_files_per_s", std::round(files_per_s), ">=", 100000, "files/s"});
  PrintFigure({"plan_peak_rss_mb", std::round(peak_mb * 10) / 10, "<", 500, "MB"});
  return absl::OkStatus();
}

// ---------------------------------------------------------------- fairness

struct FairnessOptions {
  int64_t small_tasks;
  int ratio;
  int workers;
  int64_t head_start;
  std::vector<std::string> weight_sets;
};

absl::StatusOr<std::vector<double>> ParseWeightSet(const std::string& text) {
  std::vector<double> weights;
  for (absl::string_view part : absl::StrSplit(text, ':')) {
    double weight = 0;
    if (!absl::SimpleAtod(part, &weight) || !(weight > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--fair_weights: '", text, "' is not A:B:C with positive weights"));
    }
    weights.push_back(weight);
  }
  if (weights.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fair_weights: '", text, "' needs three weights A:B:C"));
  }
  return weights;
}

absl::Status RunFairnessOnce(const std::string& scratch, const FairnessOptions& o,
                             const std::string& weight_text) {
  absl::StatusOr<std::vector<double>> weights = ParseWeightSet(weight_text);
  if (!weights.ok()) return weights.status();
  const std::vector<std::string> users = {"a", "b", "c"};
  const std::vector<int64_t> totals = {o.small_tasks * o.ratio, o.small_tasks, o.small_tasks};
  const int64_t head_start = o.head_start < 0 ? o.small_tasks : o.head_start;
  Progress(
      "fairness %s: tasks a=%d b=%d c=%d, %d workers one task at a time, "
      "a alone for %d tasks first\n",
      weight_text, totals[0], totals[1], totals[2], o.workers, head_start);
  if (head_start + 2 * o.small_tasks * (*weights)[0] / (*weights)[1] >= totals[0]) {
    return absl::InvalidArgumentError(
        "fairness: user a would run dry inside the window; raise --fair_ratio");
  }

  ManagerOptions options;
  options.plan_limits.max_files_per_task = 1;
  for (int u = 0; u < 3; ++u) options.user_weights[users[u]] = (*weights)[u];
  Controller c;
  const std::string dir =
      absl::StrCat(scratch, "/fairness-", absl::StrReplaceAll(weight_text, {{":", "-"}}));
  if (absl::Status s = OpenController(dir, options, &c); !s.ok()) return s;

  std::vector<std::string> ids;
  absl::flat_hash_map<std::string, int> user_of_transfer;
  for (int u = 0; u < 3; ++u) {
    absl::StatusOr<std::string> id =
        CreateTransfer(c.manager.get(), users[u], absl::StrCat("fair-", users[u]));
    if (!id.ok()) return id.status();
    user_of_transfer[*id] = u;
    ids.push_back(*id);
  }
  if (absl::Status s = PlanFlat(c.manager.get(), ids[0], totals[0]); !s.ok()) return s;

  // Bookkeeping of the workers, in the order they observe their leases.
  absl::Mutex mu;
  std::vector<int64_t> leased(3, 0);          // All leases, window or not.
  std::vector<int64_t> done_in_window(3, 0);  // Completed tasks leased inside the window.
  std::vector<int64_t> leased_in_window(3, 0);
  bool window_closed = false;
  std::atomic<bool> window_open{false};
  std::atomic<bool> stop{false};
  FirstError error;

  absl::StatusOr<std::vector<std::string>> worker_ids = RegisterWorkers(c.manager.get(), o.workers);
  if (!worker_ids.ok()) return worker_ids.status();
  std::vector<std::thread> threads;
  for (const std::string& worker_id : *worker_ids) {
    threads.emplace_back([&, id = worker_id] {
      v1::LeaseTasksRequest request;
      request.set_worker_id(id);
      request.set_max_tasks(1);
      while (!stop.load() && !error.failed()) {
        if (absl::Status s = CheckInterrupted(); !s.ok()) return error.Set(s);
        // Only leases asked for after the window opened count.
        const bool asked_in_window = window_open.load();
        absl::StatusOr<v1::LeaseTasksResponse> response = c.manager->LeaseTasks(request);
        if (!response.ok()) return error.Set(response.status());
        if (response->tasks().empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        const std::vector<v1::Task> tasks = {response->tasks(0)};
        auto user = user_of_transfer.find(tasks[0].transfer_id());
        if (user == user_of_transfer.end()) {
          return error.Set(absl::InternalError("leased a task of an unknown transfer"));
        }
        const int u = user->second;
        bool counted = false;
        {
          absl::MutexLock lock(&mu);
          ++leased[u];
          if (asked_in_window && !window_closed) {
            counted = true;
            ++leased_in_window[u];
            // The user's queue is now empty: the window ends with this lease.
            if (leased[u] == totals[u]) {
              window_closed = true;
              stop = true;
            }
          }
        }
        absl::StatusOr<v1::ReportTasksResponse> report =
            c.manager->ReportTasks(DoneReports(id, tasks, 0, 1));
        if (!report.ok()) return error.Set(report.status());
        if (report->acks(0).code() != 0) {
          return error.Set(
              absl::InternalError(absl::StrCat("report refused: ", report->acks(0).message())));
        }
        if (counted) {
          absl::MutexLock lock(&mu);
          ++done_in_window[u];
        }
      }
    });
  }
  auto join = [&threads, &stop] {
    stop = true;
    for (std::thread& thread : threads) thread.join();
  };

  // User a runs alone for a while, then b and c arrive.
  auto head_start_done = [&] {
    absl::MutexLock lock(&mu);
    return leased[0] >= head_start;
  };
  while (!head_start_done() && !error.failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int u = 1; u < 3; ++u) {
    if (absl::Status s = PlanFlat(c.manager.get(), ids[u], totals[u]); !s.ok()) {
      join();
      return s;
    }
  }
  const Steady::time_point start = Steady::now();
  window_open = true;
  for (std::thread& thread : threads) thread.join();
  const double seconds = SecondsSince(start);
  if (absl::Status s = error.Get(); !s.ok()) return s;

  double weight_sum = 0;
  for (double weight : *weights) weight_sum += weight;
  int64_t window_total = 0;
  for (int64_t done : done_in_window) window_total += done;
  if (window_total == 0) return absl::InternalError("no task completed inside the window");
  const std::string tag = absl::StrReplaceAll(weight_text, {{":", "_"}});
  absl::PrintF(
      "\n== fairness, weights a:b:c = %s: %d tasks completed in the window "
      "(%.2f s) ==\n",
      weight_text, window_total, seconds);
  absl::PrintF("  %-5s %7s %8s %10s %10s %10s %10s %11s\n", "user", "weight", "tasks", "leased",
               "completed", "share", "expected", "deviation");
  double max_deviation = 0;
  std::vector<Figure> figures;
  for (int u = 0; u < 3; ++u) {
    const double share = static_cast<double>(done_in_window[u]) / window_total;
    const double expected = (*weights)[u] / weight_sum;
    const double deviation = std::fabs(share / expected - 1);
    max_deviation = std::max(max_deviation, deviation);
    absl::PrintF("  %-5s %7g %8d %10d %10d %10.4f %10.4f %+10.1f%%\n", users[u], (*weights)[u],
                 totals[u], leased_in_window[u], done_in_window[u], share, expected,
                 100 * (share / expected - 1));
    figures.push_back({absl::StrCat("fairness_", tag, "_share_", users[u]),
                       std::round(share * 10000) / 10000, "~", std::round(expected * 10000) / 10000,
                       "fraction"});
  }
  absl::PrintF(
      "  left queued when the workers stopped: a=%d b=%d c=%d (the window closed at "
      "the first empty queue)\n",
      totals[0] - leased[0], totals[1] - leased[1], totals[2] - leased[2]);
  for (const Figure& figure : figures) PrintFigure(figure);
  PrintFigure({absl::StrCat("fairness_", tag, "_max_deviation"),
               std::round(max_deviation * 10000) / 10000, "<=", 0.10, "fraction"});
  return absl::OkStatus();
}

absl::Status RunFairness(const std::string& scratch, const FairnessOptions& o) {
  for (const std::string& weights : o.weight_sets) {
    if (absl::Status s = RunFairnessOnce(scratch, o, weights); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- main

constexpr const char* kBenchmarks[] = {"transitions", "plan", "fairness"};

// Runs each benchmark in a child process (this binary, the same flags), in order.
int RunAllInChildren(int argc, char** argv, int positional_index) {
  int exit_code = 0;
  for (const char* name : kBenchmarks) {
    if (g_interrupted) return 130;
    std::vector<std::string> args(argv, argv + argc);
    if (positional_index > 0) {
      args[positional_index] = name;
    } else {
      args.push_back(name);
    }
    std::vector<char*> child_argv;
    for (std::string& arg : args) child_argv.push_back(arg.data());
    child_argv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = 0;
    if (int err = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, child_argv.data(), environ);
        err != 0) {
      absl::FPrintF(stderr, "controller_bench: spawn %s: %s\n", name, strerror(err));
      return 1;
    }
    // A signal to this process alone (not its group) is passed on to the child.
    int status = 0;
    bool forwarded = false;
    while (true) {
      const pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno != EINTR)) break;
      if (g_interrupted && !forwarded) {
        kill(pid, SIGTERM);
        forwarded = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (g_interrupted || (WIFEXITED(status) && WEXITSTATUS(status) == 130)) return 130;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      absl::FPrintF(stderr, "controller_bench: %s failed (wait status %d)\n", name, status);
      exit_code = 1;
    }
  }
  return exit_code;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks of the controller on its real libraries and a real RocksDB.\n"
      "Usage: controller_bench [transitions|plan|fairness|all] [--quick] [--dir=DIR] "
      "[size flags]\nPrints one FIGURE line per figure on stdout.");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  if (!absl::GetFlag(FLAGS_verbose)) FLAGS_minloglevel = 1;  // WARNING and above.
  google::InitGoogleLogging(argv[0]);

  std::string which = "all";
  int positional_index = 0;
  if (positional.size() > 2) {
    absl::FPrintF(stderr, "controller_bench: one benchmark name at most\n");
    return 2;
  }
  if (positional.size() == 2) {
    which = positional[1];
    for (int i = 1; i < argc; ++i) {
      if (argv[i] == which) positional_index = i;
    }
  }
  const bool known = which == "all" || std::find_if(std::begin(kBenchmarks), std::end(kBenchmarks),
                                                    [&](const char* name) {
                                                      return which == name;
                                                    }) != std::end(kBenchmarks);
  if (!known) {
    absl::FPrintF(stderr, "controller_bench: unknown benchmark '%s'\n", which);
    return 2;
  }
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (which == "all") return RunAllInChildren(argc, argv, positional_index);

  const bool quick = absl::GetFlag(FLAGS_quick);
  TransitionsOptions transitions{
      absl::GetFlag(FLAGS_tasks), absl::GetFlag(FLAGS_workers), absl::GetFlag(FLAGS_lease_batch),
      absl::GetFlag(FLAGS_report_batch), absl::GetFlag(FLAGS_unbatched_reports)};
  PlanOptions plan{absl::GetFlag(FLAGS_files), absl::GetFlag(FLAGS_dirs),
                   absl::GetFlag(FLAGS_page_size), absl::GetFlag(FLAGS_max_files_per_task)};
  FairnessOptions fairness{absl::GetFlag(FLAGS_fair_small_tasks), absl::GetFlag(FLAGS_fair_ratio),
                           absl::GetFlag(FLAGS_fair_workers), absl::GetFlag(FLAGS_fair_head_start),
                           absl::GetFlag(FLAGS_fair_weights)};
  if (quick) {
    transitions.tasks = 5000;
    transitions.unbatched_reports = 200;
    plan.files = 20000;
    plan.dirs = 20;
    fairness.small_tasks = 100;
  }
  if (transitions.tasks < 1 || transitions.workers < 1 || transitions.unbatched_reports < 0 ||
      transitions.unbatched_reports >= transitions.tasks || transitions.lease_batch < 1 ||
      transitions.lease_batch > 1024 || transitions.report_batch < 1 || plan.files < 1 ||
      plan.dirs < 1 || plan.dirs > plan.files || plan.page_size < 1 || plan.page_size > 10000 ||
      plan.max_files_per_task < 1 || fairness.small_tasks < 1 || fairness.ratio < 1 ||
      fairness.workers < 1 || fairness.weight_sets.empty()) {
    absl::FPrintF(stderr,
                  "controller_bench: need --tasks, --workers, --report_batch, --files, "
                  "--page_size (<= 10000), --max_files_per_task, --fair_* >= 1, "
                  "--lease_batch 1-1024, 1 <= --dirs <= --files, "
                  "0 <= --unbatched_reports < --tasks\n");
    return 2;
  }

#ifdef __OPTIMIZE__
  constexpr const char* kBuild = "optimized";
#else
  constexpr const char* kBuild = "UNOPTIMIZED (build with -c opt for figures that mean anything)";
#endif
  absl::PrintF("controller_bench %s%s: %s build, pid %d\n", which, quick ? " --quick" : "", kBuild,
               getpid());
  std::string scratch = absl::StrCat(ScratchParent(), "/controller_bench.XXXXXX");
  if (mkdtemp(scratch.data()) == nullptr) {
    absl::FPrintF(stderr, "controller_bench: mkdtemp %s: %s\n", scratch, strerror(errno));
    return 1;
  }
  absl::Status status;
  if (which == "transitions") status = RunTransitions(scratch, transitions);
  if (which == "plan") status = RunPlan(scratch, plan);
  if (which == "fairness") status = RunFairness(scratch, fairness);
  int exit_code = 0;
  if (!status.ok()) {
    absl::FPrintF(stderr, "controller_bench %s: %s\n", which, status.ToString());
    exit_code = absl::IsInvalidArgument(status) ? 2 : absl::IsCancelled(status) ? 130 : 1;
  }
  if (absl::GetFlag(FLAGS_keep_scratch)) {
    absl::FPrintF(stderr, "controller_bench: kept %s\n", scratch);
  } else if (absl::Status s = RemoveTree(scratch); !s.ok()) {
    absl::FPrintF(stderr, "controller_bench: %s\n", s.ToString());
    if (exit_code == 0) exit_code = 1;
  }
  return exit_code;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::Main(argc, argv); }
