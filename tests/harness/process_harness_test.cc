// Tests of the e2e process harness, with /bin/sh scripts as children and this binary
// itself as a small gRPC health server (run with --serve_health).
#include "tests/harness/process_harness.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "auth/test_certs.h"
#include "auth/tls.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"

namespace ferry::harness {
namespace {

absl::Time Deadline(absl::Duration d = absl::Seconds(30)) { return absl::Now() + d; }

// The in-process and child health servers below are plaintext.
const std::shared_ptr<grpc::ChannelCredentials> kPlaintext = grpc::InsecureChannelCredentials();

// Polls `done` every 5 ms until it is true or `deadline` passes.
bool PollUntil(const std::function<bool()>& done, absl::Time deadline) {
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ManagedProcess>> StartShell(const std::string& name,
                                                           const std::string& script,
                                                           bool port_file = false,
                                                           std::vector<std::string> env = {}) {
  ProcessOptions options;
  options.name = name;
  options.binary = "/bin/sh";
  options.args = {"-c", script, "sh"};
  options.port_file = port_file;
  options.env = std::move(env);
  options.health_credentials = kPlaintext;
  return ManagedProcess::Start(std::move(options));
}

// Writes `content` to `path`, creating or truncating it.
void WriteFile(const std::string& path, const std::string& content) {
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path << ": " << strerror(errno);
  ASSERT_EQ(fwrite(content.data(), 1, content.size(), f), content.size());
  ASSERT_EQ(fclose(f), 0);
}

// True when `pid` no longer exists as a live member of process group `pgid`: gone, a
// zombie waiting for its reaper, or (pid reused) in another group.
bool GoneFromGroup(pid_t pid, pid_t pgid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  size_t paren = stat->rfind(')');
  char state = '?';
  int ppid = 0, group = 0;
  if (paren == std::string::npos ||
      sscanf(stat->c_str() + paren + 1, " %c %d %d", &state, &ppid, &group) != 3) {
    return true;
  }
  return state == 'Z' || group != pgid;
}

TEST(RunfilePathTest, FindsThisTestBinary) {
  std::string path = RunfilePath("tests/harness/process_harness_test");
  EXPECT_EQ(access(path.c_str(), X_OK), 0) << path;
}

TEST(ManagedProcessTest, WaitForPortFileReturnsPort) {
  auto process = StartShell(
      "port-writer",
      R"(p=${1#--port_file=}; printf '43210\n' > "$p.tmp" && mv "$p.tmp" "$p"; exec sleep 1000)",
      /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE(absl::EndsWith((*process)->port_file(), "/port-writer.port"));
  absl::StatusOr<int> port = (*process)->WaitForPortFile(Deadline());
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(*port, 43210);
  EXPECT_TRUE((*process)->Running());
}

TEST(ManagedProcessTest, WaitForPortFileHonoursDeadline) {
  auto process = StartShell("silent", "exec sleep 1000", /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::Time start = absl::Now();
  absl::StatusOr<int> port = (*process)->WaitForPortFile(start + absl::Milliseconds(300));
  absl::Duration waited = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(port.status())) << port.status();
  EXPECT_GE(waited, absl::Milliseconds(300));
  EXPECT_LT(waited, absl::Seconds(10));
  EXPECT_TRUE((*process)->Running());
}

TEST(ManagedProcessTest, WaitForPortFileFailsFastWhenProcessExits) {
  auto process = StartShell("dies-early", "echo boom-before-port >&2; exit 7",
                            /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::Time start = absl::Now();
  absl::StatusOr<int> port = (*process)->WaitForPortFile(Deadline(absl::Seconds(50)));
  EXPECT_TRUE(absl::IsFailedPrecondition(port.status())) << port.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_TRUE(absl::StrContains(port.status().message(), "exit code 7")) << port.status();
  EXPECT_TRUE(absl::StrContains(port.status().message(), "boom-before-port"))
      << port.status();
}

TEST(ManagedProcessTest, WaitForPortFileRejectsGarbage) {
  auto process = StartShell(
      "bad-port",
      R"(p=${1#--port_file=}; printf 'http\n' > "$p.tmp" && mv "$p.tmp" "$p"; exec sleep 1000)",
      /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> port = (*process)->WaitForPortFile(Deadline());
  EXPECT_TRUE(absl::IsDataLoss(port.status())) << port.status();
}

TEST(ManagedProcessTest, WaitForPortFileNeedsPortFileOption) {
  auto process = StartShell("no-port-file", "exec sleep 1000");
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE((*process)->port_file().empty());
  EXPECT_TRUE(absl::IsFailedPrecondition((*process)->WaitForPortFile(Deadline()).status()));
}

TEST(ManagedProcessTest, StalePortFileIsRemovedAtStart) {
  WriteFile(ScratchDir() + "/restarted.port", "1111\n");
  auto process = StartShell("restarted", "exec sleep 1000", /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> port = (*process)->WaitForPortFile(Deadline(absl::Milliseconds(100)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(port.status())) << port.status();
}

// Starts a child shell that spawns a grandchild `sleep`, and returns the grandchild's
// pid through a file written atomically in `dir`.
absl::StatusOr<pid_t> StartFamily(const std::string& name, const TempDir& dir,
                                  std::unique_ptr<ManagedProcess>& out) {
  auto process = StartShell(
      name, R"(sleep 1000 & echo $! > "$DIR/gc.tmp" && mv "$DIR/gc.tmp" "$DIR/gc.pid"; wait)",
      /*port_file=*/false, {"DIR=" + dir.path()});
  if (!process.ok()) return process.status();
  out = std::move(*process);
  std::string content;
  bool written = PollUntil(
      [&] {
        absl::StatusOr<std::string> c = ReadFile(dir.Join("gc.pid"));
        if (c.ok()) content = *c;
        return c.ok();
      },
      Deadline());
  if (!written) return absl::DeadlineExceededError("no gc.pid");
  pid_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(content), &pid)) {
    return absl::DataLossError(content);
  }
  return pid;
}

TEST(ManagedProcessTest, KillTakesTheWholeProcessGroup) {
  absl::StatusOr<TempDir> dir = TempDir::Create("family");
  ASSERT_TRUE(dir.ok()) << dir.status();
  std::unique_ptr<ManagedProcess> process;
  absl::StatusOr<pid_t> grandchild = StartFamily("family", *dir, process);
  ASSERT_TRUE(grandchild.ok()) << grandchild.status();
  ASSERT_EQ(kill(*grandchild, 0), 0);
  ASSERT_EQ(getpgid(*grandchild), process->pid());
  ASSERT_FALSE(GoneFromGroup(*grandchild, process->pid()));

  ASSERT_TRUE(process->Kill().ok());
  absl::StatusOr<ExitStatus> exit = process->Wait(Deadline());
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->exited);
  EXPECT_EQ(exit->signal, SIGKILL) << exit->ToString();
  EXPECT_TRUE(PollUntil([&] { return GoneFromGroup(*grandchild, process->pid()); }, Deadline()))
      << "grandchild " << *grandchild << " survived";
}

TEST(ManagedProcessTest, DestructorKillsTheWholeProcessGroup) {
  absl::StatusOr<TempDir> dir = TempDir::Create("family");
  ASSERT_TRUE(dir.ok()) << dir.status();
  pid_t pgid = 0;
  absl::StatusOr<pid_t> grandchild;
  {
    std::unique_ptr<ManagedProcess> process;
    grandchild = StartFamily("orphaned-family", *dir, process);
    ASSERT_TRUE(grandchild.ok()) << grandchild.status();
    pgid = process->pid();
    ASSERT_FALSE(GoneFromGroup(*grandchild, pgid));
    ASSERT_FALSE(GoneFromGroup(pgid, pgid));
  }
  EXPECT_TRUE(GoneFromGroup(pgid, pgid));  // reaped by the destructor
  EXPECT_TRUE(PollUntil([&] { return GoneFromGroup(*grandchild, pgid); }, Deadline()))
      << "grandchild " << *grandchild << " survived";
}

TEST(ManagedProcessTest, OutputAndEnvironmentGoToTheLog) {
  auto process = StartShell("chatty", "echo to-stdout; echo to-stderr >&2; echo v=$HARNESS_V; exit 3",
                            /*port_file=*/false, {"HARNESS_V=from-env"});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE(absl::StartsWith((*process)->log_path(), OutputDir() + "/"));
  absl::StatusOr<ExitStatus> exit = (*process)->Wait(Deadline());
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->success());
  absl::StatusOr<std::string> log = (*process)->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(absl::StrContains(*log, "harness starts: /bin/sh -c")) << *log;
  EXPECT_TRUE(absl::StrContains(*log, "to-stdout\n")) << *log;
  EXPECT_TRUE(absl::StrContains(*log, "to-stderr\n")) << *log;
  EXPECT_TRUE(absl::StrContains(*log, "v=from-env\n")) << *log;
}

TEST(ManagedProcessTest, RestartAppendsToTheSameLog) {
  for (int run = 0; run < 2; ++run) {
    auto process = StartShell("twice", absl::StrCat("echo run-", run));
    ASSERT_TRUE(process.ok()) << process.status();
    absl::StatusOr<ExitStatus> exit = (*process)->Wait(Deadline());
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->success()) << exit->ToString();
  }
  absl::StatusOr<std::string> log = ReadFile(OutputDir() + "/twice.log");
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(absl::StrContains(*log, "run-0\n")) << *log;
  EXPECT_TRUE(absl::StrContains(*log, "run-1\n")) << *log;
}

TEST(ManagedProcessTest, WaitHonoursDeadlineAndReportsSignal) {
  auto process = StartShell("sleeper", "exec sleep 1000");
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_TRUE(
      absl::IsDeadlineExceeded((*process)->Wait(Deadline(absl::Milliseconds(50))).status()));
  ASSERT_TRUE((*process)->Kill(SIGTERM).ok());
  absl::StatusOr<ExitStatus> exit = (*process)->Wait();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->signal, SIGTERM) << exit->ToString();
  EXPECT_FALSE((*process)->Running());
  // Reaped: waiting again returns the same, and killing an empty group is fine.
  exit = (*process)->Wait(Deadline());
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_TRUE((*process)->Kill().ok());
}

TEST(ManagedProcessTest, StartReportsBadInput) {
  ProcessOptions missing;
  missing.name = "missing";
  missing.binary = "/nonexistent/ferry-binary";
  auto process = ManagedProcess::Start(missing);
  EXPECT_TRUE(absl::IsNotFound(process.status())) << process.status();

  ProcessOptions relative = missing;
  relative.binary = "bin/sh";
  EXPECT_TRUE(absl::IsInvalidArgument(ManagedProcess::Start(relative).status()));

  ProcessOptions bad_name = missing;
  bad_name.name = "../escape";
  bad_name.binary = "/bin/sh";
  EXPECT_TRUE(absl::IsInvalidArgument(ManagedProcess::Start(bad_name).status()));

  auto first = StartShell("unique", "exec sleep 1000");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::IsAlreadyExists(StartShell("unique", "exit 0").status()));
  first->reset();  // the name is free again once the first is gone
  EXPECT_TRUE(StartShell("unique", "exit 0").ok());
}

// An in-process server with gRPC's default health service on 127.0.0.1:0.
struct HealthServer {
  explicit HealthServer(std::shared_ptr<grpc::ServerCredentials> credentials =
                            grpc::InsecureServerCredentials()) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port);
    // gRPC refuses to start a server without a service of its own; this one answers
    // UNIMPLEMENTED to every method the health service does not own.
    builder.RegisterCallbackGenericService(&unimplemented);
    server = builder.BuildAndStart();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  int port = 0;
  grpc::CallbackGenericService unimplemented;
  std::unique_ptr<grpc::Server> server;
};

