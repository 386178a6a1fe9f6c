/* version.h - the release version of codegate, shared by every binary. */
#ifndef CG_VERSION_H
#define CG_VERSION_H
#define CG_VERSION "0.1.0"
#endif
