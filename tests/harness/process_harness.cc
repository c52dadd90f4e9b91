#include "tests/harness/process_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"

extern char** environ;

namespace ferry::harness {
namespace {

constexpr absl::Duration kFirstPoll = absl::Milliseconds(5);
constexpr absl::Duration kMaxPoll = absl::Milliseconds(50);
constexpr size_t kLogTailBytes = 2048;

std::string Getenv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string FirstSetEnv(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::string value = Getenv(name);
    if (!value.empty()) return value;
  }
  return "/tmp";
}

absl::Status Errno(int error, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

// Sleeps for `interval` or until `deadline`, whichever comes first, then doubles
// `interval` up to `max`.
void PollSleep(absl::Duration& interval, absl::Duration max, absl::Time deadline) {
  absl::SleepFor(std::min(interval, std::max(deadline - absl::Now(), absl::ZeroDuration())));
  interval = std::min(interval * 2, max);
}

// Names of live ManagedProcess objects, so two never share a log or port file.
absl::Mutex names_mu;
std::set<std::string>& LiveNames() ABSL_EXCLUSIVE_LOCKS_REQUIRED(names_mu) {
  static auto* names = new std::set<std::string>;
  return *names;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
           c == '.';
  });
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

// Reads up to `size` bytes, retrying short reads; returns the count (0 at end of file).
ssize_t ReadFull(int fd, char* buf, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = read(fd, buf + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += n;
  }
  return done;
}

// Environment of the child: the parent's, with `overrides` (NAME=value) replacing or
// adding entries.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  auto key = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::set<std::string> replaced;
  for (const std::string& entry : overrides) replaced.insert(key(entry));
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    if (replaced.count(key(entry)) == 0) env.push_back(std::move(entry));
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Polls grpc.health.v1.Health/Check until SERVING. `alive`, when set, is checked
// before every attempt and its error returned as is.
absl::Status WaitHealthyImpl(const std::string& address,
                             const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                             absl::Time deadline, const std::function<absl::Status()>& alive) {
  grpc::ChannelArguments args;
  // Reconnect quickly once the server starts listening; the default backoff starts at
  // 1 s. A local subchannel pool keeps this channel's backoff state to itself.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, credentials, args);
  std::unique_ptr<grpc::health::v1::Health::Stub> stub =
      grpc::health::v1::Health::NewStub(channel);

  absl::Duration interval = absl::Milliseconds(10);
  std::string last = "no attempt made";
  int attempts = 0;
  while (true) {
    if (alive) {
      absl::Status status = alive();
      if (!status.ok()) return status;
    }
    grpc::ClientContext context;
    const absl::Time attempt_deadline = std::min(deadline, absl::Now() + absl::Seconds(1));
    context.set_deadline(absl::ToChronoTime(attempt_deadline));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status rpc = stub->Check(&context, request, &response);
    ++attempts;
    if (rpc.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    // An attempt cut short by the overall deadline says less than the one before it.
    const bool cut_short = rpc.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                           attempt_deadline == deadline && attempts > 1;
    if (!cut_short) {
      last = rpc.ok() ? absl::StrCat("health status ",
                                     grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                                         response.status()))
                      : absl::StrCat("rpc error ", static_cast<int>(rpc.error_code()), ": ",
                                     rpc.error_message());
    }
    if (absl::Now() < deadline) PollSleep(interval, absl::Milliseconds(200), deadline);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(address, " not SERVING after ",
                                                      attempts, " attempts; last: ", last));
    }
  }
}

