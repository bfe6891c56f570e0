#include "tls/sni.h"

#include <algorithm>

namespace rampart::tls {

namespace {

bool equalsLower(std::string_view lower, std::string_view text) {
  if (lower.size() != text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

bool nameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

}  // namespace

std::string normalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

SniTable::NameProblem SniTable::add(std::string_view raw, uint32_t index) {
  std::string name = normalizeName(raw);
  if (name.empty()) return NameProblem::kEmpty;
  bool wildcard = name.size() > 1 && name[0] == '*' && name[1] == '.';
  std::string_view rest = wildcard ? std::string_view(name).substr(1) : std::string_view(name);
  // "*.com" would cover every name under a top-level domain: clients refuse
  // such certificates, so it is a mistake here too.
  if (wildcard && rest.find('.', 1) == std::string_view::npos) return NameProblem::kBadWildcard;
  for (char c : rest) {
    if (c == '*') return NameProblem::kBadWildcard;
    if (!nameChar(c)) return NameProblem::kBadCharacter;
  }
  if (rest.find("..") != std::string_view::npos || rest.back() == '.')
    return NameProblem::kBadCharacter;
  std::vector<Entry>& list = wildcard ? wildcard_ : exact_;
  for (const Entry& entry : list) {
    if (entry.suffix == rest) return NameProblem::kDuplicate;
  }
  list.push_back({std::string(rest), index});
  return NameProblem::kNone;
}

uint32_t SniTable::match(std::string_view server_name) const {
  if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
  if (server_name.empty()) return kDefault;
  for (const Entry& entry : exact_) {
    if (equalsLower(entry.suffix, server_name)) return entry.index;
  }
  // One label, then the suffix: the label must be non-empty and dot-free.
  size_t dot = server_name.find('.');
  if (dot == 0 || dot == std::string_view::npos) return kDefault;
  std::string_view suffix = server_name.substr(dot);
  for (const Entry& entry : wildcard_) {
    if (equalsLower(entry.suffix, suffix)) return entry.index;
  }
  return kDefault;
}

const char* describe(SniTable::NameProblem problem) {
  switch (problem) {
    case SniTable::NameProblem::kNone:
      return "ok";
    case SniTable::NameProblem::kEmpty:
      return "an empty name";
    case SniTable::NameProblem::kBadWildcard:
      return "a wildcard must be a whole first label over at least two more (\"*.example.com\")";
    case SniTable::NameProblem::kBadCharacter:
      return "a DNS name has letters, digits, '-', '_' and single dots only";
    case SniTable::NameProblem::kDuplicate:
      return "another certificate of this listener already answers for this name";
  }
  return "?";
}

}  // namespace rampart::tls
