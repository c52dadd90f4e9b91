// Tests of the ferry CLI against the generated gMock stub of CopyService: no server, no
// network, no sleeping (the clock jumps to the end of every wait).
#include "tools/ferry/cli.h"

#include <array>
#include <deque>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/test/mock_stream.h"
#include "gtest/gtest.h"
#include "proto/copy_service_mock.grpc.pb.h"
#include "tools/ferry/cp_command.h"
#include "tools/ferry/sample_transfers.h"

namespace ferry::cli {
namespace {

using ferry::v1::CreateTransferRequest;
using ferry::v1::Transfer;
using ferry::v1::TransferEvent;
using ferry::v1::TransferState;
using ::testing::_;
using ::testing::AllOf;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::IsEmpty;
using ::testing::NiceMock;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StartsWith;
using ::testing::StrictMock;
using EventReader = grpc::testing::MockClientReader<TransferEvent>;

constexpr const char* kId = kSampleId;
const grpc::Status kUnavailable(grpc::StatusCode::UNAVAILABLE, "connection refused");

// A clock whose waits return at once, having moved time to their deadline: the CLI is
// single-threaded, so nothing else could satisfy the condition meanwhile.
class InstantClock : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  bool AwaitWithDeadline(absl::Mutex*, const absl::Condition& cond,
                         absl::Time deadline) const override {
    if (cond.Eval()) return true;
    EXPECT_NE(deadline, absl::InfiniteFuture()) << "would wait forever";
    if (deadline > now_) {
      slept_ += deadline - now_;
      now_ = deadline;
    }
    return cond.Eval();
  }
  absl::Duration slept() const { return slept_; }

 private:
  mutable absl::Time now_ = absl::FromUnixSeconds(1700000000);
  mutable absl::Duration slept_;
};

Transfer MakeTransfer(TransferState state) { return SampleTransfer(state); }
Transfer Succeeded() { return SampleSucceeded(); }

Transfer Failed() {
  Transfer t = MakeTransfer(ferry::v1::TRANSFER_STATE_FAILED);
  t.mutable_progress()->set_files_failed(1);
  t.add_errors()->set_code(7);
  t.mutable_errors(0)->set_path("secret");
  t.mutable_errors(0)->set_message("no READ grant");
  return t;
}

constexpr const char* kSucceededLine = kSampleSucceededLine;

// A WatchTransfer stream that yields `transfers` as events, then ends with `end`. Owned
// by the caller (the CLI's unique_ptr).
EventReader* StreamOf(std::vector<Transfer> transfers, grpc::Status end = grpc::Status::OK) {
  auto* reader = new NiceMock<EventReader>();
  auto events = std::make_shared<std::deque<Transfer>>(transfers.begin(), transfers.end());
  ON_CALL(*reader, Read(_)).WillByDefault([events](TransferEvent* event) {
    if (events->empty()) return false;
    *event->mutable_transfer() = events->front();
    events->pop_front();
    return true;
  });
  ON_CALL(*reader, Finish()).WillByDefault(Return(end));
  return reader;
}

auto Stream(std::vector<Transfer> transfers, grpc::Status end = grpc::Status::OK) {
  return [transfers, end](grpc::ClientContext*, const ferry::v1::WatchTransferRequest&) {
    return StreamOf(transfers, end);
  };
}

auto Reply(const Transfer& transfer) {
  return DoAll(testing::SetArgPointee<2>(transfer), Return(grpc::Status::OK));
}

class CliTest : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    CliEnvironment environment;
    environment.out = &out_;
    environment.err = &err_;
    environment.clock = &clock_;
    environment.err_is_terminal = err_is_terminal_;
    environment.controller_from_env = controller_from_env_;
    environment.tls_dir_from_env = tls_dir_from_env_;
    environment.connect = [this](const std::string& address, const auth::TlsConfig& tls)
        -> absl::StatusOr<ferry::v1::CopyService::StubInterface*> {
      connected_to_.push_back(address);
      tls_ = tls;
      return &stub_;
    };
    return Cli(environment).Run(args);
  }

  // `ferry --controller=... cp ARGS...`
  int Cp(std::vector<std::string> args) {
    args.insert(args.begin(), {"--controller=ctl:1", "cp"});
    return Run(args);
  }

  void ExpectCreateReturns(const Transfer& transfer) {
    EXPECT_CALL(stub_, CreateTransfer(_, _, _))
        .WillOnce(DoAll(SaveArg<1>(&request_), testing::SetArgPointee<2>(transfer),
                        Return(grpc::Status::OK)));
  }

  StrictMock<ferry::v1::MockCopyServiceStub> stub_;
  InstantClock clock_;
  std::ostringstream out_;
  std::ostringstream err_;
  bool err_is_terminal_ = false;
  std::string controller_from_env_;
  std::string tls_dir_from_env_ = "/home/alice/.ferry";
  std::vector<std::string> connected_to_;
  auth::TlsConfig tls_;  // As last passed to connect.
  CreateTransferRequest request_;
};

