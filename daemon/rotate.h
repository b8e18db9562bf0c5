/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rotated files, as the event log and worker logs keep them: FILE.1.gz
 * (newest) ... FILE.N.gz.
 */
#ifndef ARBOR_ROTATE_H
#define ARBOR_ROTATE_H

#include <stdint.h>

/* Makes room for a new FILE.1.gz: FILE.keep.gz goes, each other moves up. */
void rotate_shift(const char *file, uint32_t keep);
/*
 * Compresses src into dst through a temporary name, so that dst is either
 * complete or absent; removes src either way. Returns 0 or an errno (a
 * full disk is ENOSPC).
 */
int gzip_file(const char *src, const char *dst);

#endif
