// The only C header Attend reads: OpenBLAS's CBLAS interface plus its thread-count controls.
#include <cblas.h>
