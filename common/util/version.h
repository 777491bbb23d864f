/* hgrid's version as the programs print it (--version): the public header's, which
 * libhgrid reports through hg_version_string(). The numbers live in
 * include/hgrid/base.h only; the Makefile and tests/cli_test.sh read them there. */
#ifndef HG_VERSION_H
#define HG_VERSION_H
#include "hgrid/base.h"
#define HG_VERSION HG_VERSION_STRING
#endif
