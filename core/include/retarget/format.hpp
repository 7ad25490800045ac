// The JSON and CSV forms of the engine's typed results, exactly as the
// command line and the service print them (formats.md "Exports" and
// "Command line"). Formatting is separate from the engine so that an embedder
// can use the values directly and print only what it needs.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

#include "retarget/exports.hpp"

namespace retarget {

// A profile: {"external_id", "custom_attributes", "campaigns_received",
// "canvases_received", "warnings"}; fields without data are omitted, times
// are RFC 3339 UTC. Pretty-printed (two spaces).
std::string to_json(const UserProfile& profile);
// {"users": [...], "invalid_user_ids": [...], "message": "success", "warnings": [...]}.
std::string to_json(const UsersExport& users);
// {"source", "sends", "unique_recipients", "opens", "clicks", "conversions", "control_size"}.
std::string to_json(const AnalyticsReport& analytics);
// {"durable", "events", "sources": [...], "problems": [...], "ok", "bytes"}.
std::string to_json(const StoreCheck& check);
// The User Data CSV: a header row, then one row per recipient (RFC 4180,
// CRLF line ends, cells through csv_cell so no spreadsheet formula runs).
std::string to_csv(const RecipientsExport& recipients);
// The same CSV written row by row to `out` (no second copy in memory);
// `on_rows(rows_written)` is called every 4,096 rows and at the end.
void write_csv(const RecipientsExport& recipients, std::ostream& out,
               const std::function<void(std::size_t rows)>& on_rows = {});
// A custom attribute's value as text: strings as they are, whole numbers
// without a fraction (7, not 7.0), booleans as true/false.
std::string to_text(const UserAttributeValue& value);

}  // namespace retarget
