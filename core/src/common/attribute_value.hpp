// A custom attribute's value as the host keeps it (owning its text): what
// events carry and what the index builder encodes into attribute blocks.
// Filters see sdk::AttributeRef views of the same thing.
//
// Thread safety: a plain value.
#pragma once

#include <string>

#include "retarget/sdk/column.hpp"

namespace retarget {

struct AttributeValue {
  using Type = sdk::AttributeRef::Type;
  Type type = Type::kString;
  std::string text;       // kString
  double number = 0;      // kNumber
  bool boolean = false;   // kBool
  sdk::Timestamp time = sdk::kNoTime;  // kString that is a valid time, else kNoTime

  sdk::AttributeRef ref() const { return {type, text, number, boolean, time}; }
  static AttributeValue from(const sdk::AttributeRef& r) {
    return {r.type, std::string(r.text), r.number, r.boolean, r.time};
  }
  bool operator==(const AttributeValue& o) const {
    return type == o.type && text == o.text && (type != Type::kNumber || number == o.number) &&
           (type != Type::kBool || boolean == o.boolean);
  }
};

}  // namespace retarget
