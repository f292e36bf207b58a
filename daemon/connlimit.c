/* Newswire — session counts in total and per peer address. */
#include "connlimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct nw_limits {
    pthread_mutex_t lock;
    unsigned max_total, max_per_ip;
    unsigned total;
    nw_strmap_t *per_ip; /* ip -> count (uintptr_t, never 0) */
    nw_strmap_t *subs;   /* token subject -> count */
};

nw_limits_t *nw_limits_new(unsigned max_total, unsigned max_per_ip)
{
    nw_limits_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->per_ip = nw_strmap_new();
    l->subs = nw_strmap_new();
    if (l->per_ip == NULL || l->subs == NULL || pthread_mutex_init(&l->lock, NULL) != 0) {
        nw_strmap_free(l->per_ip);
        nw_strmap_free(l->subs);
        free(l);
        return NULL;
    }
    l->max_total = max_total;
    l->max_per_ip = max_per_ip;
    return l;
}

void nw_limits_free(nw_limits_t *l)
{
    if (l == NULL)
        return;
    nw_strmap_free(l->per_ip);
    nw_strmap_free(l->subs);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* The check shared by acquire and check; called with the lock held. */
static int over(const nw_limits_t *l, uintptr_t n)
{
    if (l->max_total != 0 && l->total >= l->max_total)
        return -EMFILE;
    if (l->max_per_ip != 0 && n >= l->max_per_ip)
        return -EUSERS;
    return 0;
}

int nw_limits_check(nw_limits_t *l, const char *ip)
{
    int rc;

    pthread_mutex_lock(&l->lock);
    rc = over(l, (uintptr_t)nw_strmap_get(l->per_ip, ip, strlen(ip)));
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int nw_limits_acquire(nw_limits_t *l, const char *ip)
{
    uintptr_t n;
    int rc;

    pthread_mutex_lock(&l->lock);
    n = (uintptr_t)nw_strmap_get(l->per_ip, ip, strlen(ip));
    rc = over(l, n);
    if (rc == 0 && nw_strmap_put(l->per_ip, ip, strlen(ip), (void *)(n + 1)) < 0)
        rc = -ENOMEM;
    if (rc == 0)
        l->total++;
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void nw_limits_release(nw_limits_t *l, const char *ip)
{
    uintptr_t n;

    pthread_mutex_lock(&l->lock);
    n = (uintptr_t)nw_strmap_get(l->per_ip, ip, strlen(ip));
    if (n <= 1)
        nw_strmap_del(l->per_ip, ip, strlen(ip));
    else
        nw_strmap_put(l->per_ip, ip, strlen(ip), (void *)(n - 1));
    if (l->total > 0)
        l->total--;
    pthread_mutex_unlock(&l->lock);
}

void nw_limits_set(nw_limits_t *l, unsigned max_total, unsigned max_per_ip)
{
    pthread_mutex_lock(&l->lock);
    l->max_total = max_total;
    l->max_per_ip = max_per_ip;
    pthread_mutex_unlock(&l->lock);
}

bool nw_limits_sub_acquire(nw_limits_t *l, const char *sub, unsigned max_conn)
{
    uintptr_t n;
    bool ok = false;

    pthread_mutex_lock(&l->lock);
    n = (uintptr_t)nw_strmap_get(l->subs, sub, strlen(sub));
    if (n < max_conn && nw_strmap_put(l->subs, sub, strlen(sub), (void *)(n + 1)) == 0)
        ok = true;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void nw_limits_sub_release(nw_limits_t *l, const char *sub)
{
    uintptr_t n;

    pthread_mutex_lock(&l->lock);
    n = (uintptr_t)nw_strmap_get(l->subs, sub, strlen(sub));
    if (n <= 1)
        nw_strmap_del(l->subs, sub, strlen(sub));
    else
        nw_strmap_put(l->subs, sub, strlen(sub), (void *)(n - 1));
    pthread_mutex_unlock(&l->lock);
}
