/* Newswire — string-keyed hash map: open addressing, linear probing,
 * backward-shift deletion (no tombstones), power-of-two capacity kept at most
 * 3/4 full. */
#include "strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key; /* NULL: empty */
    size_t keylen;
    uint64_t hash;
    void *value;
} slot_t;

struct nw_strmap {
    slot_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
};

/* FNV-1a 64: fast enough for short topic segments, and the map grows well
 * before clustering hurts. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

nw_strmap_t *nw_strmap_new(void)
{
    return calloc(1, sizeof(nw_strmap_t));
}

void nw_strmap_free(nw_strmap_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* Index of key's slot, or of the empty slot where it would go. */
static size_t find_slot(const nw_strmap_t *m, const char *key, size_t keylen, uint64_t h)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)h & mask;

    while (m->slots[i].key != NULL) {
        const slot_t *s = &m->slots[i];
        if (s->hash == h && s->keylen == keylen && memcmp(s->key, key, keylen) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

static int grow(nw_strmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 8;
    slot_t *old = m->slots;
    size_t ocap = m->cap;
    slot_t *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL)
        return -ENOMEM;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].key != NULL) {
            size_t j = (size_t)old[i].hash & (ncap - 1);
            while (ns[j].key != NULL)
                j = (j + 1) & (ncap - 1);
            ns[j] = old[i];
        }
    }
    free(old);
    return 0;
}

void *nw_strmap_get(const nw_strmap_t *m, const char *key, size_t keylen)
{
    size_t i;

    if (m->count == 0)
        return NULL;
    i = find_slot(m, key, keylen, hash_bytes(key, keylen));
    return m->slots[i].key ? m->slots[i].value : NULL;
}

int nw_strmap_put(nw_strmap_t *m, const char *key, size_t keylen, void *value)
{
    uint64_t h = hash_bytes(key, keylen);
    size_t i;
    char *k;

    if ((m->count + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -ENOMEM;
    i = find_slot(m, key, keylen, h);
    if (m->slots[i].key != NULL) {
        m->slots[i].value = value;
        return 0;
    }
    k = malloc(keylen + 1);
    if (k == NULL)
        return -ENOMEM;
    memcpy(k, key, keylen);
    k[keylen] = '\0';
    m->slots[i] = (slot_t){.key = k, .keylen = keylen, .hash = h, .value = value};
    m->count++;
    return 0;
}

void *nw_strmap_del(nw_strmap_t *m, const char *key, size_t keylen)
{
    size_t mask, i, j;
    void *value;

    if (m->count == 0)
        return NULL;
    mask = m->cap - 1;
    i = find_slot(m, key, keylen, hash_bytes(key, keylen));
    if (m->slots[i].key == NULL)
        return NULL;
    value = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    /* Backward shift: move later entries of the cluster into the hole when
     * their home slot is not between the hole and them. */
    j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (m->slots[j].key == NULL)
            break;
        home = (size_t)m->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return value;
}

size_t nw_strmap_count(const nw_strmap_t *m)
{
    return m->count;
}

void nw_strmap_each(const nw_strmap_t *m, void (*fn)(const char *key, void *value, void *arg),
                    void *arg)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key != NULL)
            fn(m->slots[i].key, m->slots[i].value, arg);
    }
}
