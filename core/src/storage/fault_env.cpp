#include "storage/fault_env.hpp"

#include <filesystem>

namespace retarget::storage {
namespace {

std::string dir_of(const std::string& path) {
  std::string d = std::filesystem::path(path).parent_path().string();
  return d.empty() ? "." : d;
}

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectionEnv& env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status append(std::string_view bytes) override { return write_at(base_->size(), bytes); }
  Status write_at(std::uint64_t offset, std::string_view bytes) override {
    Status s = env_.change("write", path_);
    if (s.ok()) s = env_.charge(bytes.size(), path_);
    if (!s.ok()) return s;
    env_.written(path_, offset, bytes.size());
    return base_->write_at(offset, bytes);
  }
  Status truncate(std::uint64_t size) override {
    Status s = env_.change("truncate", path_);
    return s.ok() ? base_->truncate(size) : s;
  }
  Status sync() override {
    Status c = env_.change("sync", path_);
    if (!c.ok()) return c;
    if (env_.syncs_fail()) return Status::IoError("cannot sync '" + path_ + "': Input/output error (injected)");
    Status s = base_->sync();
    if (s.ok()) env_.synced(path_, base_->size());
    return s;
  }
  Status close() override { return base_->close(); }
  std::uint64_t size() const override { return base_->size(); }

 private:
  FaultInjectionEnv& env_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectionEnv::crash_after(std::uint64_t ops) {
  crashed_ = false;
  changes_left_ = static_cast<std::int64_t>(ops);
}

Status FaultInjectionEnv::change(const char* what, const std::string& path) {
  if (!crashed_ && changes_left_.load() >= 0 && changes_left_.fetch_sub(1) <= 0) crashed_ = true;
  if (crashed_) return Status::IoError(std::string("cannot ") + what + " '" + path + "': the process crashed (injected)");
  ++changes_;
  return Status::Ok();
}

Status FaultInjectionEnv::truncate(const std::string& path, std::uint64_t size) {
  Status s = change("truncate", path);
  return s.ok() ? base_->truncate(path, size) : s;
}

Status FaultInjectionEnv::create_dirs(const std::string& dir) {
  Status s = change("create", dir);
  return s.ok() ? base_->create_dirs(dir) : s;
}

void FaultInjectionEnv::set_space_limit(std::int64_t bytes) {
  std::lock_guard lock(mu_);
  space_left_ = bytes;
}

Status FaultInjectionEnv::charge(std::size_t bytes, const std::string& path) {
  std::lock_guard lock(mu_);
  if (space_left_ >= 0) {
    if (static_cast<std::int64_t>(bytes) > space_left_) {
      space_left_ = 0;
      return Status::IoError("cannot write '" + path + "': No space left on device (injected)");
    }
    space_left_ -= static_cast<std::int64_t>(bytes);
  }
  written_ += bytes;
  return Status::Ok();
}

void FaultInjectionEnv::synced(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(mu_);
  synced_[path] = size;
  unsynced_ranges_.erase(path);
}

void FaultInjectionEnv::written(const std::string& path, std::uint64_t offset, std::uint64_t length) {
  std::lock_guard lock(mu_);
  unsynced_ranges_[path].emplace_back(offset, length);
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::new_writable(const std::string& path) {
  Status c = change("create", path);
  if (!c.ok()) return c;
  bool existed = base_->exists(path);
  auto f = base_->new_writable(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard lock(mu_);
    synced_[path] = 0;
    if (!existed) unsynced_names_.insert(path);  // (an existing name stays; its bytes go back to none)
  }
  return std::unique_ptr<WritableFile>(new FaultFile(*this, path, std::move(f).value()));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::reopen_for_append(const std::string& path) {
  if (crashed_) return Status::IoError("cannot open '" + path + "': the process crashed (injected)");
  auto f = base_->reopen_for_append(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard lock(mu_);
    if (!synced_.count(path)) synced_[path] = (*f)->size();  // what was there is durable
  }
  return std::unique_ptr<WritableFile>(new FaultFile(*this, path, std::move(f).value()));
}

Status FaultInjectionEnv::rename(const std::string& from, const std::string& to) {
  Status c = change("rename", from);
  if (!c.ok()) return c;
  std::string old;
  bool replaces_durable = false;
  {
    std::lock_guard lock(mu_);
    if (base_->exists(to) && !unsynced_names_.count(to) && !replaced_.count(to)) {
      auto bytes = base_->read_file(to);
      if (bytes.ok()) old = std::string((*bytes)->view()), replaces_durable = true;
    }
  }
  Status s = base_->rename(from, to);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  if (replaces_durable) replaced_[to] = std::move(old);
  auto it = synced_.find(from);
  if (it != synced_.end()) {
    synced_[to] = it->second;
    synced_.erase(it);
  }
  unsynced_names_.erase(from);
  unsynced_names_.insert(to);  // the new name is durable once its directory is synced
  return s;
}

Status FaultInjectionEnv::remove(const std::string& path) {
  Status c = change("remove", path);
  if (!c.ok()) return c;
  Status s = base_->remove(path);
  std::lock_guard lock(mu_);
  synced_.erase(path);
  unsynced_names_.erase(path);
  return s;
}

Status FaultInjectionEnv::sync_dir(const std::string& dir) {
  Status c = change("sync", dir);
  if (!c.ok()) return c;
  if (fail_syncs_) return Status::IoError("cannot sync directory '" + dir + "': Input/output error (injected)");
  Status s = base_->sync_dir(dir);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  for (auto it = unsynced_names_.begin(); it != unsynced_names_.end();)
    it = dir_of(*it) == dir ? unsynced_names_.erase(it) : std::next(it);
  for (auto it = replaced_.begin(); it != replaced_.end();)
    it = dir_of(it->first) == dir ? replaced_.erase(it) : std::next(it);
  return s;
}

void FaultInjectionEnv::drop_unsynced() {
  std::lock_guard lock(mu_);
  // The simulated crash works on the real files below; a step that fails there
  // leaves the test's directory in a state the test's own checks then report.
  for (const auto& path : unsynced_names_) (void)base_->remove(path);
  // A rename the directory never recorded: the name holds its old file.
  for (const auto& [path, bytes] : replaced_) {
    auto f = base_->new_writable(path);
    if (f.ok()) {
      Status s = (*f)->append(bytes);
      if (s.ok()) s = (*f)->sync();
      if (s.ok()) s = (*f)->close();
      (void)s;
    }
    synced_.erase(path);
    unsynced_ranges_.erase(path);
  }
  replaced_.clear();
  for (const auto& [path, size] : synced_)
    if (!unsynced_names_.count(path) && base_->exists(path)) {
      // Writes since the last sync are lost: over old bytes (the disk held
      // zeros there: a log's preallocated runway) and past the synced end.
      auto ranges = unsynced_ranges_.find(path);
      if (ranges != unsynced_ranges_.end()) {
        auto f = base_->reopen_for_append(path);
        if (f.ok())
          for (const auto& [off, len] : ranges->second)
            if (off < size) (void)(*f)->write_at(off, std::string(std::min(len, size - off), '\0'));
      }
      auto now = base_->file_size(path);
      if (now.ok() && *now > size) (void)base_->truncate(path, size);
    }
  for (const auto& path : unsynced_names_) synced_.erase(path);
  unsynced_names_.clear();
  unsynced_ranges_.clear();
}

}  // namespace retarget::storage