// Removes `path` recursively without following symlinks, making directories writable
// and searchable first. Returns the first error but keeps going.
absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno(errno, "lstat", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    return unlink(path.c_str()) == 0 || errno == ENOENT ? absl::OkStatus()
                                                          : Errno(errno, "unlink", path);
  }
  absl::Status result;
  if ((st.st_mode & S_IRWXU) != S_IRWXU) chmod(path.c_str(), st.st_mode | S_IRWXU);
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Errno(errno, "opendir", path);
  std::vector<std::string> children;
  while (struct dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    children.push_back(path + "/" + entry->d_name);
  }
  closedir(dir);
  for (const std::string& child : children) result.Update(RemoveTree(child));
  if (rmdir(path.c_str()) != 0) result.Update(Errno(errno, "rmdir", path));
  return result;
}

// Sorted names in a directory, without "." and "..".
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Errno(errno, "opendir", path);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = readdir(dir)) {
    if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
      names.push_back(entry->d_name);
    }
  }
  int error = errno;
  closedir(dir);
  if (error != 0) return Errno(error, "readdir", path);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::string> ReadLink(const std::string& path) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = readlink(path.c_str(), target.data(), target.size());
  if (n < 0) return Errno(errno, "readlink", path);
  target.resize(n);
  return target;
}

const char* TypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISREG(mode)) return "regular file";
  if (S_ISLNK(mode)) return "symlink";
  return "special file";
}

absl::Status CompareFiles(const std::string& a, const std::string& b, const std::string& rel,
                          off_t size_a, off_t size_b) {
  int fa = open(a.c_str(), O_RDONLY | O_CLOEXEC);
  if (fa < 0) return Errno(errno, "open", a);
  int fb = open(b.c_str(), O_RDONLY | O_CLOEXEC);
  if (fb < 0) {
    int error = errno;
    close(fa);
    return Errno(error, "open", b);
  }
  constexpr size_t kChunk = 1 << 20;
  std::string buf_a(kChunk, '\0'), buf_b(kChunk, '\0');
  uint64_t offset = 0;
  absl::Status result;
  while (true) {
    ssize_t na = ReadFull(fa, buf_a.data(), kChunk);
    ssize_t nb = ReadFull(fb, buf_b.data(), kChunk);
    if (na < 0 || nb < 0) {
      result = Errno(errno, "read", na < 0 ? a : b);
      break;
    }
    size_t common = std::min(na, nb);
    // memcmp first: std::mismatch is slow in unoptimized test builds (GiB-sized trees).
    const bool same = std::memcmp(buf_a.data(), buf_b.data(), common) == 0;
    auto mismatch = same ? std::make_pair(buf_a.begin() + common, buf_b.begin() + common)
                         : std::mismatch(buf_a.begin(), buf_a.begin() + common, buf_b.begin());
    if (mismatch.first != buf_a.begin() + common || na != nb) {
      result = absl::FailedPreconditionError(absl::StrCat(
          rel, ": contents differ at byte ", offset + (mismatch.first - buf_a.begin()),
          " (size ", size_a, " vs ", size_b, ")"));
      break;
    }
    if (na == 0) break;
    offset += na;
  }
  close(fa);
  close(fb);
  return result;
}

