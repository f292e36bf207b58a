/* Newswire — a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied and owned by the map; values are borrowed pointers.
 * Used by the topic index for exact topics and trie children. Not
 * thread-safe: each map belongs to one thread. */
#ifndef NW_STRMAP_H
#define NW_STRMAP_H

#include <stddef.h>

typedef struct nw_strmap nw_strmap_t;

nw_strmap_t *nw_strmap_new(void);

/* Frees the map and its keys (not the values). Accepts NULL. */
void nw_strmap_free(nw_strmap_t *m);

/* The value stored under key, or NULL. */
void *nw_strmap_get(const nw_strmap_t *m, const char *key, size_t keylen);

/* Stores value (not NULL) under key, replacing any previous value. Returns 0
 * or -ENOMEM (the map is then unchanged). */
int nw_strmap_put(nw_strmap_t *m, const char *key, size_t keylen, void *value);

/* Removes key; returns its value, or NULL when absent. */
void *nw_strmap_del(nw_strmap_t *m, const char *key, size_t keylen);

size_t nw_strmap_count(const nw_strmap_t *m);

/* Calls fn for each entry, in no particular order; fn must not modify m. */
void nw_strmap_each(const nw_strmap_t *m, void (*fn)(const char *key, void *value, void *arg),
                    void *arg);

#endif