TEST_F(CliTest, CpWaitsThroughWatchAndPrintsOneResultLine) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(Stream({MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING), Succeeded()}));
  EXPECT_EQ(Cp({"-r", "local:/src", "local:/dst/"}), kExitOk);
  EXPECT_EQ(out_.str(), kSucceededLine);
  EXPECT_EQ(err_.str(), "");  // Not a terminal: no progress line.
  EXPECT_THAT(connected_to_, testing::ElementsAre("ctl:1"));
}

TEST_F(CliTest, CpBuildsTheRequestFromFlags) {
  ExpectCreateReturns(Succeeded());
  EXPECT_EQ(Cp({"--recursive", "--overwrite=update", "--priority", "guaranteed", "--label",
                "team=search", "--label=env=prod", "--dry-run", "--request_id=nightly-1",
                "local:/src", "local:/dst", "far:/copy"}),
            kExitOk);
  EXPECT_EQ(request_.request_id(), "nightly-1");
  EXPECT_EQ(request_.source().cluster(), "local");
  EXPECT_EQ(request_.source().path(), "/src");
  ASSERT_EQ(request_.destinations_size(), 2);
  EXPECT_EQ(request_.destinations(1).cluster(), "far");
  EXPECT_EQ(request_.destinations(1).path(), "/copy");
  EXPECT_TRUE(request_.recursive());
  EXPECT_TRUE(request_.dry_run());
  EXPECT_EQ(request_.overwrite(), ferry::v1::OVERWRITE_POLICY_UPDATE);
  EXPECT_EQ(request_.priority(), ferry::v1::PRIORITY_CLASS_GUARANTEED);
  EXPECT_EQ(request_.labels().at("team"), "search");
  EXPECT_EQ(request_.labels().at("env"), "prod");
  EXPECT_TRUE(request_.preserve().mode());
  EXPECT_TRUE(request_.preserve().mtime());
}

TEST_F(CliTest, CpDefaults) {
  ExpectCreateReturns(Succeeded());
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitOk);
  EXPECT_THAT(request_.request_id(), StartsWith("cli-"));
  EXPECT_FALSE(request_.recursive());
  EXPECT_FALSE(request_.dry_run());
  EXPECT_EQ(request_.overwrite(), ferry::v1::OVERWRITE_POLICY_NEVER);
  EXPECT_EQ(request_.priority(), ferry::v1::PRIORITY_CLASS_BATCH);
  EXPECT_TRUE(request_.preserve().mode());
  EXPECT_TRUE(request_.preserve().mtime());
}

// What --preserve, --no-preserve and -H send, as {mode, mtime, owner, hard_links}.
class CpPreserveTest
    : public CliTest,
      public ::testing::WithParamInterface<
          std::pair<std::vector<std::string>, std::array<bool, 4>>> {};

