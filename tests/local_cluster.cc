#include "tests/local_cluster.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/test_certs.h"
#include "common/transfer_state.h"
#include "grpcpp/create_channel.h"

namespace ferry::e2e {
namespace {

using harness::ManagedProcess;
using harness::ProcessOptions;
using harness::RunfilePath;
using harness::TempDir;

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kRpcTimeout));
}

// Starts `options` and waits until it serves; returns the process and its address.
absl::StatusOr<std::pair<std::unique_ptr<ManagedProcess>, std::string>> StartServing(
    ProcessOptions options, absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<ManagedProcess>> process =
      ManagedProcess::Start(std::move(options));
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> address = (*process)->WaitServing(absl::Now() + timeout);
  if (!address.ok()) {
    absl::StatusOr<std::string> log = (*process)->ReadLog();
    return absl::Status(address.status().code(),
                        absl::StrCat((*process)->name(), ": ", address.status().message(),
                                     "\n", log.ok() ? *log : ""));
  }
  return std::make_pair(*std::move(process), *std::move(address));
}

}  // namespace

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t value = rng();
    memcpy(&data[i], &value, std::min<size_t>(8, size - i));
  }
  return data;
}

bool IsTerminal(const v1::Transfer& transfer) {
  return ferry::IsTerminal(transfer.state());
}

v1::CreateTransferRequest LocalCopyRequest(const std::string& request_id,
                                           const std::string& source_path,
                                           const std::string& destination_path) {
  v1::CreateTransferRequest request;
  request.set_request_id(request_id);
  request.mutable_source()->set_cluster("local");
  request.mutable_source()->set_path(source_path);
  v1::Location* destination = request.add_destinations();
  destination->set_cluster("local");
  destination->set_path(destination_path);
  request.set_recursive(true);
  return request;
}

absl::StatusOr<std::shared_ptr<TestCertificates>> TestCertificates::Create() {
  absl::StatusOr<TempDir> dir = TempDir::Create("certs");
  if (!dir.ok()) return dir.status();
  return std::shared_ptr<TestCertificates>(new TestCertificates(*std::move(dir)));
}

absl::Status TestCertificates::Generate(const std::vector<std::string>& args) {
  return auth::GenerateTestCerts(dir(), args);
}

auth::TlsConfig TestCertificates::Config(absl::string_view name) const {
  return auth::TestTlsConfig(dir(), name);
}

