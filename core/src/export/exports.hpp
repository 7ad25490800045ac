// The interaction-data surfaces of formats.md ("Exports"): a user's profile
// lists (Campaigns Received, Canvas Messages Received), the users export, the
// recipients CSV. They read the index, so expired data is absent from them
// exactly as from the filters. Analytics reads the ingest counters, which
// expiry never touches.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "index/index.hpp"
#include "index/index_builder.hpp"

namespace retarget {

// One user as the users export shows it (fields without data are omitted).
nlohmann::json user_export(const Index& index, const Catalog& catalog, UserIndex user);

// The User Data CSV of a campaign, a Canvas, or one Canvas step ("" = all
// steps): a header row, then one row per recipient whose data is live.
std::string recipients_csv(const Index& index, const Catalog& catalog, sdk::SourceKind kind, const std::string& id,
                           const std::string& step);

// A CSV cell: RFC 4180 quoting, and spreadsheet formulas neutralised (a cell
// starting with =, +, -, @, tab or carriage return gets a leading ').
std::string csv_cell(const std::string& value);

nlohmann::json analytics_json(const IndexBuilder::SourceAnalytics* a, const std::string& source_key);

}  // namespace retarget