TEST(WaitHealthyTest, FollowsTheServingStatus) {
  HealthServer health;
  ASSERT_NE(health.server, nullptr);
  ASSERT_GT(health.port, 0);
  absl::Status status = WaitHealthy(health.address(), kPlaintext, Deadline());
  EXPECT_TRUE(status.ok()) << status;

  health.server->GetHealthCheckService()->SetServingStatus(false);
  absl::Time start = absl::Now();
  status = WaitHealthy(health.address(), kPlaintext, start + absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "NOT_SERVING")) << status;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));

  // Becomes SERVING while (or before) the harness polls.
  std::thread flip([&] { health.server->GetHealthCheckService()->SetServingStatus(true); });
  status = WaitHealthy(health.address(), kPlaintext, Deadline());
  flip.join();
  EXPECT_TRUE(status.ok()) << status;

  const std::string address = health.address();
  health.server->Shutdown();
  health.server.reset();
  status = WaitHealthy(address, kPlaintext, Deadline(absl::Milliseconds(300)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "rpc error")) << status;
}

// ferry's daemons serve health over mTLS only: the harness checks it with a certificate.
TEST(WaitHealthyTest, SpeaksMutualTlsWithTheGivenCertificate) {
  const std::string certs = ScratchDir() + "/certs";
  absl::Status generated = auth::GenerateTestCerts(certs, {"--cluster", "a"});
  ASSERT_TRUE(generated.ok()) << generated;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server_credentials =
      auth::ServerCredentials(auth::TestTlsConfig(certs, "a-copyd"));
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> client_credentials =
      auth::ChannelCredentials(auth::TestTlsConfig(certs, "a-controller"));
  ASSERT_TRUE(server_credentials.ok() && client_credentials.ok());
  HealthServer health(*server_credentials);
  ASSERT_NE(health.server, nullptr);
  absl::Status status = WaitHealthy(health.address(), *client_credentials, Deadline());
  EXPECT_TRUE(status.ok()) << status;
  status = WaitHealthy(health.address(), kPlaintext, Deadline(absl::Milliseconds(300)));
  EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "rpc error 14")) << status;  // UNAVAILABLE
}