absl::Status CompareEntries(const std::string& root_a, const std::string& root_b,
                            const std::string& rel, bool follow) {
  const std::string a = rel.empty() ? root_a : root_a + "/" + rel;
  const std::string b = rel.empty() ? root_b : root_b + "/" + rel;
  const std::string shown = rel.empty() ? "." : rel;
  struct stat sa, sb;
  if ((follow ? stat(a.c_str(), &sa) : lstat(a.c_str(), &sa)) != 0) {
    return Errno(errno, "stat", a);
  }
  if ((follow ? stat(b.c_str(), &sb) : lstat(b.c_str(), &sb)) != 0) {
    return Errno(errno, "stat", b);
  }
  if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
    return absl::FailedPreconditionError(absl::StrCat(shown, ": ", TypeName(sa.st_mode),
                                                      " vs ", TypeName(sb.st_mode)));
  }
  if (S_ISREG(sa.st_mode)) return CompareFiles(a, b, shown, sa.st_size, sb.st_size);
  if (S_ISLNK(sa.st_mode)) {
    absl::StatusOr<std::string> ta = ReadLink(a);
    if (!ta.ok()) return ta.status();
    absl::StatusOr<std::string> tb = ReadLink(b);
    if (!tb.ok()) return tb.status();
    if (*ta != *tb) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, ": symlink targets differ: '", *ta, "' vs '", *tb, "'"));
    }
    return absl::OkStatus();
  }
  if (!S_ISDIR(sa.st_mode)) return absl::OkStatus();

  absl::StatusOr<std::vector<std::string>> names_a = ListDir(a);
  if (!names_a.ok()) return names_a.status();
  absl::StatusOr<std::vector<std::string>> names_b = ListDir(b);
  if (!names_b.ok()) return names_b.status();
  auto ia = names_a->begin(), ib = names_b->begin();
  while (ia != names_a->end() || ib != names_b->end()) {
    if (ib == names_b->end() || (ia != names_a->end() && *ia < *ib)) {
      return absl::FailedPreconditionError(
          absl::StrCat("only in ", root_a, ": ", rel.empty() ? *ia : rel + "/" + *ia));
    }
    if (ia == names_a->end() || *ib < *ia) {
      return absl::FailedPreconditionError(
          absl::StrCat("only in ", root_b, ": ", rel.empty() ? *ib : rel + "/" + *ib));
    }
    absl::Status status =
        CompareEntries(root_a, root_b, rel.empty() ? *ia : rel + "/" + *ia, false);
    if (!status.ok()) return status;
    ++ia;
    ++ib;
  }
  return absl::OkStatus();
}

}  // namespace

std::string RunfilePath(const std::string& workspace_relative) {
  std::string root = Getenv("TEST_SRCDIR");
  if (root.empty()) root = Getenv("RUNFILES_DIR");
  if (root.empty()) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) root = std::string(exe, n) + ".runfiles";
  }
  std::string workspace = Getenv("TEST_WORKSPACE");
  if (workspace.empty()) workspace = "ferry";
  return absl::StrCat(root, "/", workspace, "/", workspace_relative);
}

std::string OutputDir() {
  return FirstSetEnv({"TEST_UNDECLARED_OUTPUTS_DIR", "TEST_TMPDIR", "TMPDIR"});
}

std::string ScratchDir() { return FirstSetEnv({"TEST_TMPDIR", "TMPDIR"}); }

// ---------------------------------------------------------------------------- TempDir

absl::StatusOr<TempDir> TempDir::Create(absl::string_view prefix) {
  if (prefix.empty() || prefix.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("bad TempDir prefix '", prefix, "'"));
  }
  std::string path = absl::StrCat(ScratchDir(), "/", prefix, ".XXXXXX");
  if (mkdtemp(path.data()) == nullptr) return Errno(errno, "mkdtemp", path);
  return TempDir(std::move(path));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { Release(); }

std::string TempDir::Join(absl::string_view relative) const {
  return absl::StrCat(path_, "/", relative);
}

void TempDir::Release() {
  if (path_.empty()) return;
  if (::testing::Test::HasFailure() && Getenv("FERRY_KEEP_TMP") == "1") {
    LOG(INFO) << "test failed and FERRY_KEEP_TMP=1: keeping " << path_;
  } else if (absl::Status status = RemoveTree(path_); !status.ok()) {
    LOG(WARNING) << "could not remove " << path_ << ": " << status;
  }
  path_.clear();
}

// --------------------------------------------------------------------- ManagedProcess

std::string ExitStatus::ToString() const {
  if (exited) return absl::StrCat("exit code ", code);
  if (signal != 0) return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return "unknown exit status";
}

