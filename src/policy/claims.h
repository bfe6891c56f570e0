// How a claim condition compares values, shared by the evaluator and the
// impact report so the two can never disagree. Internal to policy/; pure.
#pragma once

#include <string_view>

namespace rampart::policy {

// `wanted` equals the claim value or one of its ','-separated elements
// (Identity::claims joins array claims with ',').
bool claimValueMatches(std::string_view claim, std::string_view wanted);

}  // namespace rampart::policy
