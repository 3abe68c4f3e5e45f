// The daemon's wiring: config → store → group writer → publisher → pipeline → HTTP server,
// started in that order and drained in reverse on SIGTERM/SIGINT.
#pragma once

#include <string>

namespace sb {

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean drain,
// 1 when something could not start, 2 for an invalid config.
int run_daemon(const std::string& config_path);

// The command line: --config, --check-config, --version, --help.
int run_cli(int argc, char** argv);

}  // namespace sb
