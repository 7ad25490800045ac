// The interaction-data surfaces of formats.md ("Exports"): a user's profile
// lists (Campaigns Received, Canvas Messages Received), the users export, the
// recipients CSV. They read the index, so expired data is absent from them
// exactly as from the filters. Analytics reads the ingest counters, which
// expiry never touches.
#pragma once

#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "index/index.hpp"
#include "index/index_builder.hpp"
#include "retarget/exports.hpp"

namespace retarget {

// One user as the profile and the users export show it (no warnings: the
// engine adds those).
UserProfile user_profile(const Index& index, const Catalog& catalog, UserIndex user);

// The User Data CSV's rows of a campaign, a Canvas, or one Canvas step ("" =
// all steps): one row per recipient whose data is live.
RecipientsExport recipients(const Index& index, const Catalog& catalog, sdk::SourceKind kind, const std::string& id,
                            const std::string& step);

// A CSV cell: RFC 4180 quoting, and spreadsheet formulas neutralised (a cell
// starting with =, +, -, @, tab or carriage return gets a leading ').
std::string csv_cell(const std::string& value);

AnalyticsReport analytics_of(const IndexBuilder::SourceAnalytics* a, const std::string& source_key);

}  // namespace retarget
