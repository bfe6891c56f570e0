// simdjson helpers shared by the JWKS parser and the JWT verifier. Internal
// to rampart_auth. Pure functions, any thread.
#pragma once

#include <simdjson.h>

#include <string_view>

namespace rampart::auth::json {

// True when two members of `object` have the same (unescaped) name. simdjson
// keeps duplicates; RFC 7515 4 / 7519 4 say a parser must refuse or take the
// last, and taking the first where another library takes the last is how
// claims get smuggled, so we refuse.
bool hasDuplicateKey(simdjson::dom::object object);

}  // namespace rampart::auth::json
