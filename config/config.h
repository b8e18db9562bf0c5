/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_CONFIG_H
#define ARBOR_CONFIG_H

#include <stdio.h>

#include "spec.h"

/* Problems found while loading, one line each, "FILE:LINE: PATH: message". */
struct config_diag {
	char **errors;
	size_t nerrors;
	char **warnings;
	size_t nwarnings;
};

/*
 * Parses and validates FILE. Returns a spec the caller owns, or NULL when
 * there is at least one error; every error and warning is in diag either way.
 */
struct spec *config_load(const char *file, struct config_diag *diag);
void config_diag_free(struct config_diag *);

/* The tree a spec describes, as `arbord --check` prints it. */
void config_print_tree(FILE *, const struct spec *);
/*
 * Who may use the control socket beyond root and arbord's user, as
 * `arbord --check` prints it after the tree; nothing when no group is set.
 */
void config_print_access(FILE *, const struct spec *);

#endif
