// Unicode for identities and names (issue #18): the same address or name written two ways
// must become one value, and a value must not hide characters a reader cannot see.
// Normalization is utf8proc's (NFC, the Default_Ignorable_Code_Point property), IDNA is
// libidn2's (UTS #46, non-transitional): no hand-written tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sb {

// The NFC form of valid UTF-8 ("e" + U+0301 → "é"); nullopt when `utf8` is not valid UTF-8.
std::optional<std::string> to_nfc(std::string_view utf8);

// True when `utf8` holds a default-ignorable code point: zero-width space, joiners and
// non-joiners, word joiner, BOM, soft hyphen, the bidi controls (LRM, RLM, ALM, embeddings,
// overrides, isolates), variation selectors, tags... Invisible: "ann\u200b@example.com" reads
// as Ann's address and is not. Invalid UTF-8 counts as holding one.
bool has_invisible(std::string_view utf8);

// A display name as agents see it: NFC, with the invisible characters above removed, except
// ZWJ and ZWNJ (which join emoji sequences and Persian and Indic letters) and the variation
// selectors (emoji presentation): those change how a name looks, not only what it hides.
// Invalid UTF-8 comes back unchanged (channels make names valid UTF-8 first).
std::string display_name(std::string_view utf8);

// A domain by UTS #46 (non-transitional, STD3 rules), as Unicode ("BÜCHER.example" and
// "xn--bcher-kva.example" → "bücher.example"); nullopt when it is not a valid domain name
// (ASCII other than letters, digits, "-" and "." included).
std::optional<std::string> idna_domain(std::string_view domain);

}  // namespace sb