TEST_P(CpPreserveTest, SendsThePreservedSet) {
  const auto& [flags, expected] = GetParam();
  std::vector<std::string> args = flags;
  args.insert(args.end(), {"local:/src", "local:/dst"});
  ExpectCreateReturns(Succeeded());
  ASSERT_EQ(Cp(args), kExitOk) << err_.str();
  const ferry::v1::PreserveFlags& preserve = request_.preserve();
  EXPECT_EQ((std::array<bool, 4>{preserve.mode(), preserve.mtime(), preserve.owner(),
                                 preserve.hard_links()}),
            expected);
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CpPreserveTest,
    ::testing::Values(
        std::make_pair(std::vector<std::string>{}, std::array<bool, 4>{true, true, false, false}),
        std::make_pair(std::vector<std::string>{"--preserve=owner"},
                       std::array<bool, 4>{true, true, true, false}),
        std::make_pair(std::vector<std::string>{"--preserve=owner,hard_links"},
                       std::array<bool, 4>{true, true, true, true}),
        std::make_pair(std::vector<std::string>{"--preserve", "owner", "--preserve=hard-links"},
                       std::array<bool, 4>{true, true, true, true}),
        std::make_pair(std::vector<std::string>{"-H"},
                       std::array<bool, 4>{true, true, false, true}),
        std::make_pair(std::vector<std::string>{"--hard-links"},
                       std::array<bool, 4>{true, true, false, true}),
        std::make_pair(std::vector<std::string>{"--preserve=all"},
                       std::array<bool, 4>{true, true, true, true}),
        std::make_pair(std::vector<std::string>{"--no-preserve=mtime"},
                       std::array<bool, 4>{true, false, false, false}),
        std::make_pair(std::vector<std::string>{"--no-preserve=all"},
                       std::array<bool, 4>{false, false, false, false}),
        // A name beats `all` of the other flag, whatever the order.
        std::make_pair(std::vector<std::string>{"--preserve=mode", "--no-preserve=all"},
                       std::array<bool, 4>{true, false, false, false}),
        std::make_pair(std::vector<std::string>{"--no-preserve=all", "-H"},
                       std::array<bool, 4>{false, false, false, true}),
        std::make_pair(std::vector<std::string>{"--no-preserve=owner", "--preserve=all"},
                       std::array<bool, 4>{true, true, false, true})));

TEST_F(CliTest, CpRetriesCreateWithTheSameRequestId) {
  std::vector<std::string> request_ids;
  auto record = [&request_ids](const CreateTransferRequest& request) {
    request_ids.push_back(request.request_id());
  };
  EXPECT_CALL(stub_, CreateTransfer(_, _, _))
      .WillOnce(DoAll(testing::WithArg<1>(record), Return(kUnavailable)))
      .WillOnce(DoAll(testing::WithArg<1>(record),
                      Return(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "slow"))))
      .WillOnce(DoAll(testing::WithArg<1>(record), Return(kUnavailable)))
      .WillOnce(DoAll(testing::WithArg<1>(record), Reply(Succeeded())));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitOk);
  ASSERT_EQ(request_ids.size(), 4u);
  EXPECT_THAT(request_ids[0], StartsWith("cli-"));
  EXPECT_THAT(request_ids, testing::Each(request_ids[0]));
  // Backoff: 250 ms, 500 ms, 1 s ceilings, each jittered down to half at most.
  EXPECT_GE(clock_.slept(), absl::Milliseconds(875));
  EXPECT_LE(clock_.slept(), absl::Milliseconds(1750));
  EXPECT_EQ(out_.str(), kSucceededLine);
}

TEST_F(CliTest, CpGivesUpOnAnUnreachableControllerAndNamesTheCode) {
  EXPECT_CALL(stub_, CreateTransfer(_, _, _)).WillRepeatedly(Return(kUnavailable));
  EXPECT_EQ(Cp({"--request_id=r1", "local:/src", "local:/dst"}), kExitFailure);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("CreateTransfer failed: UNAVAILABLE"),
                                HasSubstr("request_id r1")));
  EXPECT_EQ(out_.str(), "");
  EXPECT_GE(clock_.slept(), kCreateRetryBudget);
  EXPECT_LE(clock_.slept(), kCreateRetryBudget + absl::Seconds(1));
}

TEST_F(CliTest, CpTimeoutBoundsCreateRetries) {
  EXPECT_CALL(stub_, CreateTransfer(_, _, _)).WillRepeatedly(Return(kUnavailable));
  EXPECT_EQ(Cp({"--timeout=5s", "local:/src", "local:/dst"}), kExitFailure);
  EXPECT_EQ(clock_.slept(), absl::Seconds(5));
}

TEST_F(CliTest, CpDoesNotRetryPermanentErrors) {
  EXPECT_CALL(stub_, CreateTransfer(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no WRITE on /dst")));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("PERMISSION_DENIED: no WRITE on /dst"));
  EXPECT_EQ(clock_.slept(), absl::ZeroDuration());
}

TEST_F(CliTest, CpFailedTransferExitsOneWithTheFirstError) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _)).WillOnce(Stream({Failed()}));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitFailure);
  EXPECT_EQ(out_.str(),
            "FAILED t-0000000000000042 local:/src -> local:/dst: 1 file failed; first error: "
            "PERMISSION_DENIED \"secret\": no READ grant\n");
}

