// result_codec.hpp: field by field, in declaration order.
#include "result_codec.hpp"

#include <bit>

namespace retarget::mpi {

namespace {

void put_time(Writer& w, const std::optional<std::int64_t>& t) {
  w.u64(t.has_value());
  if (t) w.i64(*t);
}
std::optional<std::int64_t> get_time(Reader& r) {
  if (!r.u64()) return std::nullopt;
  return r.i64();
}
void put_text(Writer& w, const std::optional<std::string>& s) {
  w.u64(s.has_value());
  if (s) w.str(*s);
}
std::optional<std::string> get_text(Reader& r) {
  if (!r.u64()) return std::nullopt;
  return r.str();
}
void put_flag(Writer& w, const std::optional<bool>& b) { w.u64(b ? (*b ? 2 : 1) : 0); }
std::optional<bool> get_flag(Reader& r) {
  std::uint64_t v = r.u64();
  if (v == 0) return std::nullopt;
  return v == 2;
}
void put_value(Writer& w, const UserAttributeValue& v) {
  w.u64(v.index());
  if (const auto* s = std::get_if<std::string>(&v)) w.str(*s);
  else if (const auto* d = std::get_if<double>(&v)) w.u64(std::bit_cast<std::uint64_t>(*d));
  else w.u64(std::get<bool>(v));
}
UserAttributeValue get_value(Reader& r) {
  switch (r.u64()) {
    case 0: return r.str();
    case 1: return std::bit_cast<double>(r.u64());
    default: return r.u64() != 0;
  }
}

}  // namespace

void put(Writer& w, const Status& s) { w.u64(static_cast<std::uint64_t>(s.code())).str(s.message()); }

Status get_status(Reader& r) {
  auto code = static_cast<Status::Code>(r.u64());
  std::string message = r.str();
  switch (code) {
    case Status::Code::kOk: return Status::Ok();
    case Status::Code::kInvalidInput: return Status::InvalidInput(message);
    case Status::Code::kNotFound: return Status::NotFound(message);
    case Status::Code::kIoError: return Status::IoError(message);
    case Status::Code::kTimedOut: return Status::TimedOut(message);
    default: return Status::Failed(message);
  }
}

Status from_rank(std::size_t r, const Status& s) {
  return r == 0 || s.ok() ? s : Status::Failed("rank " + std::to_string(r) + ": " + s.message());
}

void put(Writer& w, const SegmentResult& s) {
  w.str(s.id).str(s.name).u64(s.count).strings(s.members).str(s.member_lines).str(s.next_after).strings(s.warnings);
  w.u64(std::bit_cast<std::uint64_t>(s.evaluate_ms)).u64(std::bit_cast<std::uint64_t>(s.compile_ms));
}

SegmentResult get_segment(Reader& r) {
  SegmentResult s;
  s.id = r.str(), s.name = r.str(), s.count = r.u64(), s.members = r.strings(), s.member_lines = r.str();
  s.next_after = r.str();
  s.warnings = r.strings();
  s.evaluate_ms = std::bit_cast<double>(r.u64()), s.compile_ms = std::bit_cast<double>(r.u64());
  return s;
}

void put(Writer& w, const UserProfile& p) {
  w.str(p.external_id).u64(p.custom_attributes.size());
  for (const auto& [name, value] : p.custom_attributes) w.str(name), put_value(w, value);
  w.u64(p.campaigns_received.size());
  for (const auto& c : p.campaigns_received) {
    w.str(c.id).str(c.name).i64(c.last_received_ms);
    w.u64(c.opened_email).u64(c.opened_push).u64(c.clicked_email).u64(c.clicked_in_app).u64(c.converted);
    put_text(w, c.variation_name), put_text(w, c.variation_id), put_flag(w, c.in_control);
  }
  w.u64(p.canvases_received.size());
  for (const auto& c : p.canvases_received) {
    w.str(c.id).str(c.name);
    put_time(w, c.last_received_ms), put_time(w, c.last_entered_ms), put_time(w, c.last_exited_ms);
    put_text(w, c.variation_name), put_flag(w, c.in_control);
    w.u64(c.steps.size());
    for (const auto& s : c.steps) w.str(s.id).str(s.name).i64(s.last_received_ms);
  }
  w.strings(p.warnings);
}

UserProfile get_profile(Reader& r) {
  UserProfile p;
  p.external_id = r.str();
  for (std::uint64_t n = r.u64(); n; --n) {
    std::string name = r.str();
    p.custom_attributes.emplace_back(std::move(name), get_value(r));
  }
  for (std::uint64_t n = r.u64(); n; --n) {
    CampaignReceived c;
    c.id = r.str(), c.name = r.str(), c.last_received_ms = r.i64();
    c.opened_email = r.u64(), c.opened_push = r.u64(), c.clicked_email = r.u64(), c.clicked_in_app = r.u64();
    c.converted = r.u64();
    c.variation_name = get_text(r), c.variation_id = get_text(r), c.in_control = get_flag(r);
    p.campaigns_received.push_back(std::move(c));
  }
  for (std::uint64_t n = r.u64(); n; --n) {
    CanvasReceived c;
    c.id = r.str(), c.name = r.str();
    c.last_received_ms = get_time(r), c.last_entered_ms = get_time(r), c.last_exited_ms = get_time(r);
    c.variation_name = get_text(r), c.in_control = get_flag(r);
    for (std::uint64_t k = r.u64(); k; --k) {
      CanvasStepReceived s;
      s.id = r.str(), s.name = r.str(), s.last_received_ms = r.i64();
      c.steps.push_back(std::move(s));
    }
    p.canvases_received.push_back(std::move(c));
  }
  p.warnings = r.strings();
  return p;
}

void put(Writer& w, const RecipientRow& row) {
  w.str(row.external_id).u64(row.attributes.size());
  for (const auto& a : row.attributes) {
    w.u64(a.has_value());
    if (a) put_value(w, *a);
  }
  w.str(row.variation_name).str(row.variation_id).u64(row.in_control).i64(row.last_received_ms).str(row.step);
}

RecipientRow get_row(Reader& r) {
  RecipientRow row;
  row.external_id = r.str();
  for (std::uint64_t n = r.u64(); n; --n)
    row.attributes.push_back(r.u64() ? std::optional<UserAttributeValue>(get_value(r)) : std::nullopt);
  row.variation_name = r.str(), row.variation_id = r.str(), row.in_control = r.u64();
  row.last_received_ms = r.i64(), row.step = r.str();
  return row;
}

void put(Writer& w, const RestoreJobInfo& j) {
  w.u64(j.id).strings(j.sources).u64(static_cast<std::uint64_t>(j.state)).u64(j.moved).u64(j.total).str(j.error);
  w.strings(j.not_restored);
  put_time(w, j.created_at_ms), put_time(w, j.started_at_ms), put_time(w, j.completed_at_ms);
  w.u64(j.moving_done).u64(j.moving_total);
}

RestoreJobInfo get_job(Reader& r) {
  RestoreJobInfo j;
  j.id = r.u64(), j.sources = r.strings(), j.state = static_cast<JobState>(r.u64());
  j.moved = r.u64(), j.total = r.u64(), j.error = r.str(), j.not_restored = r.strings();
  j.created_at_ms = get_time(r), j.started_at_ms = get_time(r), j.completed_at_ms = get_time(r);
  j.moving_done = r.u64(), j.moving_total = r.u64();
  return j;
}

void put(Writer& w, const StoreCheck& c) {
  w.u64(c.durable).u64(c.events).u64(c.sources.size());
  for (const auto& s : c.sources)
    w.str(s.key).u64(static_cast<std::uint64_t>(s.tier)).u64(s.records).str(s.columns_in).u64(s.move_pending);
  w.u64(c.problems.size());
  for (const auto& p : c.problems) w.str(p.file).u64(p.offset).str(p.message);
  w.u64(c.bytes.has_value());
  if (c.bytes) w.u64(c.bytes->tables).u64(c.bytes->archive).u64(c.bytes->events).u64(c.bytes->wal);
}

StoreCheck get_check(Reader& r) {
  StoreCheck c;
  c.durable = r.u64(), c.events = r.u64();
  for (std::uint64_t n = r.u64(); n; --n) {
    StoreCheck::Source s;
    s.key = r.str(), s.tier = static_cast<Tier>(r.u64()), s.records = r.u64(), s.columns_in = r.str();
    s.move_pending = r.u64();
    c.sources.push_back(std::move(s));
  }
  for (std::uint64_t n = r.u64(); n; --n) {
    StoreCheck::Problem p;
    p.file = r.str(), p.offset = r.u64(), p.message = r.str();
    c.problems.push_back(std::move(p));
  }
  if (r.u64()) {
    StoreCheck::Bytes b;
    b.tables = r.u64(), b.archive = r.u64(), b.events = r.u64(), b.wal = r.u64();
    c.bytes = b;
  }
  return c;
}

}  // namespace retarget::mpi
