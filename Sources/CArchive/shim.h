#pragma once
#include "archive.h"
#include "archive_entry.h"
#include <sys/stat.h>
// The AE_IF* constants are cast macros that Swift cannot import; re-export them.
static const unsigned int RD_AE_IFREG = 0100000;
static const unsigned int RD_AE_IFLNK = 0120000;
static const unsigned int RD_AE_IFDIR = 0040000;
static const unsigned int RD_AE_IFCHR = 0020000;
static const unsigned int RD_AE_IFBLK = 0060000;
static const unsigned int RD_AE_IFIFO = 0010000;
static const unsigned int RD_AE_IFSOCK = 0140000;