TEST(WaitServingTest, WantsHealthCredentials) {
  ProcessOptions options;
  options.name = "no-credentials";
  options.binary = "/bin/sh";
  options.args = {"-c", "exec sleep 1000"};
  auto process = ManagedProcess::Start(std::move(options));
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> address = (*process)->WaitServing(Deadline());
  EXPECT_TRUE(absl::IsFailedPrecondition(address.status())) << address.status();
  EXPECT_TRUE(absl::StrContains(address.status().message(), "health_credentials"))
      << address.status();
}

TEST(WaitServingTest, ReturnsTheAddressOfAHealthyChild) {
  ProcessOptions options;
  options.name = "health-server";
  options.binary = RunfilePath("tests/harness/process_harness_test");
  options.args = {"--serve_health"};
  options.port_file = true;
  options.health_credentials = kPlaintext;
  auto process = ManagedProcess::Start(options);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> address = (*process)->WaitServing(Deadline());
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_TRUE(absl::StartsWith(*address, "127.0.0.1:")) << *address;
  EXPECT_TRUE(WaitHealthy(*address, kPlaintext, Deadline()).ok());
}

TEST(WaitServingTest, FailsWhenTheChildExitsBeforeServing) {
  auto process = StartShell(
      "port-then-exit",
      R"(p=${1#--port_file=}; printf '1\n' > "$p.tmp" && mv "$p.tmp" "$p"; echo bye; exit 5)",
      /*port_file=*/true);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> address = (*process)->WaitServing(Deadline(absl::Seconds(50)));
  EXPECT_TRUE(absl::IsFailedPrecondition(address.status())) << address.status();
  EXPECT_TRUE(absl::StrContains(address.status().message(), "exit code 5"))
      << address.status();
}

