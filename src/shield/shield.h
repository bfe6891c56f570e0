// The shield's pure engines, for the accept path and the request path: GCRA
// rate limits over bounded keyed tables, per-address connection admission,
// escalation to temporary blocks, and CIDR allow/deny lists; and for overload:
// an adaptive concurrency limit per upstream cluster, priority classes with a
// shedder, a fair queue of waiting requests, and learned baselines. No
// sockets, HTTP or YAML; time is always a parameter. Per-worker objects (one
// thread, no locks) except the compiled, immutable Gcra and AddressList values.
#pragma once

#include "shield/accept_gate.h"           // IWYU pragma: export
#include "shield/adaptive_concurrency.h"  // IWYU pragma: export
#include "shield/address_list.h"          // IWYU pragma: export
#include "shield/admission.h"             // IWYU pragma: export
#include "shield/baseline.h"              // IWYU pragma: export
#include "shield/client_address.h"        // IWYU pragma: export
#include "shield/escalation.h"            // IWYU pragma: export
#include "shield/fair_queue.h"            // IWYU pragma: export
#include "shield/gcra.h"                  // IWYU pragma: export
#include "shield/key.h"                   // IWYU pragma: export
#include "shield/keyed_table.h"           // IWYU pragma: export
#include "shield/priority.h"              // IWYU pragma: export
#include "shield/rate_limiter.h"          // IWYU pragma: export
#include "shield/settings.h"              // IWYU pragma: export
#include "shield/worker_overload.h"       // IWYU pragma: export
#include "shield/worker_shield.h"         // IWYU pragma: export
