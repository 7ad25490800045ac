// The engine's typed results as bytes between the processes (codec.hpp),
// for the merges of mpi_partitions.cpp. Each put_* has its get_*.
//
// Thread safety: pure functions.
#pragma once

#include "codec.hpp"
#include "retarget/engine.hpp"

namespace retarget::mpi {

void put(Writer& w, const Status& s);
Status get_status(Reader& r);
// A failure of rank r as rank 0 reports it: its own as it is, another's with the rank named.
Status from_rank(std::size_t r, const Status& s);
void put(Writer& w, const SegmentResult& s);
SegmentResult get_segment(Reader& r);
void put(Writer& w, const UserProfile& p);
UserProfile get_profile(Reader& r);
void put(Writer& w, const RecipientRow& row);
RecipientRow get_row(Reader& r);
void put(Writer& w, const RestoreJobInfo& j);
RestoreJobInfo get_job(Reader& r);
void put(Writer& w, const StoreCheck& c);
StoreCheck get_check(Reader& r);

}  // namespace retarget::mpi
