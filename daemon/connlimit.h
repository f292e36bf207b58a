/* Newswire — connection limits shared by every gateway thread: sessions in
 * total and per peer address. Locked; cheap enough for connection rates. */
#ifndef NW_CONNLIMIT_H
#define NW_CONNLIMIT_H

#include <stdbool.h>

typedef struct nw_limits nw_limits_t;

/* max_total and max_per_ip: 0 means no limit. */
nw_limits_t *nw_limits_new(unsigned max_total, unsigned max_per_ip);
void nw_limits_free(nw_limits_t *l);

/* Counts a session from ip. Returns 0, -EMFILE when max_total sessions are
 * open, -EUSERS when max_per_ip come from ip (nothing is counted then), or
 * -ENOMEM. */
int nw_limits_acquire(nw_limits_t *l, const char *ip);

/* Like nw_limits_acquire() but only checks (counts nothing). */
int nw_limits_check(nw_limits_t *l, const char *ip);

void nw_limits_release(nw_limits_t *l, const char *ip);

/* Replaces the bounds (on reload); sessions already open stay open. */
void nw_limits_set(nw_limits_t *l, unsigned max_total, unsigned max_per_ip);

/* Counts a session for a token subject; false (nothing counted) when
 * max_conn sessions already hold it. */
bool nw_limits_sub_acquire(nw_limits_t *l, const char *sub, unsigned max_conn);
void nw_limits_sub_release(nw_limits_t *l, const char *sub);

#endif
