// Typed results of the interaction-data surfaces (formats.md "Exports") and of
// the store check. The engine returns these; retarget/format.hpp turns them
// into the JSON and CSV that the command line and the service print.
//
// Expired data is absent from profiles and exports exactly as from the
// filters; analytics counts at ingest and never changes with expiry.
//
// Thread safety: plain value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "retarget/identity.hpp"

namespace retarget {

// A custom attribute's value: a string, a number or a boolean (formats.md).
using UserAttributeValue = std::variant<std::string, double, bool>;

// A campaign the user received (the profile's Campaigns Received list).
struct CampaignReceived {
  std::string id, name;
  std::int64_t last_received_ms = 0;
  bool opened_email = false;  // machine opens count
  bool opened_push = false;
  bool clicked_email = false;
  bool clicked_in_app = false;  // clicked_triggered_in_app_message
  bool converted = false;
  // Multivariate campaigns only: the variant last received (when it still
  // exists in the catalog) and whether the user is in the control group.
  std::optional<std::string> variation_name, variation_id;
  std::optional<bool> in_control;
};

struct CanvasStepReceived {
  std::string id, name;
  std::int64_t last_received_ms = 0;
};

// A Canvas the user received a message from or entered (Canvas Messages Received).
struct CanvasReceived {
  std::string id, name;
  std::optional<std::int64_t> last_received_ms, last_entered_ms, last_exited_ms;
  std::optional<std::string> variation_name;  // the variation last entered
  std::optional<bool> in_control;             // with variation_name
  std::vector<CanvasStepReceived> steps;      // catalog order
};

// One user as the profile and the users export show it.
struct UserProfile {
  std::string external_id;
  std::vector<std::pair<std::string, UserAttributeValue>> custom_attributes;  // sorted by name
  std::vector<CampaignReceived> campaigns_received;                       // sorted by campaign id
  std::vector<CanvasReceived> canvases_received;                          // sorted by Canvas id
  // Engine::profile: the expired sources that hold data of this user, and the
  // command that restores each. Empty in a UsersExport's users (it lists them once).
  std::vector<std::string> warnings;
};

// The users export (Engine::export_users), in the order the ids were asked.
struct UsersExport {
  std::vector<UserProfile> users;
  std::vector<std::string> invalid_user_ids;  // ids no event names
  std::vector<std::string> warnings;          // expired sources holding data of the users
  // The same as data: each expired source holding data of the users, with
  // those users in the order asked (warnings is written from it).
  std::map<std::string, std::vector<std::string>> expired_users;
};

// The warnings of a users export (and of a profile): one per expired source
// holding data of the users shown, naming up to ten of them and the command
// that restores it.
std::vector<std::string> expired_data_warnings(const std::map<std::string, std::vector<std::string>>& users_by_source);

// The User Data CSV of a campaign, a Canvas or a Canvas step.
struct RecipientRow {
  std::string external_id;
  std::vector<std::optional<UserAttributeValue>> attributes;  // one per RecipientsExport::attribute_names
  std::string variation_name, variation_id;               // "" when none
  bool in_control = false;
  std::int64_t last_received_ms = 0;
  std::string step;  // Canvas exports: the step's id
};
struct RecipientsExport {
  SourceKind kind = SourceKind::kCampaign;
  std::vector<std::string> attribute_names;  // the catalog's declared attributes, sorted
  std::vector<RecipientRow> rows;            // campaign: by external id; Canvas: by step (catalog order), then external id
  std::vector<std::string> warnings;         // the source is expired: its recipients are not exported
  std::vector<std::string> steps;            // Canvas exports: its step ids in catalog order (the rows' order)
};

// Ingest counters of a campaign or Canvas (Engine::analytics).
struct AnalyticsReport {
  std::string source;  // source key
  std::uint64_t sends = 0, unique_recipients = 0, opens = 0, clicks = 0, conversions = 0, control_size = 0;
};

// Consistency of the data directory (Engine::check_store).
struct StoreCheck {
  struct Source {
    std::string key;
    Tier tier = Tier::kLive;
    std::uint64_t records = 0;
    // Where the source's columns are: "memory", "live tables" or "long-term storage".
    std::string columns_in;
    // The tier and the place differ: a tier move not done yet (the tier mover
    // finishes it; reads use the place the manifest names meanwhile).
    bool move_pending = false;
  };
  struct Problem {
    std::string file;
    std::uint64_t offset = 0;
    std::string message;
  };
  struct Bytes {
    std::uint64_t tables = 0, archive = 0, events = 0, wal = 0;
  };
  bool durable = false;  // false: a :memory: engine (nothing on disk to check)
  std::uint64_t events = 0;
  std::vector<Source> sources;
  std::vector<Problem> problems;
  std::optional<Bytes> bytes;  // durable only
  bool ok() const { return problems.empty(); }
};

}  // namespace retarget