TEST_F(CliTest, CpCancelledTransferExitsOne) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(Stream({MakeTransfer(ferry::v1::TRANSFER_STATE_CANCELLED)}));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitFailure);
  EXPECT_THAT(out_.str(), StartsWith("CANCELLED t-0000000000000042"));
}

TEST_F(CliTest, CpAlreadyFinishedTransferIsNotWatched) {
  ExpectCreateReturns(Succeeded());  // E.g. an idempotent re-run of a finished copy.
  EXPECT_EQ(Cp({"--request_id=done", "local:/src", "local:/dst"}), kExitOk);
  EXPECT_EQ(out_.str(), kSucceededLine);
}

TEST_F(CliTest, CpReWatchesAfterABrokenStream) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(Stream({MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING)}, kUnavailable))
      .WillOnce(Stream({}, kUnavailable))
      .WillOnce(Stream({MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING)}))  // Ends early.
      .WillOnce(Stream({Succeeded()}));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitOk);
  EXPECT_EQ(out_.str(), kSucceededLine);
  EXPECT_GT(clock_.slept(), absl::ZeroDuration());
}

TEST_F(CliTest, CpPollsGetTransferWhenWatchIsUnimplemented) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(Stream({}, grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "")));
  EXPECT_CALL(stub_, GetTransfer(_, _, _))
      .WillOnce(Reply(MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING)))
      .WillOnce(Return(kUnavailable))
      .WillOnce(Reply(Succeeded()));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitOk);
  EXPECT_EQ(out_.str(), kSucceededLine);
}

TEST_F(CliTest, CpTimeoutWhileWaitingExitsOneAndSaysTheTransferGoesOn) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillRepeatedly(Stream({MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING)}, kUnavailable));
  EXPECT_EQ(Cp({"--timeout=1m", "local:/src", "local:/dst"}), kExitFailure);
  EXPECT_THAT(err_.str(), AllOf(HasSubstr("DEADLINE_EXCEEDED"),
                                HasSubstr("ferry status t-0000000000000042")));
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(clock_.slept(), absl::Minutes(1));
}

TEST_F(CliTest, CpWatchErrorIsFinal) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(Stream({}, grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not yours")));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("PERMISSION_DENIED: not yours"));
}

TEST_F(CliTest, CpNoWaitPrintsTheAcceptedTransfer) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_EQ(Cp({"--no-wait", "local:/src", "local:/dst"}), kExitOk);
  EXPECT_EQ(out_.str(),
            "PENDING t-0000000000000042 local:/src -> local:/dst: submitted; follow it with: "
            "ferry status t-0000000000000042\n");
}

TEST_F(CliTest, CpJsonPrintsTheFinalTransfer) {
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  EXPECT_CALL(stub_, WatchTransferRaw(_, _)).WillOnce(Stream({Failed()}));
  EXPECT_EQ(Cp({"--json", "local:/src", "local:/dst"}), kExitFailure);
  const std::string out = out_.str();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1);  // Exactly one line.
  Transfer parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &parsed).ok()) << out;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, Failed()));
}

TEST_F(CliTest, CpShowsProgressOnATerminal) {
  err_is_terminal_ = true;
  Transfer running = MakeTransfer(ferry::v1::TRANSFER_STATE_RUNNING);
  running.mutable_progress()->set_files_done(7);
  running.mutable_progress()->set_files_total(9);
  ExpectCreateReturns(MakeTransfer(ferry::v1::TRANSFER_STATE_PENDING));
  ferry::v1::WatchTransferRequest watch;
  EXPECT_CALL(stub_, WatchTransferRaw(_, _))
      .WillOnce(DoAll(SaveArg<1>(&watch), Invoke(Stream({running, Succeeded()}))));
  EXPECT_EQ(Cp({"local:/src", "local:/dst"}), kExitOk);
  EXPECT_EQ(watch.id(), kId);
  EXPECT_THAT(err_.str(), HasSubstr("\r\033[Kt-0000000000000042 RUNNING 7/9+ files"));
  EXPECT_THAT(err_.str(), testing::EndsWith("\r\033[K"));  // Cleared before the result.
  EXPECT_EQ(out_.str(), kSucceededLine);
}

