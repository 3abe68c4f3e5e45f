// A set of customer identities read from a file, for the `customer_in` route condition (VIPs,
// key accounts) and the edge's blocklist (server.blocklist_file). One "type:value" a line,
// normalised the way channels write identities, so "email:Jane@Example.COM" matches the
// lower-cased address a channel records; "email_domain:example.com" lists every address of
// that domain (exactly that domain, not its subdomains).
#pragma once

#include "channels/message.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace sb {

struct identity_list {
  std::string file;
  std::unordered_set<std::string> entries;  // "type:value", normalised
  std::unordered_set<std::string> domains;  // e-mail domains, normalised as addresses' are

  bool contains(const identity& id) const;
  // Any of the message's identities is on the list.
  bool contains_any(const std::vector<identity>& ids) const;
};

// Parses the file's text: blank lines and lines starting with '#' are skipped; surrounding
// whitespace is dropped. Errors name the line ("line 3: ..."); all of them are returned.
struct identity_list_parse {
  std::optional<identity_list> list;
  std::vector<std::string> errors;
};
identity_list_parse parse_identity_list(std::string_view text, std::string file);

// The identity types channels produce (see channels/message.hpp).
bool is_identity_type(std::string_view type) noexcept;
std::string known_identity_types();

}  // namespace sb
