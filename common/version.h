/* hgrid's version as the programs print it (--version) and the build reads it (the
 * Makefile, tests/cli_test.sh). It must equal the public header's HG_VERSION_STRING
 * (include/hgrid/base.h), which libhgrid reports; tests/test_protocol.c checks that. */
#ifndef HG_VERSION_H
#define HG_VERSION_H
#define HG_VERSION "0.2.0"
#endif
