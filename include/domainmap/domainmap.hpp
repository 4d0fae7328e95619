// domainmap/domainmap.hpp: includes every public header of domainmap.
#pragma once
#include "domainmap/blockfile.hpp"
#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/params.hpp"
#include "domainmap/png.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/symmetry.hpp"
#include "domainmap/version.hpp"
#include "domainmap/virtual.hpp"
#include "domainmap/write.hpp"
