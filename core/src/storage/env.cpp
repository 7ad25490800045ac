#include "storage/env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace retarget::storage {
namespace {

Status io_error(const std::string& what, const std::string& path, int err = errno) {
  return Status::IoError(what + " '" + path + "': " + std::strerror(err));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, std::uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status append(std::string_view bytes) override { return write_at(size_, bytes); }
  Status write_at(std::uint64_t offset, std::string_view bytes) override {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    std::uint64_t at = offset;
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot write", path_);
      }
      p += n;
      at += static_cast<std::uint64_t>(n);
      left -= static_cast<std::size_t>(n);
    }
    size_ = std::max(size_, at);
    return Status::Ok();
  }
  Status truncate(std::uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return io_error("cannot truncate", path_);
    size_ = size;
    return Status::Ok();
  }
  Status sync() override {
    if (::fdatasync(fd_) != 0) return io_error("cannot sync", path_);
    return Status::Ok();
  }
  Status close() override {
    if (fd_ < 0) return Status::Ok();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return io_error("cannot close", path_);
    return Status::Ok();
  }
  std::uint64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> new_writable(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot create", path);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }
  Result<std::unique_ptr<WritableFile>> reopen_for_append(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return io_error("cannot stat", path);
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, static_cast<std::uint64_t>(st.st_size)));
  }
  Result<std::shared_ptr<FileBuffer>> read_file(const std::string& path) override {
    auto size = file_size(path);
    if (!size.ok()) return size.status();
    return read_range(path, 0, *size);
  }
  Result<std::shared_ptr<FileBuffer>> read_range(const std::string& path, std::uint64_t offset,
                                                 std::uint64_t length) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", path);
    auto buf = std::make_shared<FileBuffer>(static_cast<std::size_t>(length));
    std::uint64_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, buf->data() + done, static_cast<std::size_t>(length - done),
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return io_error("cannot read", path, err);
      }
      if (n == 0) break;
      done += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    if (done < length)
      return Status::IoError("'" + path + "' ended at byte " + std::to_string(offset + done) + ", before " +
                             std::to_string(offset + length));
    return buf;
  }
  Result<std::uint64_t> file_size(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return io_error("cannot stat", path);
    return static_cast<std::uint64_t>(st.st_size);
  }
  bool exists(const std::string& path) override {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }
  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename '" + from + "' to", to);
    return Status::Ok();
  }
  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
    return Status::Ok();
  }
  Status truncate(const std::string& path, std::uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) return io_error("cannot truncate", path);
    return Status::Ok();
  }
  Status create_dirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IoError("cannot create directory '" + dir + "': " + ec.message());
    return Status::Ok();
  }
  Status sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open directory", dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return io_error("cannot sync directory", dir, err);
    return Status::Ok();
  }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return io_error("cannot list", dir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot open", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Status::Failed("in use");
      return io_error("cannot lock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

Status write_file_atomically(Env& env, const std::string& path, std::string_view bytes) {
  std::string tmp = path + ".tmp";
  auto f = env.new_writable(tmp);
  if (!f.ok()) return f.status();
  Status s = (*f)->append(bytes);
  if (s.ok()) s = (*f)->sync();
  if (s.ok()) s = (*f)->close();
  if (s.ok()) s = env.rename(tmp, path);
  if (s.ok()) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    s = env.sync_dir(dir.empty() ? "." : dir);
  }
  if (!s.ok()) remove_unreferenced(env, tmp);
  return s;
}

void remove_unreferenced(Env& env, const std::string& path) { (void)env.remove(path); }

}  // namespace retarget::storage
