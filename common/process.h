// Startup and shutdown shared by ferry's daemons (controller, copyd, bwbroker).
//
// InitDaemon parses absl flags, sends glog output to stderr (the harness and the demo
// capture it into log files), and blocks SIGTERM/SIGINT in every thread created later,
// so that WaitForTerminationSignal in main is the one place that receives them and can
// shut the servers down in order. Call InitDaemon first thing in main, before any
// thread exists.
#ifndef FERRY_COMMON_PROCESS_H_
#define FERRY_COMMON_PROCESS_H_

#include <string>
#include <vector>

namespace ferry {

// Returns the positional arguments left after flag parsing (argv[0] excluded).
std::vector<std::string> InitDaemon(int argc, char** argv, const char* usage);

// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace ferry

#endif  // FERRY_COMMON_PROCESS_H_
