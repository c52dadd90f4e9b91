#include "auth/policy_store.h"

#include <signal.h>

#include <cstring>
#include <utility>

#include "auth/key_ring.h"
#include "glog/logging.h"

namespace ferry::auth {
namespace {

constexpr size_t kMaxPolicyFileBytes = 16 << 20;

sigset_t HangupOnly() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Authorizer>> LoadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      ReadConfigFile(path, kMaxPolicyFileBytes, FileSecrecy::kAnyReader);
  if (!text.ok()) return text.status();
  return Authorizer::FromText(*text, path);
}

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(std::string path) {
  absl::StatusOr<std::shared_ptr<const Authorizer>> initial = LoadPolicyFile(path);
  if (!initial.ok()) return initial.status();
  LOG(INFO) << "policy " << path << " loaded: " << (*initial)->grant_count() << " grants";
  return std::unique_ptr<PolicyStore>(new PolicyStore(std::move(path), *std::move(initial)));
}

PolicyStore::PolicyStore(std::string path, std::shared_ptr<const Authorizer> initial)
    : path_(std::move(path)), current_(std::move(initial)) {}

std::shared_ptr<const Authorizer> PolicyStore::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

absl::Status PolicyStore::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  absl::StatusOr<std::shared_ptr<const Authorizer>> next = LoadPolicyFile(path_);
  if (!next.ok()) {
    LOG(ERROR) << "policy reload failed, keeping the policy in force: "
               << next.status().message();
    return next.status();
  }
  LOG(INFO) << "policy " << path_ << " reloaded: " << (*next)->grant_count() << " grants";
  std::shared_ptr<const Authorizer> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(current_, *std::move(next));
  }
  return absl::OkStatus();  // `previous` is freed here, outside mu_.
}

SighupReloader::SighupReloader(std::function<void()> reload) : reload_(std::move(reload)) {
  const sigset_t set = HangupOnly();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Only fails for an invalid `how`: a programming error, not an input.
  CHECK_EQ(rc, 0) << "pthread_sigmask: " << strerror(rc);
  thread_ = std::thread([this] { Run(); });
}

SighupReloader::~SighupReloader() { Stop(); }

void SighupReloader::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const int rc = pthread_kill(thread_.native_handle(), SIGHUP);
  CHECK_EQ(rc, 0) << "pthread_kill: " << strerror(rc);
  thread_.join();
}

void SighupReloader::Run() {
  const sigset_t set = HangupOnly();
  for (;;) {
    int signal_number = 0;
    const int rc = sigwait(&set, &signal_number);
    if (rc != 0) {
      LOG(ERROR) << "sigwait(SIGHUP): " << strerror(rc);
      continue;
    }
    if (stopping_.load()) return;
    LOG(INFO) << "SIGHUP: reloading";
    reload_();
    reload_count_.fetch_add(1);
  }
}

}  // namespace ferry::auth
