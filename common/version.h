/* hgrid's version, one place. */
#ifndef HG_VERSION_H
#define HG_VERSION_H
#define HG_VERSION "0.1.0"
#endif
