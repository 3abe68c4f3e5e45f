#include "store/blob_store.hpp"

#include "channels/crypto.hpp"
#include "core/ids.hpp"
#include "core/mutex.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sb {

namespace {

namespace fs = std::filesystem;

// A file descriptor closed at scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

error io_error(std::string_view what, const std::string& path) {
  return {errc::unavailable, fmt::format("{} {}: {}", what, path, std::strerror(errno))};
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

result<void> fsync_path(const std::string& path, int flags) {
  fd_guard f{::open(path.c_str(), flags | O_CLOEXEC)};
  if (f.fd < 0) return io_error("cannot open", path);
  if (::fsync(f.fd) != 0) return io_error("cannot fsync", path);
  return {};
}

result<void> write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("cannot write", path);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

class local_blob_store final : public blob_store {
 public:
  explicit local_blob_store(std::string dir) : dir_(std::move(dir)) {}

  result<std::string> put(std::string_view bytes) override {
    std::string sha = sha256_hex(bytes);
    pin(sha);  // before the file is looked for: a remove() from now on leaves it
    auto written = write(bytes, sha);
    if (!written) {
      release(sha);
      return written.error();
    }
    return sha;
  }

  void release(std::string_view sha256) override {
    mutex_lock lock(m_);
    const auto it = pins_.find(std::string(sha256));
    if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  }

  std::string describe() const override { return dir_; }

 private:
  void pin(const std::string& sha) {
    mutex_lock lock(m_);
    ++pins_[sha];
  }

  // The content under `sha`, written unless it is there: to tmp/, fsynced, renamed into its
  // shard, the shard fsynced (and the top directory, for a new shard).
  result<void> write(std::string_view bytes, const std::string& sha) {
    const std::string shard = dir_ + "/" + sha.substr(0, 2);
    const std::string path = shard + "/" + sha;
    if (::access(path.c_str(), F_OK) == 0) return {};  // the same content, kept already
    if (::mkdir(shard.c_str(), 0700) == 0) {
      // A new shard: its name in the top directory must be durable before a file in it is.
      SB_TRY(synced, fsync_path(dir_, O_RDONLY | O_DIRECTORY));
    } else if (errno != EEXIST) {
      return io_error("cannot create", shard);
    }
    const std::string tmp = fmt::format("{}/tmp/{}", dir_, new_id());
    {
      fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
      if (f.fd < 0) return io_error("cannot create", tmp);
      auto written = write_all(f.fd, bytes, tmp);
      if (written && ::fsync(f.fd) != 0) written = io_error("cannot fsync", tmp);
      if (!written) {
        ::unlink(tmp.c_str());
        return written.error();
      }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      auto e = io_error("cannot rename into", path);
      ::unlink(tmp.c_str());
      return e;
    }
    return fsync_path(shard, O_RDONLY | O_DIRECTORY);
  }

 public:
  result<std::string> get(std::string_view sha256) const override {
    if (!is_sha256_hex(sha256)) return error{errc::not_found, "no such blob"};
    const std::string path = fmt::format("{}/{}/{}", dir_, sha256.substr(0, 2), sha256);
    fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) {
      if (errno == ENOENT) return error{errc::not_found, "the file is no longer kept"};
      return io_error("cannot open", path);
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return io_error("cannot stat", path);
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::read(f.fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return io_error("cannot read", path);
      done += static_cast<std::size_t>(n);
    }
    return out;
  }

  void remove(std::string_view sha256) override {
    if (!is_sha256_hex(sha256)) return;
    const std::string path = fmt::format("{}/{}/{}", dir_, sha256.substr(0, 2), sha256);
    mutex_lock lock(m_);  // a put pins before it looks for the file: either sees the other
    if (pins_.contains(std::string(sha256))) return;
    ::unlink(path.c_str());
  }

 private:
  std::string dir_;
  mutex m_;
  std::unordered_map<std::string, int> pins_ SB_GUARDED_BY(m_);  // content → puts pinning it
};

}  // namespace

result<std::unique_ptr<blob_store>> open_local_blob_store(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir + "/tmp", ec);
  if (ec)
    return error{errc::unavailable,
                 fmt::format("cannot create the attachment directory {}: {}", dir, ec.message())};
  ::chmod(dir.c_str(), 0700);
  // Leftovers of writes a crash interrupted: never renamed, so nothing names them.
  for (const auto& e : fs::directory_iterator(dir + "/tmp", ec)) fs::remove(e.path(), ec);
  return std::unique_ptr<blob_store>(std::make_unique<local_blob_store>(dir));
}

}  // namespace sb
