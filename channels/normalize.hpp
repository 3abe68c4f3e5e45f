// Identity normalization shared by every channel: the same person must produce the same
// identity value whichever channel they wrote from, or the store cannot link them.
//   email: the addr-spec, trimmed and lower-cased
//   phone: E.164, "+" and 8..15 digits
#pragma once

#include "channels/channel.hpp"
#include "channels/message.hpp"
#include "core/error.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sb {

// "  Ann.Lee@Example.COM " → "ann.lee@example.com". The local part is NFC and lower-cased in
// ASCII only (local parts are case-sensitive in theory, case-insensitive at every real
// provider, and linking identities needs one spelling); the domain is lower-cased, and an
// internationalized one (Unicode or "xn--" labels) is written in Unicode by UTS #46
// ("Ann@BÜCHER.example", "ann@xn--bcher-kva.example" → "ann@bücher.example"). nullopt unless
// there is exactly one "@", a non-empty local part, a domain of at least two non-empty labels,
// valid UTF-8, and no spaces, control characters, RFC 5322 specials (quoted local parts are
// not accepted) or invisible characters (zero-width, bidi controls: channels/unicode.hpp).
std::optional<std::string> normalize_email(std::string_view raw);

struct country_info {
  std::string_view iso2;              // ISO 3166-1 alpha-2, upper case
  std::string_view calling_code;      // ITU-T E.164 country code, digits
  std::string_view trunk_prefix;      // dialled before national numbers and dropped ("0"), or empty
  std::string_view alt_trunk_prefix;  // a second accepted trunk prefix (LT: 8 and 0), or empty
  std::string_view intl_prefix;  // international access prefix besides "00" (US: 011), or empty
};

// The countries `default_country` may name.
std::span<const country_info> supported_countries() noexcept;
// Case-insensitive ("lv" and "LV"); nullptr when not in the table. Use it to validate the
// `default_country` option at config load.
const country_info* find_country(std::string_view iso2) noexcept;

// Config load: the `default_country` option of cfg as its upper-case ISO code, or empty when
// unset; an error listing the supported codes when find_country does not know it.
result<std::string> default_country_option(const channel_config& cfg);

// "+1 (555) 010-2000" → "+15550102000". Spaces, tabs, "-", ".", "/", "(", ")" and a "(0)"
// trunk hint are dropped; a leading "00" (or the country's own international prefix, e.g. 011
// in North America) becomes "+". A national number (no "+" or international prefix) takes
// `default_country`'s calling code after its trunk prefix is dropped (GB "020 7946 0018" →
// "+442079460018"; IT keeps its leading 0, as Italian numbers do). Without a default country a
// national number is nullopt, as is anything that does not end as "+" and 8..15 digits with a
// non-zero first digit. `default_country` must be empty or found by find_country.
std::optional<std::string> normalize_phone(std::string_view raw,
                                           std::string_view default_country = {});

// True when `s` holds a C0 control character or DEL.
bool has_control_character(std::string_view s) noexcept;

// Provider ids and identity values become the store's dedupe and identity keys. Whatever the
// channel, a key with a control character (C0 or DEL) is refused: a NUL truncates it in C
// tools, a line feed splits a log line, and no provider issues such ids. An identity value
// with an invisible character (zero-width, bidi controls) is refused too: it would read as
// another customer's. errc::ok when every
// key of every message is clean, else errc::malformed naming the field (never its value).
error check_keys(std::span<const inbound_message> messages);
// The same for one message.
error check_keys(const inbound_message& message);

}  // namespace sb
