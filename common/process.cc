#include "common/process.h"

#include <pthread.h>
#include <signal.h>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"

namespace ferry {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

std::vector<std::string> InitDaemon(int argc, char** argv, const char* usage) {
  absl::SetProgramUsageMessage(usage);
  // Abseil's lock-order graph costs a hash-map update per Mutex operation (a few
  // percent of copyd's CPU per small file); tests keep it, daemons do not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  google::InstallFailureSignalHandler();
  sigset_t set = TerminationSignals();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  CHECK_EQ(rc, 0) << "pthread_sigmask";
  signal(SIGPIPE, SIG_IGN);
  return std::vector<std::string>(rest.begin() + 1, rest.end());
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  int signal_number = 0;
  while (sigwait(&set, &signal_number) != 0) {
  }
  return signal_number;
}

}  // namespace ferry
