// Bounds on what a provider sends, the same for every channel that reads such a thing: one
// value each, so that the channels cannot disagree about what is too long or too deep.
#pragma once

#include <cstddef>

namespace sb {

// Provider ids become dedupe and identity keys in the store: keep them short enough to index.
inline constexpr std::size_t max_id_bytes = 256;
// Nothing a provider sends nests deeper than ~15 levels (a Messenger template echo); this
// bounds the JSON parser's stack against hostile input.
inline constexpr std::size_t max_json_depth = 32;
// Attachments a message may carry (web chat, Meta, X); more is refused. Meta sends at most 10,
// X one. (Mail counts what it omits instead: email::max_attachments.)
inline constexpr std::size_t max_attachments = 100;

}  // namespace sb
