// common/text: the nearest-name suggestion behind every "did you mean".
#include <gtest/gtest.h>

#include "common/text.hpp"

namespace retarget {
namespace {

TEST(Text, DidYouMeanPrefersTheOneNameAWordAbbreviates) {
  // `op: eq`: "in" is closer by edit distance, "equals" is what was meant.
  EXPECT_EQ(nearest("eq", {"in", "equals", "not_equals", "matches"}), "equals");
  EXPECT_EQ(did_you_mean("eq", {"in", "equals"}), " (did you mean 'equals'?)");
  // Several names begin with it: the edit distance decides.
  EXPECT_EQ(nearest("last", {"last_engaged", "last_received_any", "list"}), "list");
}

TEST(Text, DidYouMeanFindsTyposWithinASmallDistanceOnly) {
  EXPECT_EQ(nearest("recieved_campaign", {"received_campaign", "clicked_opened_campaign"}), "received_campaign");
  EXPECT_EQ(nearest("evalute", {"evaluate", "explain"}), "evaluate");
  EXPECT_EQ(nearest("zzzz", {"evaluate", "explain"}), "");
  EXPECT_EQ(did_you_mean("zzzz", {"evaluate"}), "");
}

}  // namespace
}  // namespace retarget
