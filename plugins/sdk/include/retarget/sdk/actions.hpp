// The interaction actions of filters.md, mapped to the event actions they cover.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace retarget::sdk {

// Values a filter's `action` parameter may take.
inline const std::vector<std::string>& filter_actions() {
  static const std::vector<std::string> kActions = {
      "opened_email", "opened_email_machine", "opened_email_other", "clicked_email",
      "opened_push",  "viewed_in_app",        "clicked_in_app",     "clicked_sms",
      "read_whatsapp", "clicked_content_card", "any"};
  return kActions;
}

// The `interaction` event actions a filter action covers: `opened_email` is any
// open (events opened_email and opened_email_machine), `opened_email_other`
// only opened_email events, `any` every action.
inline std::vector<std::string> event_actions_for(std::string_view action) {
  if (action == "opened_email") return {"opened_email", "opened_email_machine"};
  if (action == "opened_email_other") return {"opened_email"};
  if (action == "any")
    return {"opened_email", "opened_email_machine", "clicked_email", "opened_push", "viewed_in_app",
            "clicked_in_app", "clicked_sms", "read_whatsapp", "clicked_content_card"};
  return {std::string(action)};
}

}  // namespace retarget::sdk
