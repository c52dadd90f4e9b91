#include "controller/lease_wait_list.h"

#include <memory>
#include <optional>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

constexpr absl::Duration kRealTimeout = absl::Seconds(30);

// A lease function whose answer the test sets: no task until Give().
class FakeLeases {
 public:
  LeaseWaitList::LeaseFn fn() {
    return [this](const v1::LeaseTasksRequest& request)
               -> absl::StatusOr<v1::LeaseTasksResponse> {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (!error_.ok()) return error_;
      v1::LeaseTasksResponse response;
      if (tasks_ > 0) {
        --tasks_;
        response.add_tasks()->set_task_id("task-for-" + request.worker_id());
      } else {
        response.set_retry_after_ms(200);
      }
      return response;
    };
  }
  void Give(int tasks) {
    absl::MutexLock lock(&mu_);
    tasks_ += tasks;
  }
  void Fail(absl::Status error) {
    absl::MutexLock lock(&mu_);
    error_ = std::move(error);
  }
  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  mutable absl::Mutex mu_;
  int tasks_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// One held call and its answer.
// Declared before the list in each test, so that the list (whose destructor answers
// the calls it still holds) is destroyed first.
struct Held {
  std::shared_ptr<LeaseWaitList::Call> call = std::make_shared<LeaseWaitList::Call>();
  absl::Notification answered;
  std::optional<absl::StatusOr<v1::LeaseTasksResponse>> answer;

  Held(const std::string& worker, absl::Time deadline) {
    call->request.set_worker_id(worker);
    call->request.set_max_tasks(1);
    call->deadline = deadline;
    call->done = [this](absl::StatusOr<v1::LeaseTasksResponse> result) {
      ASSERT_FALSE(answered.HasBeenNotified()) << "answered twice";
      answer = std::move(result);
      answered.Notify();
    };
  }
  bool Wait() { return answered.WaitForNotificationWithTimeout(kRealTimeout); }
};

class LeaseWaitListTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  FakeLeases leases_;
};

TEST_F(LeaseWaitListTest, AnswersAHeldCallOnceATaskIsRunnable) {
  Held held("w1", clock_.Now() + absl::Seconds(5));
  LeaseWaitList list(&clock_, leases_.fn());
  list.Hold(held.call);
  // Held calls try once at once; with nothing runnable, the call stays held.
  const absl::Time until = absl::Now() + kRealTimeout;
  while (leases_.calls() < 1 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_GE(leases_.calls(), 1);
  EXPECT_FALSE(held.answered.HasBeenNotified());
  EXPECT_EQ(list.held(), 1u);

  leases_.Give(1);
  list.Wake();
  ASSERT_TRUE(held.Wait());
  ASSERT_TRUE(held.answer->ok());
  ASSERT_EQ((*held.answer)->tasks_size(), 1);
  EXPECT_EQ((*held.answer)->tasks(0).task_id(), "task-for-w1");
  EXPECT_EQ(list.held(), 0u);
}

TEST_F(LeaseWaitListTest, OnlyAsManyCallsAsTasksAreAnswered) {
  Held first("w1", clock_.Now() + absl::Seconds(5));
  Held second("w2", clock_.Now() + absl::Seconds(5));
  // Destroyed before the calls: it answers the one still held.
  LeaseWaitList list(&clock_, leases_.fn());
  list.Hold(first.call);
  list.Hold(second.call);
  leases_.Give(1);
  list.Wake();
  ASSERT_TRUE(first.Wait());
  EXPECT_EQ((*first.answer)->tasks_size(), 1);
  EXPECT_FALSE(second.answered.HasBeenNotified());
  EXPECT_EQ(list.held(), 1u);
}

TEST_F(LeaseWaitListTest, AnswersEmptyWithNoBackoffWhenTheWaitEnds) {
  Held held("w1", clock_.Now() + absl::Seconds(5));
  LeaseWaitList list(&clock_, leases_.fn());
  list.Hold(held.call);
  clock_.Advance(absl::Seconds(4));
  EXPECT_FALSE(held.answered.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(held.Wait());
  ASSERT_TRUE(held.answer->ok());
  EXPECT_TRUE((*held.answer)->tasks().empty());
  EXPECT_EQ((*held.answer)->retry_after_ms(), 0);
}

TEST_F(LeaseWaitListTest, ACancelledCallEndsCancelledAtOnce) {
  Held held("w1", clock_.Now() + absl::Seconds(60));
  LeaseWaitList list(&clock_, leases_.fn());
  list.Hold(held.call);
  held.call->cancelled = true;
  list.Wake();
  ASSERT_TRUE(held.Wait());
  EXPECT_TRUE(absl::IsCancelled(held.answer->status())) << held.answer->status();
}

TEST_F(LeaseWaitListTest, ALeaseErrorReachesTheCall) {
  Held held("w1", clock_.Now() + absl::Seconds(60));
  LeaseWaitList list(&clock_, leases_.fn());
  leases_.Fail(absl::NotFoundError("worker_id: unknown"));
  list.Hold(held.call);
  ASSERT_TRUE(held.Wait());
  EXPECT_TRUE(absl::IsNotFound(held.answer->status())) << held.answer->status();
}

TEST_F(LeaseWaitListTest, AFullListAnswersAtOnceWithABackoff) {
  Held first("w1", clock_.Now() + absl::Seconds(60));
  Held second("w2", clock_.Now() + absl::Seconds(60));
  LeaseWaitList list(&clock_, leases_.fn(), /*max_calls=*/1);
  list.Hold(first.call);
  list.Hold(second.call);
  ASSERT_TRUE(second.answered.HasBeenNotified());  // On the caller's thread.
  ASSERT_TRUE(second.answer->ok());
  EXPECT_TRUE((*second.answer)->tasks().empty());
  EXPECT_EQ((*second.answer)->retry_after_ms(), LeaseWaitList::kFullRetryAfterMs);
  EXPECT_FALSE(first.answered.HasBeenNotified());
}

TEST_F(LeaseWaitListTest, DestructionEndsHeldCallsUnavailable) {
  Held held("w1", clock_.Now() + absl::Seconds(60));
  {
    LeaseWaitList list(&clock_, leases_.fn());
    list.Hold(held.call);
  }
  ASSERT_TRUE(held.answered.HasBeenNotified());
  EXPECT_TRUE(absl::IsUnavailable(held.answer->status())) << held.answer->status();
}

}  // namespace
}  // namespace ferry::controller
