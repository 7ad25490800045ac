// Profile-level filters: they read the profile summaries ingestion keeps and
// never interaction data (the host enforces it). Semantics: filters.md,
// "Profile-level filters".
#include <retarget/sdk/helpers.hpp>
#include <retarget/sdk/plugin.hpp>

namespace {

using namespace retarget::sdk;

// --- "t = last <something>" + a time predicate ------------------------------------

class LastTimeFilter final : public Filter {
 public:
  LastTimeFilter(SummaryKind kind, std::string arg, std::string what, TimePredicate when)
      : kind_(kind), arg_(std::move(arg)), what_(std::move(what)), when_(std::move(when)) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_time_chunk(ctx, ctx.profiles().times(kind_, arg_), when_, chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(ctx.profiles().times(kind_, arg_), user);
    return {when_.matches(t), what_ + ": " + format_time(t) + "; wanted " + when_.text};
  }

 private:
  SummaryKind kind_;
  std::string arg_, what_;
  TimePredicate when_;
};

class LastTimeFactory final : public FilterFactory {
 public:
  LastTimeFactory(std::string name, std::string description, SummaryKind kind, std::string arg, std::string what)
      : kind_(kind), arg_(std::move(arg)), what_(std::move(what)) {
    info_ = {std::move(name), std::move(description), "1.0.0", false,
             {{"time", ParamType::kTimePredicate, true, {}, "", "when it last happened"}},
             "{more_than_days_ago: 7}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<LastTimeFilter>(kind_, arg_, what_, *p.time_predicate());
  }

 private:
  FilterInfo info_;
  SummaryKind kind_;
  std::string arg_, what_;
};

// --- profile flags: `is` ----------------------------------------------------------

class FlagFilter final : public Filter {
 public:
  FlagFilter(std::string flag, bool is) : flag_(std::move(flag)), is_(is) {}
  void evaluate_chunk(const EvalContext& ctx, std::uint32_t chunk, ChunkBits& out) const override {
    match_presence_chunk(ctx, ctx.profiles().times(SummaryKind::kFlag, flag_), is_, chunk, out);
  }
  Verdict evaluate_user(const EvalContext& ctx, UserIndex user) const override {
    Timestamp t = time_of(ctx.profiles().times(SummaryKind::kFlag, flag_), user);
    bool set = t != kNoTime;
    return {set == is_, set ? flag_ + " reported at " + format_time(t) : "never reported " + flag_};
  }

 private:
  std::string flag_;
  bool is_;
};

class FlagFactory final : public FilterFactory {
 public:
  FlagFactory(std::string name, std::string description, std::string flag) : flag_(std::move(flag)) {
    info_ = {std::move(name), std::move(description), "1.0.0", false,
             {{"is", ParamType::kBool, false, {}, "true", "false: users without the flag"}}, "{is: true}"};
  }
  const FilterInfo& info() const override { return info_; }
  std::unique_ptr<Filter> create(const Params& p, CompileContext&) const override {
    return std::make_unique<FlagFilter>(flag_, p.boolean("is"));
  }

 private:
  FilterInfo info_;
  std::string flag_;
};

const LastTimeFactory kLastReceivedEmail("last_received_email",
                                         "Users by the time they last received an email (any campaign or Canvas)",
                                         SummaryKind::kLastReceived, "email", "last received email");
const FlagFactory kHardBounced("hard_bounced", "Users whose email hard bounced", "hard_bounced");

}  // namespace

RETARGET_PLUGIN("io.retarget.profile_filters", "1.0.0", &kLastReceivedEmail, &kHardBounced)