absl::StatusOr<std::unique_ptr<ManagedProcess>> ManagedProcess::Start(ProcessOptions options) {
  if (!ValidName(options.name)) {
    return absl::InvalidArgumentError(absl::StrCat("bad process name '", options.name, "'"));
  }
  if (options.binary.empty() || options.binary[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("binary must be an absolute path: '", options.binary, "'"));
  }
  {
    absl::MutexLock lock(&names_mu);
    if (!LiveNames().insert(options.name).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("a process named '", options.name, "' is already running"));
    }
  }
  // From here on the destructor unregisters the name and cleans up.
  std::unique_ptr<ManagedProcess> process(new ManagedProcess(std::move(options)));
  const ProcessOptions& opts = process->options_;

  std::vector<std::string> argv = {opts.binary};
  argv.insert(argv.end(), opts.args.begin(), opts.args.end());
  if (opts.port_file) {
    process->port_file_ = absl::StrCat(ScratchDir(), "/", opts.name, ".port");
    if (unlink(process->port_file_.c_str()) != 0 && errno != ENOENT) {
      return Errno(errno, "unlink stale", process->port_file_);
    }
    argv.push_back("--port_file=" + process->port_file_);
  }
  std::vector<std::string> env = ChildEnvironment(opts.env);
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);

  process->log_path_ = absl::StrCat(OutputDir(), "/", opts.name, ".log");
  int log_fd = open(process->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Errno(errno, "open", process->log_path_);
  absl::Status header = WriteAll(
      log_fd, absl::StrCat("==== ", absl::FormatTime(absl::Now()), " harness starts: ",
                           absl::StrJoin(argv, " "), "\n"));
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int exec_error_pipe[2] = {-1, -1};
  if (!header.ok() || null_fd < 0 || pipe2(exec_error_pipe, O_CLOEXEC) != 0) {
    absl::Status status = header.ok() ? absl::ErrnoToStatus(errno, "open /dev/null or pipe")
                                      : header;
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return status;
  }

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until execve.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
      int error = errno;
      (void)!write(exec_error_pipe[1], &error, sizeof(error));
      _exit(127);
    }
    // Whatever else the test process has open closes at exec.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(c_argv[0], c_argv.data(), c_env.data());
    int error = errno;
    (void)!write(exec_error_pipe[1], &error, sizeof(error));
    _exit(127);
  }
  int fork_error = errno;
  close(log_fd);
  close(null_fd);
  close(exec_error_pipe[1]);
  if (pid < 0) {
    close(exec_error_pipe[0]);
    return absl::ErrnoToStatus(fork_error, "fork");
  }
  process->pid_ = pid;
  // Also from the parent, so the group exists before Start returns whatever the order.
  // EACCES means the child has already exec'd, after its own setpgid.
  setpgid(pid, pid);

  int exec_error = 0;
  ssize_t n = ReadFull(exec_error_pipe[0], reinterpret_cast<char*>(&exec_error),
                       sizeof(exec_error));
  close(exec_error_pipe[0]);
  if (n == sizeof(exec_error)) {
    return Errno(exec_error, "exec", opts.binary);  // the destructor reaps the child
  }
  LOG(INFO) << "started " << opts.name << " pid " << pid << ", log " << process->log_path_;
  return process;
}

ManagedProcess::~ManagedProcess() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    if (!exit_.has_value()) {
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      exit_ = FromWaitStatus(status);
    }
  }
  absl::MutexLock lock(&names_mu);
  LiveNames().erase(options_.name);
}

bool ManagedProcess::Reaped() {
  if (exit_.has_value()) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    LOG(WARNING) << options_.name << " pid " << pid_ << " could not be waited for: "
                 << strerror(errno);
    exit_ = ExitStatus{};
  } else {
    exit_ = FromWaitStatus(status);
    LOG(INFO) << options_.name << " pid " << pid_ << " ended: " << exit_->ToString();
  }
  return true;
}

bool ManagedProcess::Running() { return !Reaped(); }

absl::Status ManagedProcess::Kill(int signal) {
  if (kill(-pid_, signal) == 0 || errno == ESRCH) return absl::OkStatus();
  return absl::ErrnoToStatus(errno, absl::StrCat("kill process group ", pid_));
}

