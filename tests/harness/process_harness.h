// Process harness for ferry's end-to-end tests: start real binaries (controller, copyd,
// the ferry CLI) as child processes, wait until they serve, kill them, and compare the
// trees they copied.
//
// Typical use in a gtest e2e test:
//
//   absl::StatusOr<TempDir> data = TempDir::Create("controller");
//   ASSERT_TRUE(data.ok()) << data.status();
//   ProcessOptions opts;
//   opts.name = "controller";
//   opts.binary = RunfilePath("controller/controller");
//   opts.args = {"--data_dir=" + data->path(), "--listen=127.0.0.1:0", "--tls_ca=...",
//                "--tls_cert=...", "--tls_key=..."};
//   opts.port_file = true;
//   opts.health_credentials = ...;  // auth::ChannelCredentials of a test certificate
//   absl::StatusOr<std::unique_ptr<ManagedProcess>> controller =
//       ManagedProcess::Start(opts);
//   ASSERT_TRUE(controller.ok()) << controller.status();
//   absl::StatusOr<std::string> address =
//       (*controller)->WaitServing(absl::Now() + absl::Seconds(30));
//   ASSERT_TRUE(address.ok()) << address.status();
//   ...
//   EXPECT_TRUE(CompareTrees(src->path(), dst->path()).ok());
//
// Every process and temporary directory is released by its destructor, so a test that
// fails at any ASSERT leaves no process running. The library is test-only and reports
// failures as absl::Status; it never throws and never aborts except where noted.
#ifndef FERRY_TESTS_HARNESS_PROCESS_HARNESS_H_
#define FERRY_TESTS_HARNESS_PROCESS_HARNESS_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace ferry::harness {

// Absolute path of a file in this test's runfiles, given its workspace-relative path
// ("copyd/copyd"): $TEST_SRCDIR/$TEST_WORKSPACE/<path>. Outside `bazel test` it falls
// back to $RUNFILES_DIR, then to <this executable>.runfiles, and the workspace name
// "ferry". Does not check that the file exists (Start() reports a missing binary).
std::string RunfilePath(const std::string& workspace_relative);

// Directory for files a test wants kept after it ends, such as process logs:
// $TEST_UNDECLARED_OUTPUTS_DIR when set (Bazel zips it into test.outputs), else
// $TEST_TMPDIR, else $TMPDIR, else /tmp.
std::string OutputDir();

// Directory for scratch files: $TEST_TMPDIR, else $TMPDIR, else /tmp.
std::string ScratchDir();

// A scratch directory made with mkdtemp under ScratchDir(). The destructor removes it
// recursively (making unreadable subdirectories readable first) unless the current
// gtest test has failed and the environment has FERRY_KEEP_TMP=1, in which case it logs
// where the directory was kept. Move-only; a moved-from TempDir owns nothing.
// Thread-compatible.
class TempDir {
 public:
  // Creates <ScratchDir()>/<prefix>.XXXXXX. Fails with the errno of mkdtemp.
  static absl::StatusOr<TempDir> Create(absl::string_view prefix = "tmp");

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  // Absolute path, without a trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + relative.
  std::string Join(absl::string_view relative) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Release();
  std::string path_;
};

// How to start one process.
struct ProcessOptions {
  // Short name, unique among the processes alive at one time in this test process
  // (Start() refuses a duplicate): names the log file <OutputDir()>/<name>.log and the
  // port file <ScratchDir()>/<name>.port. Letters, digits, '-', '_' and '.' only.
  std::string name;
  // Absolute path of the executable (see RunfilePath). Not searched in $PATH.
  std::string binary;
  // Arguments after argv[0] (argv[0] is `binary`).
  std::vector<std::string> args;
  // When true, "--port_file=<ScratchDir()>/<name>.port" is appended to args, and any
  // stale file of that name is removed first. The server is expected to write the file
  // atomically (temporary file + rename) with the decimal port and a newline.
  bool port_file = false;
  // Added to (or replacing entries of) the inherited environment, as NAME=value.
  std::vector<std::string> env;
  // How WaitServing's health check connects: for ferry daemons, mTLS with any
  // certificate of the test CA (auth::ChannelCredentials); grpc::InsecureChannelCredentials()
  // only for a plaintext server (--insecure_plaintext_unsafe). WaitServing fails with
  // FailedPrecondition while it is null: no plaintext by default.
  std::shared_ptr<grpc::ChannelCredentials> health_credentials;
};

