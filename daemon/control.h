/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef ARBOR_CONTROL_H
#define ARBOR_CONTROL_H

#include <stddef.h>

#include "loop.h"

struct control;

/* Listens on path (mode 0600); NULL with err set when it cannot. */
struct control *control_open(struct loop *, const char *path, char *err,
    size_t errlen);
/* Closes every client and removes the socket file. */
void control_close(struct control *);

#endif
