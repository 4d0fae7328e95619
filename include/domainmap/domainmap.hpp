// domainmap/domainmap.hpp: includes every public header of domainmap.
#pragma once
#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/params.hpp"
#include "domainmap/version.hpp"
#include "domainmap/write.hpp"
