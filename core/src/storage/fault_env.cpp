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
    Status s = env_.charge(bytes.size(), path_);
    if (!s.ok()) return s;
    env_.written(path_, offset, bytes.size());
    return base_->write_at(offset, bytes);
  }
  Status truncate(std::uint64_t size) override { return base_->truncate(size); }
  Status sync() override {
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
  auto f = base_->new_writable(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard lock(mu_);
    synced_[path] = 0;
    unsynced_names_.insert(path);
  }
  return std::unique_ptr<WritableFile>(new FaultFile(*this, path, std::move(f).value()));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::reopen_for_append(const std::string& path) {
  auto f = base_->reopen_for_append(path);
  if (!f.ok()) return f.status();
  {
    std::lock_guard lock(mu_);
    if (!synced_.count(path)) synced_[path] = (*f)->size();  // what was there is durable
  }
  return std::unique_ptr<WritableFile>(new FaultFile(*this, path, std::move(f).value()));
}

Status FaultInjectionEnv::rename(const std::string& from, const std::string& to) {
  Status s = base_->rename(from, to);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
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
  Status s = base_->remove(path);
  std::lock_guard lock(mu_);
  synced_.erase(path);
  unsynced_names_.erase(path);
  return s;
}

Status FaultInjectionEnv::sync_dir(const std::string& dir) {
  if (fail_syncs_) return Status::IoError("cannot sync directory '" + dir + "': Input/output error (injected)");
  Status s = base_->sync_dir(dir);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  for (auto it = unsynced_names_.begin(); it != unsynced_names_.end();)
    it = dir_of(*it) == dir ? unsynced_names_.erase(it) : std::next(it);
  return s;
}

void FaultInjectionEnv::drop_unsynced() {
  std::lock_guard lock(mu_);
  for (const auto& path : unsynced_names_) base_->remove(path);
  for (const auto& [path, size] : synced_)
    if (!unsynced_names_.count(path) && base_->exists(path)) {
      // Writes since the last sync are lost: over old bytes (the disk held
      // zeros there: a log's preallocated runway) and past the synced end.
      auto ranges = unsynced_ranges_.find(path);
      if (ranges != unsynced_ranges_.end()) {
        auto f = base_->reopen_for_append(path);
        if (f.ok())
          for (const auto& [off, len] : ranges->second)
            if (off < size) (*f)->write_at(off, std::string(std::min(len, size - off), '\0'));
      }
      auto now = base_->file_size(path);
      if (now.ok() && *now > size) base_->truncate(path, size);
    }
  for (const auto& path : unsynced_names_) synced_.erase(path);
  unsynced_names_.clear();
  unsynced_ranges_.clear();
}

}  // namespace retarget::storage
