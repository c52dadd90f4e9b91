#include "tools/ferry/sample_transfers.h"

namespace ferry::cli {

ferry::v1::Transfer SampleTransfer(ferry::v1::TransferState state) {
  ferry::v1::Transfer t;
  t.set_id(kSampleId);
  t.set_state(state);
  t.mutable_source()->set_cluster("local");
  t.mutable_source()->set_path("/src");
  t.add_destinations()->set_cluster("local");
  t.mutable_destinations(0)->set_path("/dst");
  return t;
}

ferry::v1::Transfer SampleSucceeded() {
  ferry::v1::Transfer t = SampleTransfer(ferry::v1::TRANSFER_STATE_SUCCEEDED);
  t.mutable_progress()->set_files_total(203);
  t.mutable_progress()->set_files_done(203);
  t.mutable_progress()->set_bytes_total(67318579);
  t.mutable_progress()->set_bytes_done(67318579);
  t.mutable_create_time()->set_seconds(1700000000);
  t.mutable_end_time()->set_seconds(1700000003);
  t.mutable_end_time()->set_nanos(100000000);
  return t;
}

}  // namespace ferry::cli
