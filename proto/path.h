/* Newswire — JSON paths for validation errors (internal to libnwproto).
 *
 * Validators walk a document and keep the path of the value they are looking
 * at ("associations[1].headlines[0].value") so that an error can name it.
 * The path is bounded like nw_err_t.field: a longer path is truncated, never
 * overflowed, and push/pop stay balanced either way. */
#ifndef NW_PATH_H
#define NW_PATH_H

#include <stddef.h>

#include "common.h"

typedef struct nw_path {
    char buf[sizeof(((nw_err_t *)0)->field)];
    size_t len;
} nw_path_t;

/* Empties the path (the document root, shown as ""). */
void nw_path_init(nw_path_t *p);

/* Appends ".key" (or "key" at the root) and returns the mark to pass to
 * nw_path_pop. Bytes that could not be shown safely (control characters, or
 * any non-ASCII byte when the key is not valid UTF-8) appear as '?'. */
size_t nw_path_push_key(nw_path_t *p, const char *key, size_t len);

/* Appends "[index]" and returns the mark to pass to nw_path_pop. */
size_t nw_path_push_index(nw_path_t *p, size_t index);

/* Restores the path as it was when mark was returned. */
void nw_path_pop(nw_path_t *p, size_t mark);

#endif
