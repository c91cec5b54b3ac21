// OpenBLAS's CBLAS interface plus its threading/config extensions.
// Debian installs the header under the openblas-pthread include dir (found via pkg-config `openblas`).
#include <cblas.h>
