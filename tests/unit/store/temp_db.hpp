// A directory of its own for one test's database files, removed when the test ends.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace sb::test {

struct temp_db {
  temp_db() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("sb-store-test-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
  }
  ~temp_db() { std::filesystem::remove_all(dir); }
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;
  std::string path(const char* name = "store.db") const { return (dir / name).string(); }
  std::filesystem::path dir;
};

}  // namespace sb::test
