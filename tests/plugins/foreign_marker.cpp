// "Foreign code" for the plugin host's trust tests: a library whose
// constructor runs at load, before the host can look at its entry point, and
// leaves a mark in the file named by $RETARGET_TEST_FOREIGN_MARKER. A test
// that never finds the mark never loaded it. Otherwise a valid plugin
// (filter `foreign_filter`), so only the trust checks can keep it out.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include <retarget/sdk/plugin.hpp>

namespace {
using namespace retarget::sdk;

__attribute__((constructor)) void leave_mark() {
  const char* path = std::getenv("RETARGET_TEST_FOREIGN_MARKER");
  if (!path || !*path) return;
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  static const char kMark[] = "foreign code ran\n";
  ssize_t ignored = ::write(fd, kMark, sizeof kMark - 1);
  (void)ignored;
  ::close(fd);
}

class Nobody final : public Filter {
 public:
  void evaluate_chunk(const EvalContext&, std::uint32_t, ChunkBits&) const override {}
  Verdict evaluate_user(const EvalContext&, UserIndex) const override { return {false, "nobody"}; }
};
class NobodyFactory final : public FilterFactory {
 public:
  NobodyFactory() { info_ = {"foreign_filter", "Matches nobody (a test plugin)", "0.1.0", false, {}, "{}"}; }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params&, CompileContext&) const override { return std::make_unique<Nobody>(); }

 private:
  FilterInfo info_;
};
const NobodyFactory kNobody;
}  // namespace

RETARGET_PLUGIN("test.foreign_marker", "0.1.0", &kNobody)
