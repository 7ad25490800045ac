// The lifecycle rules of lifecycle.md: when a source's interaction data
// expires (tiered policy) or is deleted (legacy policy), and the per-source
// state that the rules need.
//
// This class decides; the engine carries out (moves tiers in the store,
// updates the graph, runs restore jobs).
//
// Thread safety: not synchronised; the engine serialises access.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "common/time.hpp"
#include "retarget/config.hpp"
#include "retarget/identity.hpp"

namespace retarget {


struct SourceLifecycle {
  Tier tier = Tier::kLive;
  sdk::Timestamp restored_at = sdk::kNoTime;      // when the last restore completed
  sdk::Timestamp pin_released_at = sdk::kNoTime;  // when the last pin was released
  sdk::Timestamp tier_changed_at = sdk::kNoTime;  // when it expired / was deleted
};

// What the clock rule says about one source now.
struct ExpiryInfo {
  bool active = false;
  bool pinned = false;
  sdk::Timestamp last_activity = sdk::kNoTime;
  std::string last_activity_reason;      // "stopped", "last message sent", "restored", "pin released"
  sdk::Timestamp due = sdk::kNoTime;     // kNoTime: never (active, pinned, or no activity)
  sdk::Timestamp next_sweep = sdk::kNoTime;  // the first scheduled sweep at or after `due`
};

// The facts about a source the rules need, gathered by the engine.
struct SourceFacts {
  LifecycleStatus status = LifecycleStatus::kDraft;
  sdk::Timestamp stopped_at = sdk::kNoTime;
  sdk::Timestamp last_sent = sdk::kNoTime;
  bool pinned = false;
};

class LifecyclePolicy {
 public:
  LifecyclePolicy(const Config& config, TimeZone zone);

  // "HH:MM" of the daily sweep, in the company time zone; invalid -> error.
  static bool parse_schedule(const std::string& text, int& minutes_of_day);

  ExpiryInfo expiry(const SourceFacts& facts, const SourceLifecycle& state) const;
  // Legacy: the instant from which an unpinned, inactive source with this
  // last send is deleted (last send + 25 calendar months), or kNoTime.
  sdk::Timestamp legacy_deletion_due(const SourceFacts& facts) const;
  bool legacy() const { return legacy_; }
  std::int64_t window_ms() const { return window_ms_; }
  // The first scheduled sweep at or after `t`.
  sdk::Timestamp next_sweep(sdk::Timestamp t) const;

 private:
  std::int64_t window_ms_;
  bool legacy_;
  int sweep_minute_ = 3 * 60;
  TimeZone zone_;
};

}  // namespace retarget
