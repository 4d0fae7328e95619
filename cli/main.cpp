// cli/main.cpp: the domainmap command-line tool (verb table; being written).
#include <cstdio>
#include "domainmap/version.hpp"
int main() { std::printf("domainmap %s\n", DOMAINMAP_VERSION); return 0; }