std::vector<std::string> TestCertificates::Flags(absl::string_view name) const {
  const auth::TlsConfig config = Config(name);
  return {absl::StrCat(auth::kCaFlag, "=", config.files.ca),
          absl::StrCat(auth::kCertFlag, "=", config.files.cert),
          absl::StrCat(auth::kKeyFlag, "=", config.files.key)};
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TestCertificates::ChannelCredentials(
    absl::string_view name) const {
  return auth::ChannelCredentials(Config(name));
}

absl::StatusOr<std::string> TestCertificates::CapabilityKeys() {
  const std::string path = absl::StrCat(dir(), "/capability.keys");
  struct stat info;
  if (stat(path.c_str(), &info) == 0) return path;
  std::random_device random;
  std::string secret;
  for (int i = 0; i < 8; ++i) absl::StrAppend(&secret, absl::Hex(random(), absl::kZeroPad8));
  if (absl::Status s = WriteFile(path, absl::StrCat("k1 ", secret, " signing\n")); !s.ok()) {
    return s;
  }
  if (chmod(path.c_str(), 0600) != 0) {
    return absl::InternalError(absl::StrCat("chmod ", path, ": ", strerror(errno)));
  }
  return path;
}

std::string DefaultTestPolicy(const std::string& user) {
  std::string policy;
  for (const char* cluster : {"local", "a", "b", "c"}) {
    absl::StrAppend(&policy, "grants { principals: \"ferry://user/", user, "\" cluster: \"",
                    cluster,
                    "\" path_prefix: \"/\" permissions: [PERMISSION_READ, "
                    "PERMISSION_WRITE] }\n");
  }
  absl::StrAppend(&policy, "admin_principals: \"ferry://user/", user, "\"\n");
  return policy;
}

std::string LocalCluster::policy_path() const {
  return absl::StrCat(options_.certificates->dir(), "/policy-", options_.name, ".textproto");
}

absl::Status LocalCluster::SetPolicy(absl::string_view text) {
  const std::string temp = policy_path() + ".tmp";
  if (absl::Status s = WriteFile(temp, text); !s.ok()) return s;
  if (rename(temp.c_str(), policy_path().c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", temp, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestCertificates::UserTlsDir(const std::string& user) {
  if (absl::Status added = AddUser(user); !added.ok()) return added;
  const std::string home = absl::StrCat(dir(), "/home-", user);
  if (mkdir(home.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("mkdir ", home, ": ", strerror(errno)));
  }
  const auth::TlsConfig config = Config("user-" + user);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{config.files.ca, "ca.pem"},
                                 {config.files.cert, "user.pem"},
                                 {config.files.key, "user.key"}}) {
    absl::StatusOr<std::string> content = harness::ReadFile(from);
    if (!content.ok()) return content.status();
    if (absl::Status s = WriteFile(absl::StrCat(home, "/", to), *content); !s.ok()) return s;
  }
  return home;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Create(ClusterOptions options) {
  if (options.certificates == nullptr) {
    absl::StatusOr<std::shared_ptr<TestCertificates>> made = TestCertificates::Create();
    if (!made.ok()) return made.status();
    options.certificates = *std::move(made);
  }
  TestCertificates& certificates = *options.certificates;
  if (absl::Status s = certificates.Generate({"--cluster", options.cluster, "--user",
                                              options.user});
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> user =
      certificates.ChannelCredentials("user-" + options.user);
  if (!user.ok()) return user.status();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> health =
      certificates.ChannelCredentials(options.cluster + "-controller");
  if (!health.ok()) return health.status();
  absl::StatusOr<TempDir> data_dir = TempDir::Create(options.name + "-controller-data");
  if (!data_dir.ok()) return data_dir.status();
  absl::StatusOr<TempDir> root = TempDir::Create(options.name + "-root");
  if (!root.ok()) return root.status();
  if (absl::Status s = certificates.CapabilityKeys().status(); !s.ok()) return s;
  if (options.policy.empty()) options.policy = DefaultTestPolicy(options.user);
  std::unique_ptr<LocalCluster> cluster(
      new LocalCluster(std::move(options), *std::move(data_dir), *std::move(root),
                       *std::move(user), *std::move(health)));
  if (absl::Status s = cluster->SetPolicy(cluster->options_.policy); !s.ok()) return s;
  return cluster;
}

absl::StatusOr<std::pair<std::unique_ptr<ManagedProcess>, std::string>>
LocalCluster::StartDaemon(ProcessOptions process, absl::string_view role,
                          const std::vector<std::string>& extra_flags) {
  process.args.push_back("--cluster=" + options_.cluster);
  for (std::string& flag :
       options_.certificates->Flags(absl::StrCat(options_.cluster, "-", role))) {
    process.args.push_back(std::move(flag));
  }
  // Every daemon enforces this cluster's policy and the shared keys.
  process.args.push_back("--policy=" + policy_path());
  absl::StatusOr<std::string> keys = options_.certificates->CapabilityKeys();
  if (!keys.ok()) return keys.status();
  process.args.push_back("--capability_keys=" + *keys);
  process.args.insert(process.args.end(), extra_flags.begin(), extra_flags.end());
  process.port_file = true;
  process.health_credentials = health_credentials_;
  return StartServing(std::move(process), options_.start_timeout);
}

LocalCluster::~LocalCluster() {
  // Workers first, so none of them logs a burst of errors about a vanished controller.
  copyds_.clear();
  controller_.reset();
}

absl::Status LocalCluster::StartController(int port) {
  if (controller_ != nullptr && controller_->Running()) {
    return absl::FailedPreconditionError("the controller is still running");
  }
  controller_.reset();
  ProcessOptions process;
  process.name = absl::StrCat(options_.name, "-controller-", ++starts_);
  process.binary = RunfilePath("controller/controller");
  process.args = {"--data_dir=" + data_dir_.path(), absl::StrCat("--listen=127.0.0.1:", port)};
  auto started = StartDaemon(std::move(process), "controller", options_.controller_flags);
  if (!started.ok()) return started.status();
  controller_ = std::move(started->first);
  controller_address_ = std::move(started->second);
  const size_t colon = controller_address_.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(controller_address_.substr(colon + 1), &controller_port_)) {
    return absl::InternalError(absl::StrCat("no port in ", controller_address_));
  }
  copy_service_ =
      v1::CopyService::NewStub(grpc::CreateChannel(controller_address_, user_credentials_));
  return absl::OkStatus();
}

absl::Status LocalCluster::StopController(int signal) {
  if (controller_ == nullptr) return absl::OkStatus();
  if (absl::Status s = controller_->Kill(signal); !s.ok()) return s;
  absl::StatusOr<harness::ExitStatus> exit =
      controller_->Wait(absl::Now() + options_.start_timeout);
  if (!exit.ok()) return exit.status();
  controller_.reset();
  return absl::OkStatus();
}

absl::Status LocalCluster::StartCopyd(int index) {
  if (controller_address_.empty()) {
    return absl::FailedPreconditionError("start the controller before copyd");
  }
  auto& slot = copyds_[index];
  if (slot != nullptr && slot->Running()) {
    return absl::FailedPreconditionError(absl::StrCat("copyd ", index, " is running"));
  }
  slot.reset();
  ProcessOptions process;
  process.name = absl::StrCat(options_.name, "-copyd-", index, "-", ++starts_);
  process.binary = RunfilePath(options_.copyd_binary);
  process.args = {"--controller=" + controller_address_, "--root=" + root_.path(),
                  "--listen=127.0.0.1:0",
                  absl::StrCat("--name=", options_.name, "-copyd-", index)};
  auto started = StartDaemon(std::move(process), "copyd", options_.copyd_flags);
  if (!started.ok()) return started.status();
  slot = std::move(started->first);
  copyd_addresses_[index] = std::move(started->second);
  return absl::OkStatus();
}

std::string LocalCluster::copyd_address(int index) const {
  auto copyd = copyds_.find(index);
  if (copyd == copyds_.end() || copyd->second == nullptr) return "";
  auto address = copyd_addresses_.find(index);
  return address == copyd_addresses_.end() ? "" : address->second;
}

absl::Status LocalCluster::StopCopyds(int signal, absl::Duration grace) {
  absl::Status result;
  for (auto& [index, copyd] : copyds_) {
    if (copyd == nullptr) continue;
    result.Update(copyd->Kill(signal));
  }
  const absl::Time deadline = absl::Now() + grace;
  for (auto& [index, copyd] : copyds_) {
    if (copyd == nullptr) continue;
    if (!copyd->Wait(deadline).ok()) {
      result.Update(copyd->Kill(SIGKILL));
      result.Update(copyd->Wait(absl::Now() + options_.start_timeout).status());
    }
  }
  copyds_.clear();
  copyd_addresses_.clear();
  return result;
}

absl::StatusOr<v1::Transfer> LocalCluster::CreateTransfer(
    const v1::CreateTransferRequest& request) {
  if (copy_service_ == nullptr) return absl::FailedPreconditionError("no controller");
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::Transfer transfer;
  absl::Status status =
      FromGrpc(copy_service_->CreateTransfer(&context, request, &transfer), "CreateTransfer");
  if (!status.ok()) return status;
  return transfer;
}

absl::StatusOr<v1::Transfer> LocalCluster::GetTransfer(const std::string& id) {
  if (copy_service_ == nullptr) return absl::FailedPreconditionError("no controller");
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetTransferRequest request;
  request.set_id(id);
  v1::Transfer transfer;
  absl::Status status =
      FromGrpc(copy_service_->GetTransfer(&context, request, &transfer), "GetTransfer");
  if (!status.ok()) return status;
  return transfer;
}

absl::StatusOr<std::vector<v1::Transfer>> LocalCluster::ListAllTransfers() {
  if (copy_service_ == nullptr) return absl::FailedPreconditionError("no controller");
  std::vector<v1::Transfer> all;
  v1::ListTransfersRequest request;
  request.set_all_users(true);
  request.set_page_size(1000);
  do {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListTransfersResponse response;
    absl::Status status = FromGrpc(
        copy_service_->ListTransfers(&context, request, &response), "ListTransfers");
    if (!status.ok()) return status;
    all.insert(all.end(), response.transfers().begin(), response.transfers().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return all;
}

absl::StatusOr<v1::Transfer> LocalCluster::WaitForTransfer(
    const std::string& id, const std::function<bool(const v1::Transfer&)>& done,
    absl::Time deadline, absl::Duration interval) {
  absl::Status last_error;
  v1::Transfer last;
  while (true) {
    absl::StatusOr<v1::Transfer> transfer = GetTransfer(id);
    if (transfer.ok()) {
      if (done(*transfer)) return transfer;
      last = *std::move(transfer);
    } else {
      last_error = transfer.status();
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(std::min(interval, deadline - absl::Now()));  // Poll, bounded.
  }
  return absl::DeadlineExceededError(
      absl::StrCat("transfer ", id, " did not reach the awaited state; last seen: ",
                   last.ShortDebugString(),
                   last_error.ok() ? "" : absl::StrCat("; last error: ", last_error.ToString())));
}

}  // namespace ferry::e2e
