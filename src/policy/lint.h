// Compile-time checks of a policy for rules that are probably mistakes:
// rules that can never match and rules shadowed by an earlier one. Runs
// once while compiling a Policy, on the config thread.
#pragma once

#include <string>
#include <vector>

#include "policy/policy.h"

namespace rampart::policy {

// True when no request can match `rule`: a condition given as an empty list
// (or a claim with no values), or `authenticated: false` with an identity
// condition. Such rules are left out of the index.
bool neverMatches(const RuleSpec& rule);

// Appends a warning per problem found in `spec` (which compiled):
//  - never matches (the reasons of neverMatches, each named);
//  - a path pattern that is not canonical (not starting with '/', "//",
//    a "." or ".." segment): no canonical path can match it;
//  - an exact or prefix pattern containing '*' or '{': taken literally;
//  - shadowed: an earlier rule that is a deny, or has the same effect,
//    matches every request this one matches, so this one never decides.
//    Conservative: see coversRule() in lint.cc for what is recognised.
void lintPolicy(const PolicySpec& spec, std::vector<CompileWarning>* warnings);

}  // namespace rampart::policy
