// Small text helpers the adapters share: a blank test, a language hint, and what an attachment
// known only by its URL is called and holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sb {

// True when `s` is empty or only spaces, tabs, CRs and LFs.
bool is_blank(std::string_view s) noexcept;

// ISO 639-1 from a provider's language hint ("lv", "LV", "en-GB", Telegram's "pt-br"): the
// primary subtag lower-cased when it is two ASCII letters; anything else is no usable hint.
std::optional<std::string> language_code(std::string_view hint);

// Attachment metadata from a URL only (Messenger, Instagram, X give no name or type): the last
// path segment when it looks like a file name, and a content type from its extension.
std::string file_name_from_url(std::string_view url);
std::string content_type_from_url(std::string_view url);

// A short, stable digest of text (16 hex digits): distinct provider ids for distinct edits of
// one comment, equal ids for the provider's retries of the same edit.
std::string short_digest(std::string_view text);

}  // namespace sb