// How a process ended.
struct ExitStatus {
  bool exited = false;  // returned from main or called exit(); `code` is valid
  int code = -1;        // exit code when `exited`
  int signal = 0;       // terminating signal when !exited
  // True for exit code 0.
  bool success() const { return exited && code == 0; }
  // "exit code 3" or "killed by signal 9 (Killed)".
  std::string ToString() const;
};

// One child process, started with fork + exec into its own process group (setpgid), with
// stdin from /dev/null and stdout and stderr appended to its log file (a header line
// with the command line is written first, so a restarted process appends to the same
// log). The child also gets PR_SET_PDEATHSIG=SIGKILL, so it dies if the thread that
// started it dies (start processes from the test's main thread).
//
// The destructor sends SIGKILL to the whole process group and reaps the child, so
// neither the child nor anything it spawned in its group outlives the object.
// Thread-compatible: use one object from one thread at a time.
class ManagedProcess {
 public:
  // Starts the process. Fails with InvalidArgument for a bad name, AlreadyExists when a
  // live ManagedProcess has the same name, NotFound/PermissionDenied when the binary
  // cannot be executed (the exec error is reported, not just a dead child), or the errno
  // of the failing open/fork.
  static absl::StatusOr<std::unique_ptr<ManagedProcess>> Start(ProcessOptions options);

  ManagedProcess(const ManagedProcess&) = delete;
  ManagedProcess& operator=(const ManagedProcess&) = delete;
  ~ManagedProcess();

  const std::string& name() const { return options_.name; }
  pid_t pid() const { return pid_; }  // also the process group id
  const std::string& log_path() const { return log_path_; }
  // Empty unless ProcessOptions::port_file.
  const std::string& port_file() const { return port_file_; }

  // Polls for the port file until `deadline`; returns the port it holds. Fails with
  // DeadlineExceeded when the deadline passes, FailedPrecondition when the process exits
  // first or was started without port_file, and DataLoss when the file's content is not
  // a port in 1..65535 followed by a newline.
  absl::StatusOr<int> WaitForPortFile(absl::Time deadline);

  // WaitForPortFile, then WaitHealthy on 127.0.0.1:<port> with
  // ProcessOptions::health_credentials, failing early when the process exits meanwhile.
  // Returns "127.0.0.1:<port>".
  absl::StatusOr<std::string> WaitServing(absl::Time deadline);

  // Sends `signal` to the process group. OK when the group no longer exists.
  absl::Status Kill(int signal = SIGKILL);

  // Reaps the child and returns how it ended, waiting until `deadline` (DeadlineExceeded
  // then, leaving it running). Returns the same status again once reaped. Other members
  // of its process group are not waited for (the destructor kills them).
  absl::StatusOr<ExitStatus> Wait(absl::Time deadline = absl::InfiniteFuture());

  // True while the child has not exited (reaps it if it has).
  bool Running();

  // The whole log so far, for assertions and failure messages.
  absl::StatusOr<std::string> ReadLog() const;

 private:
  explicit ManagedProcess(ProcessOptions options) : options_(std::move(options)) {}
  // Non-blocking reap: true if the child has exited (status in exit_).
  bool Reaped();

  ProcessOptions options_;
  pid_t pid_ = -1;
  std::string log_path_;
  std::string port_file_;
  std::optional<ExitStatus> exit_;
};

// Calls grpc.health.v1.Health/Check (service "") on `address` over a channel with
// `credentials` (see ProcessOptions::health_credentials) until it answers SERVING,
// polling with a short backoff (10 ms doubling to 200 ms, each attempt bounded by the
// deadline). Fails with DeadlineExceeded, carrying the last RPC error or serving
// status, when `deadline` passes first (a refused handshake is such an RPC error).
absl::Status WaitHealthy(const std::string& address,
                         const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                         absl::Time deadline);

// The whole content of a file. Fails with the errno-derived code (NotFound, ...).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Compares two trees: the same names in every directory, the same type for each entry
// (directory, regular file, symlink, other), regular files byte for byte, symlinks by
// target (not followed). Permissions and times are not compared. Returns OK when equal,
// FailedPrecondition naming the first difference in sorted order ("only in a: x/y",
// "x/y: contents differ at byte 4096 (size 8192 vs 8192)", ...), or an I/O error.
absl::Status CompareTrees(const std::string& a, const std::string& b);

}  // namespace ferry::harness

#endif  // FERRY_TESTS_HARNESS_PROCESS_HARNESS_H_
