// A cluster's `adaptive_concurrency:` (see docs/configuration.md): the
// adaptive concurrency limit and the fair queue in front of the cluster,
// compiled into shield::ClusterAdmissionPolicy with every mistake reported at
// its file:line:col. Internal to config/; loading thread only.
#pragma once

#include <yaml-cpp/yaml.h>

#include "config/yaml_reader.h"
#include "upstream/cluster.h"

namespace rampart::config::detail {

// Reads `node` (the value of `adaptive_concurrency`) into `spec->admission`;
// leaves it empty when the section has errors (they are reported).
void readClusterAdmission(yaml::Reader& reader, const YAML::Node& node,
                          upstream::ClusterSpec* spec);

}  // namespace rampart::config::detail