TEST_F(CliTest, StatusPrintsTheTransfer) {
  ferry::v1::GetTransferRequest request;
  EXPECT_CALL(stub_, GetTransfer(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&request), Reply(Succeeded())));
  EXPECT_EQ(Run({"--controller=ctl:1", "status", kId}), kExitOk);
  EXPECT_EQ(request.id(), kId);
  EXPECT_THAT(out_.str(), AllOf(StartsWith("t-0000000000000042  SUCCEEDED\n"),
                                HasSubstr("local:/src -> local:/dst")));
}

TEST_F(CliTest, StatusJson) {
  EXPECT_CALL(stub_, GetTransfer(_, _, _)).WillOnce(Reply(Failed()));
  EXPECT_EQ(Run({"status", "--json", kId, "--controller", "ctl:1"}), kExitOk);
  Transfer parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out_.str(), &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, Failed()));
}

TEST_F(CliTest, StatusRetriesUnavailableThenReportsNotFound) {
  EXPECT_CALL(stub_, GetTransfer(_, _, _))
      .WillOnce(Return(kUnavailable))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such transfer")));
  EXPECT_EQ(Run({"--controller=ctl:1", "status", "t-9"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("GetTransfer t-9: NOT_FOUND: no such transfer"));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CliTest, ControllerFlagWinsOverEnvironment) {
  controller_from_env_ = "env:1";
  EXPECT_CALL(stub_, GetTransfer(_, _, _)).WillRepeatedly(Reply(Succeeded()));
  EXPECT_EQ(Run({"status", kId}), kExitOk);
  EXPECT_EQ(Run({"--controller=flag:1", "status", kId}), kExitOk);
  EXPECT_EQ(Run({"--controller=early:1", "status", kId, "--controller=late:1"}), kExitOk);
  EXPECT_THAT(connected_to_, testing::ElementsAre("env:1", "flag:1", "late:1"));
}

TEST_F(CliTest, CertificatesComeFromFerryTlsDir) {
  EXPECT_CALL(stub_, GetTransfer(_, _, _)).WillOnce(Reply(Succeeded()));
  EXPECT_EQ(Run({"--controller=ctl:1", "status", kId}), kExitOk);
  EXPECT_EQ(tls_.files.ca, "/home/alice/.ferry/ca.pem");
  EXPECT_EQ(tls_.files.cert, "/home/alice/.ferry/user.pem");
  EXPECT_EQ(tls_.files.key, "/home/alice/.ferry/user.key");
  EXPECT_FALSE(tls_.insecure_plaintext_unsafe);
}

TEST_F(CliTest, CertificateFlagsWinOverFerryTlsDirAndLateOverEarly) {
  EXPECT_CALL(stub_, GetTransfer(_, _, _)).WillRepeatedly(Reply(Succeeded()));
  EXPECT_EQ(Run({"--controller=ctl:1", "--tls_cert=/early.pem", "--tls-key=/k.key", "status",
                 kId, "--tls_cert=/late.pem"}),
            kExitOk);
  EXPECT_EQ(tls_.files.ca, "/home/alice/.ferry/ca.pem");
  EXPECT_EQ(tls_.files.cert, "/late.pem");
  EXPECT_EQ(tls_.files.key, "/k.key");
  EXPECT_EQ(Run({"--controller=ctl:1", "status", kId, "--insecure_plaintext_unsafe"}), kExitOk);
  EXPECT_TRUE(tls_.insecure_plaintext_unsafe);
}

TEST_F(CliTest, NoCertificateAtAllIsAUsageError) {
  tls_dir_from_env_ = "";
  EXPECT_EQ(Run({"--controller=ctl:1", "status", kId}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("no certificate: pass --tls_ca, --tls_cert and "
                                    "--tls_key, or set FERRY_TLS_DIR"));
  EXPECT_THAT(connected_to_, IsEmpty());
}

// What gRPC says when the controller refuses the certificate (see auth/README.md).
const grpc::Status kSocketClosed(grpc::StatusCode::UNAVAILABLE,
                                 "failed to connect to all addresses; last error: "
                                 "UNAVAILABLE: ipv4:127.0.0.1:7000: Socket closed");

TEST_F(CliTest, RefusedHandshakeEndsTheFirstCallWithAHint) {
  EXPECT_CALL(stub_, CreateTransfer(_, _, _)).Times(2).WillRepeatedly(Return(kSocketClosed));
  EXPECT_EQ(Cp({"local:/a", "local:/b"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("Socket closed; the TLS handshake with the controller "
                                    "failed: check --tls_ca, --tls_cert and --tls_key"));
  EXPECT_LT(clock_.slept(), absl::Seconds(1));  // One backoff, not a minute of retries.
}

TEST_F(CliTest, OneClosedSocketIsRetriedLikeAnyOutage) {
  EXPECT_CALL(stub_, GetTransfer(_, _, _))
      .WillOnce(Return(kSocketClosed))
      .WillOnce(Return(kUnavailable))
      .WillOnce(Return(kSocketClosed))
      .WillOnce(Reply(Succeeded()));
  EXPECT_EQ(Run({"--controller=ctl:1", "status", kId}), kExitOk);
  EXPECT_THAT(err_.str(), Not(HasSubstr("TLS handshake")));
}

// Usage errors: exit 2, a message on stderr, nothing on stdout, no RPC (StrictMock).
class UsageErrorTest
    : public CliTest,
      public ::testing::WithParamInterface<std::pair<std::vector<std::string>, std::string>> {
};

TEST_P(UsageErrorTest, ExitsTwoWithAClearMessage) {
  controller_from_env_ = "env:1";
  const auto& [args, message] = GetParam();
  EXPECT_EQ(Run(args), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr(message));
  EXPECT_THAT(err_.str(), HasSubstr("--help' for usage"));
  EXPECT_EQ(out_.str(), "");
}

INSTANTIATE_TEST_SUITE_P(
    BadCommandLines, UsageErrorTest,
    ::testing::Values(
        std::make_pair(std::vector<std::string>{}, "ferry: missing command"),
        std::make_pair(std::vector<std::string>{"copy"}, "ferry: unknown command \"copy\""),
        std::make_pair(std::vector<std::string>{"--bogus", "cp"}, "unknown flag --bogus"),
        std::make_pair(std::vector<std::string>{"help", "nope"}, "unknown command \"nope\""),
        std::make_pair(
            std::vector<std::string>{"cp", "/src", "local:/dst"},
            "ferry cp: source \"/src\": missing cluster: write it as cluster:/path"),
        std::make_pair(std::vector<std::string>{"cp", "local:src", "local:/dst"},
                       "path must be absolute"),
        std::make_pair(std::vector<std::string>{"cp", "local:/src", "local:"},
                       "destination \"local:\": empty path"),
        std::make_pair(std::vector<std::string>{"cp", "local:/a/../b", "local:/dst"},
                       "'.' or '..' components"),
        std::make_pair(std::vector<std::string>{"cp", "Local:/a", "local:/dst"},
                       "must start with a lowercase letter"),
        std::make_pair(std::vector<std::string>{"cp", "local:/src"},
                       "needs a source and at least one destination"),
        std::make_pair(std::vector<std::string>{"cp", "-x", "local:/a", "local:/b"},
                       "unknown flag -x"),
        std::make_pair(std::vector<std::string>{"cp", "--overwrite=sometimes", "local:/a",
                                                "local:/b"},
                       "invalid value \"sometimes\" for --overwrite"),
        std::make_pair(std::vector<std::string>{"cp", "--priority", "local:/a", "local:/b"},
                       "invalid value \"local:/a\" for --priority"),
        std::make_pair(std::vector<std::string>{"cp", "--label=NoEquals", "local:/a",
                                                "local:/b"},
                       "write it as KEY=VALUE"),
        std::make_pair(std::vector<std::string>{"cp", "--label=Bad=1", "local:/a", "local:/b"},
                       "--label key \"Bad\""),
        std::make_pair(std::vector<std::string>{"cp", "--label=a=1", "--label=a=2", "local:/a",
                                                "local:/b"},
                       "given twice"),
        std::make_pair(std::vector<std::string>{"cp", "--timeout=soon", "local:/a",
                                                "local:/b"},
                       "--timeout \"soon\""),
        std::make_pair(std::vector<std::string>{"cp", "--timeout=-1s", "local:/a", "local:/b"},
                       "positive duration"),
        std::make_pair(std::vector<std::string>{"cp", "--request_id=", "local:/a", "local:/b"},
                       "--request_id must be 1-128"),
        std::make_pair(std::vector<std::string>{"cp", "--preserve=mode,timestamps", "local:/a",
                                                "local:/b"},
                       "--preserve: unknown attribute \"timestamps\"; use a comma-separated "
                       "list of mode, mtime, owner, hard-links, all"),
        std::make_pair(std::vector<std::string>{"cp", "--no-preserve=", "local:/a", "local:/b"},
                       "--no-preserve: unknown attribute \"\""),
        std::make_pair(std::vector<std::string>{"cp", "--preserve", "local:/a", "local:/b"},
                       "unknown attribute \"local:/a\""),
        std::make_pair(std::vector<std::string>{"cp", "-H", "--no-preserve=hard_links",
                                                "local:/a", "local:/b"},
                       "hard-links is named by both --preserve and --no-preserve"),
        std::make_pair(std::vector<std::string>{"cp", "--preserve=all", "--no-preserve=all",
                                                "local:/a", "local:/b"},
                       "--preserve=all and --no-preserve=all contradict"),
        std::make_pair(std::vector<std::string>{"status"}, "needs exactly one transfer ID"),
        std::make_pair(std::vector<std::string>{"status", "a", "b"},
                       "needs exactly one transfer ID")));

TEST_F(CliTest, MissingControllerIsAUsageError) {
  EXPECT_EQ(Run({"cp", "local:/a", "local:/b"}), kExitUsage);
  EXPECT_THAT(err_.str(),
              HasSubstr("no controller: pass --controller=HOST:PORT or set FERRY_CONTROLLER"));
  EXPECT_THAT(connected_to_, IsEmpty());
}

TEST_F(CliTest, BadPathIsReportedBeforeAMissingController) {
  EXPECT_EQ(Run({"cp", "src", "local:/b"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("missing cluster"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("no controller")));
}

void ExpectFitsInEightyColumns(const std::string& text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

TEST_F(CliTest, TopLevelHelp) {
  for (auto args : {std::vector<std::string>{"--help"}, {"-h"}, {"help"}}) {
    out_.str("");
    EXPECT_EQ(Run(args), kExitOk);
    EXPECT_THAT(out_.str(),
                AllOf(HasSubstr("Usage: ferry [--controller=HOST:PORT] COMMAND"),
                      HasSubstr("  cp "), HasSubstr("  status "), HasSubstr("cluster:/path"),
                      HasSubstr("FERRY_CONTROLLER"), HasSubstr("Exit status")));
    ExpectFitsInEightyColumns(out_.str());
  }
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CliTest, CpHelpExplainsEveryFlag) {
  for (auto args : {std::vector<std::string>{"cp", "--help"},
                    {"help", "cp"},
                    {"cp", "-h"},
                    {"--help", "cp"}}) {
    out_.str("");
    EXPECT_EQ(Run(args), kExitOk);
    const std::string help = out_.str();
    EXPECT_THAT(help, StartsWith("Usage: ferry cp [flags] SRC DST [DST...]\n"));
    for (const FlagSpec& flag : CpCommand().flags) {
      EXPECT_THAT(help, HasSubstr("--" + flag.name)) << flag.name;
      for (const std::string& choice : flag.choices) EXPECT_THAT(help, HasSubstr(choice));
    }
    EXPECT_THAT(help, AllOf(HasSubstr("-r, --recursive"), HasSubstr("--controller=HOST:PORT"),
                            HasSubstr("cluster:/path"), HasSubstr("Examples:"),
                            HasSubstr("ferry cp -r local:/data/logs local:/backup/logs")));
    ExpectFitsInEightyColumns(help);
  }
}

TEST_F(CliTest, StatusHelp) {
  EXPECT_EQ(Run({"help", "status"}), kExitOk);
  EXPECT_THAT(out_.str(),
              AllOf(StartsWith("Usage: ferry status [--json] ID\n"), HasSubstr("--json")));
  ExpectFitsInEightyColumns(out_.str());
}

}  // namespace
}  // namespace ferry::cli
