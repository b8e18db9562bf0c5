/* SPDX-License-Identifier: BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "rotate.h"
#include "util.h"

void
rotate_shift(const char *file, uint32_t keep)
{
	char *from, *to = xasprintf("%s.%u.gz", file, keep);

	unlink(to);
	free(to);
	for (uint32_t i = keep; i > 1; i--) {
		from = xasprintf("%s.%u.gz", file, i - 1);
		to = xasprintf("%s.%u.gz", file, i);
		rename(from, to);
		free(from);
		free(to);
	}
}

/* What a failed gz call says, as an errno. */
static int
gz_errno(gzFile gz, int rc)
{
	int zerr = rc;

	if (gz)
		gzerror(gz, &zerr);
	return zerr == Z_ERRNO && errno ? errno : EIO;
}

int
gzip_file(const char *src, const char *dst)
{
	char *tmp = xasprintf("%s.tmp", dst);
	char buf[65536];
	gzFile gz = NULL;
	int in, rc, err = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		err = errno;
	else if (!(gz = gzopen(tmp, "wb6")))
		err = errno ? errno : ENOMEM;
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n)
			err = gz_errno(gz, Z_ERRNO);
	if (gz) {
		errno = 0;
		if ((rc = gzclose(gz)) != Z_OK && !err)
			err = rc == Z_ERRNO && errno ? errno : EIO;
	}
	if (in >= 0)
		close(in);
	if (!err && rename(tmp, dst) < 0)
		err = errno;
	if (err)
		unlink(tmp);
	unlink(src);
	free(tmp);
	return err;
}
