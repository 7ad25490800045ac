// The builder's state as a checkpoint writes and reads it: columns (each
// whole, by identity), per-source statistics and analytics, the users and
// event hashes added since the last checkpoint.
//
// Thread safety: plain values; the columns they point to are immutable.
#pragma once

#include <roaring/roaring.hh>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "index/index.hpp"
#include "index/hash_set.hpp"

namespace retarget {

struct SourceAnalytics {
  std::uint64_t sends = 0, opens = 0, clicks = 0, conversions = 0;
  Roaring recipients, control;  // distinct users
};

struct ColumnImage {
  enum class Kind : std::uint8_t {
    kFact = 0,          // an interaction fact of `source`
    kSummary = 1,       // a profile summary
    kNewsFeed = 2,      // news feed view counts
    kAttributeValues = 3,
    kAttributeTimes = 4,  // the time of each user's latest attributes state (set or unset)
    kFlagStates = 5,      // per user: time * 2 + enabled, of the latest state
    kFlagEnabled = 6,     // what readers see: the enabled users and the state's time
    kLateFact = 7,        // a fact of an expired `source` that arrived while its base was being archived, or after
  };
  Kind kind = Kind::kFact;
  std::string source;  // kFact: its source key
  std::string key;     // fact or summary key string; attribute or flag name; "" for the news feed
  std::shared_ptr<const sdk::UserTimes> times;        // every kind but the two below
  std::shared_ptr<const sdk::UserCounts> counts;      // kNewsFeed
  std::shared_ptr<const sdk::UserAttributes> values;  // kAttributeValues

  // A stable name for the column (a checkpoint's section name).
  std::string id() const {
    std::string s(1, static_cast<char>('a' + static_cast<int>(kind)));
    s += '/';
    s += source;
    s += '\x1e';
    s += key;
    return s;
  }
};

struct SourceImage {
  std::string key;
  std::uint64_t records = 0;
  sdk::Timestamp last_sent = sdk::kNoTime;
  bool archived = false;
  bool resident = true;  // false: its columns are in its archive file
  bool deleted = false;  // legacy policy (IndexBuilder::SourceStats)
  std::uint64_t unpurged = 0;
};

struct BuilderImage {
  std::shared_ptr<const UserDirectory> users;
  UserIndex first_user = 0, end_user = 0;  // the users [first, end) not captured before
  std::vector<ColumnImage> columns;
  std::vector<SourceImage> sources;
  std::vector<std::pair<std::string, SourceAnalytics>> analytics;  // copies: the builder goes on changing
  std::vector<HashSet128::Key> new_hashes;
  bool hashes_complete = false;  // new_hashes holds every stored event's hash (a full capture)
};

}  // namespace retarget
