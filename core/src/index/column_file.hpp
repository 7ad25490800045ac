// Columns as bytes: how a checkpoint or an archive file stores a column, and
// how opening gets it back without copying (the blocks are used in place in
// the buffer read from the file).
//
//   column  := "RTCL" | version (u32, 1) | kind (u32: 0 int, 1 attribute)
//              | slots (u32) | chunks (u32) | reserved (u32)
//              | chunks x (chunk index (u32) | reserved (u32) | word offset (u64) | words (u64))
//              | the chunks' blocks (deltas merged first), 8-byte aligned
//
// Thread safety: pure functions; loaded columns are immutable.
#pragma once

#include <memory>
#include <string>

#include "retarget/sdk/column.hpp"
#include "retarget/status.hpp"
#include "storage/env.hpp"

namespace retarget {

std::string serialize_column(const sdk::UserTimes& column);
std::string serialize_column(const sdk::UserCounts& column);
std::string serialize_column(const sdk::UserAttributes& column);

// REQUIRES of the buffer: it holds what serialize_column wrote (a checksum was
// verified); anything that does not check out is reported, never trusted.
Result<std::shared_ptr<const sdk::UserTimes>> load_time_column(std::shared_ptr<const storage::FileBuffer> bytes,
                                                               const std::string& where);
Result<std::shared_ptr<const sdk::UserCounts>> load_count_column(std::shared_ptr<const storage::FileBuffer> bytes,
                                                                 const std::string& where);
Result<std::shared_ptr<const sdk::UserAttributes>> load_attribute_column(
    std::shared_ptr<const storage::FileBuffer> bytes, const std::string& where);

}  // namespace retarget