// ------------------------------------------------------------------- TempDir, files

TEST(TempDirTest, RemovesEverythingOnDestruction) {
  std::string path;
  {
    absl::StatusOr<TempDir> dir = TempDir::Create("removed");
    ASSERT_TRUE(dir.ok()) << dir.status();
    path = dir->path();
    EXPECT_TRUE(absl::StartsWith(path, ScratchDir() + "/removed."));
    ASSERT_EQ(mkdir(dir->Join("a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(dir->Join("a/locked").c_str(), 0755), 0);
    WriteFile(dir->Join("a/locked/f"), "x");
    ASSERT_EQ(symlink("/nonexistent", dir->Join("a/dangling").c_str()), 0);
    ASSERT_EQ(chmod(dir->Join("a/locked").c_str(), 0), 0);
    TempDir moved = std::move(*dir);
    EXPECT_TRUE(dir->path().empty());
    EXPECT_EQ(moved.path(), path);
  }
  struct stat st;
  EXPECT_NE(lstat(path.c_str(), &st), 0) << path << " still exists";
}

TEST(TempDirTest, RejectsPrefixWithSlash) {
  EXPECT_TRUE(absl::IsInvalidArgument(TempDir::Create("a/b").status()));
}

TEST(ReadFileTest, ReadsContentAndReportsMissingFile) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  std::string content(200000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  WriteFile(dir->Join("f"), content);
  absl::StatusOr<std::string> read = ReadFile(dir->Join("f"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, content);
  EXPECT_TRUE(absl::IsNotFound(ReadFile(dir->Join("missing")).status()));
}

class CompareTreesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> a = TempDir::Create("a");
    absl::StatusOr<TempDir> b = TempDir::Create("b");
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = std::make_unique<TempDir>(std::move(*a));
    b_ = std::make_unique<TempDir>(std::move(*b));
    for (const TempDir* dir : {a_.get(), b_.get()}) {
      ASSERT_EQ(mkdir(dir->Join("d").c_str(), 0755), 0);
      ASSERT_EQ(mkdir(dir->Join("d/e").c_str(), 0755), 0);
      ASSERT_EQ(mkdir(dir->Join("empty_dir").c_str(), 0755), 0);
      WriteFile(dir->Join("d/e/big"), std::string(100000, 'z'));
      WriteFile(dir->Join("empty"), "");
      ASSERT_EQ(symlink("d/e/big", dir->Join("link").c_str()), 0);
    }
  }
  std::unique_ptr<TempDir> a_, b_;
};

TEST_F(CompareTreesTest, EqualTreesCompareEqual) {
  absl::Status status = CompareTrees(a_->path(), b_->path());
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(CompareTreesTest, ReportsFirstDifferingByte) {
  std::string changed(100000, 'z');
  changed[70000] = 'y';
  WriteFile(b_->Join("d/e/big"), changed);
  absl::Status status = CompareTrees(a_->path(), b_->path());
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "d/e/big: contents differ at byte 70000"))
      << status;
}

TEST_F(CompareTreesTest, ReportsTruncatedFile) {
  WriteFile(b_->Join("d/e/big"), std::string(65536, 'z'));
  absl::Status status = CompareTrees(a_->path(), b_->path());
  EXPECT_TRUE(absl::StrContains(status.message(), "at byte 65536 (size 100000 vs 65536)"))
      << status;
}

TEST_F(CompareTreesTest, ReportsMissingAndExtraEntries) {
  ASSERT_EQ(rmdir(b_->Join("empty_dir").c_str()), 0);
  absl::Status status = CompareTrees(a_->path(), b_->path());
  EXPECT_EQ(status.message(), "only in " + a_->path() + ": empty_dir") << status;
  ASSERT_EQ(mkdir(b_->Join("empty_dir").c_str(), 0755), 0);
  WriteFile(b_->Join("d/extra"), "");
  status = CompareTrees(a_->path(), b_->path());
  EXPECT_EQ(status.message(), "only in " + b_->path() + ": d/extra") << status;
}

TEST_F(CompareTreesTest, ReportsSymlinkTargetAndTypeDifferences) {
  ASSERT_EQ(unlink(b_->Join("link").c_str()), 0);
  ASSERT_EQ(symlink("d/e/other", b_->Join("link").c_str()), 0);
  absl::Status status = CompareTrees(a_->path(), b_->path());
  EXPECT_TRUE(absl::StrContains(status.message(), "link: symlink targets differ")) << status;
  ASSERT_EQ(unlink(b_->Join("link").c_str()), 0);
  WriteFile(b_->Join("link"), "");
  status = CompareTrees(a_->path(), b_->path());
  EXPECT_EQ(status.message(), "link: symlink vs regular file") << status;
}

// Serves gRPC's default health service on 127.0.0.1:0 and writes the port to the file
// named by --port_file=, the way ferry's servers do; runs until killed.
int ServeHealth(int argc, char** argv) {
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--port_file=")) port_file = std::string(arg);
  }
  HealthServer health;
  if (health.server == nullptr || port_file.empty()) return 2;
  std::string tmp = port_file + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr || fprintf(f, "%d\n", health.port) < 0 || fclose(f) != 0 ||
      rename(tmp.c_str(), port_file.c_str()) != 0) {
    return 3;
  }
  health.server->Wait();
  return 0;
}

}  // namespace
}  // namespace ferry::harness

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--serve_health") {
    return ferry::harness::ServeHealth(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
