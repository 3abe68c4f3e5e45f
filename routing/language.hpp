// The language of a message, ISO 639-1: the provider's own hint when it gives one, else Google's
// Compact Language Detector 2 on the subject and text. Routes match it with `language:`.
#pragma once

#include "channels/message.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace sb {

// The ISO 639-1 code CLD2 finds in `text` (UTF-8), or nullopt when it is not reliable: too
// short ("ok", "Paldies!"), mixed, not valid UTF-8, or a language without a two-letter code.
// Only the first 64 KiB are read: the language of a long text shows in its start.
std::optional<std::string> detect_language(std::string_view text);

// inbound_message.language when the provider gave one (normalised: "en-US" → "en"), otherwise
// detect_language(subject + "\n" + text), where text is only the customer's own words (the part
// before inbound_message::generated_text_from). Pure; the ingest path calls it once per message and
// puts the result in the payload and in message_context::language.
std::optional<std::string> message_language(const inbound_message& m);

// "lv", "en-US", "pt_BR", "LT" → the lower-case two-letter primary subtag; nullopt when the tag
// does not start with a two-letter code.
std::optional<std::string> normalize_language_tag(std::string_view tag);

}  // namespace sb