absl::StatusOr<ExitStatus> ManagedProcess::Wait(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture() && !exit_.has_value()) {
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    exit_ = r == pid_ ? FromWaitStatus(status) : ExitStatus{};
  }
  absl::Duration interval = kFirstPoll;
  while (!Reaped()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(options_.name, " pid ", pid_,
                                                      " still running at the deadline"));
    }
    PollSleep(interval, kMaxPoll, deadline);
  }
  return *exit_;
}

absl::StatusOr<std::string> ManagedProcess::ReadLog() const { return ReadFile(log_path_); }

namespace {
std::string LogTail(const ManagedProcess& process) {
  absl::StatusOr<std::string> log = process.ReadLog();
  if (!log.ok()) return absl::StrCat("(log unreadable: ", log.status().ToString(), ")");
  if (log->size() > kLogTailBytes) log->erase(0, log->size() - kLogTailBytes);
  return absl::StrCat("log ", process.log_path(), " ends:\n", *log);
}
}  // namespace

absl::StatusOr<int> ManagedProcess::WaitForPortFile(absl::Time deadline) {
  if (port_file_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.name, " was started without port_file"));
  }
  absl::Duration interval = kFirstPoll;
  while (true) {
    absl::StatusOr<std::string> content = ReadFile(port_file_);
    // A file without its newline is still being written by a non-atomic writer.
    if (content.ok() && !content->empty() && content->back() == '\n') {
      int port = 0;
      if (!absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(*content), &port) ||
          port < 1 || port > 65535) {
        return absl::DataLossError(
            absl::StrCat(port_file_, " does not hold a port: '", *content, "'"));
      }
      return port;
    }
    if (!content.ok() && !absl::IsNotFound(content.status())) return content.status();
    if (Reaped()) {
      return absl::FailedPreconditionError(
          absl::StrCat(options_.name, " ended (", exit_->ToString(), ") without writing ",
                       port_file_, "; ", LogTail(*this)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          options_.name, " wrote no port to ", port_file_, " by the deadline; ",
          LogTail(*this)));
    }
    PollSleep(interval, kMaxPoll, deadline);
  }
}

absl::StatusOr<std::string> ManagedProcess::WaitServing(absl::Time deadline) {
  if (options_.health_credentials == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        options_.name, ": ProcessOptions::health_credentials is not set (mTLS for ferry "
                       "daemons, grpc::InsecureChannelCredentials() for a plaintext server)"));
  }
  absl::StatusOr<int> port = WaitForPortFile(deadline);
  if (!port.ok()) return port.status();
  std::string address = absl::StrCat("127.0.0.1:", *port);
  absl::Status healthy = WaitHealthyImpl(address, options_.health_credentials, deadline,
                                         [this]() -> absl::Status {
    if (!Reaped()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        options_.name, " ended (", exit_->ToString(), ") before serving; ", LogTail(*this)));
  });
  if (!healthy.ok()) {
    if (absl::IsDeadlineExceeded(healthy)) {
      return absl::DeadlineExceededError(
          absl::StrCat(healthy.message(), "; ", LogTail(*this)));
    }
    return healthy;
  }
  return address;
}

// ------------------------------------------------------------------------------- free

absl::Status WaitHealthy(const std::string& address,
                         const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                         absl::Time deadline) {
  return WaitHealthyImpl(address, credentials, deadline, nullptr);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", path);
  std::string content;
  char buf[1 << 16];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      close(fd);
      return Errno(error, "read", path);
    }
    if (n == 0) break;
    content.append(buf, n);
  }
  close(fd);
  return content;
}

absl::Status CompareTrees(const std::string& a, const std::string& b) {
  return CompareEntries(a, b, "", /*follow=*/true);
}

}  // namespace ferry::harness
