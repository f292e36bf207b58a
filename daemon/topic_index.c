/* Newswire — subscription index: hash table for exact topics, segment trie
 * for wildcard patterns, each node holding a dense array of subscriptions
 * (removal swaps the last one into the hole). */
#include "topic_index.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "strmap.h"
#include "topic.h"

typedef struct node node_t;

struct node {
    node_t *parent;        /* NULL for the trie root and exact entries */
    char *seg;             /* this node's key in its parent (or the exact topic) */
    nw_strmap_t *children; /* segment -> node_t*, created on demand */
    nw_sub_t **subs;
    uint32_t nsubs, capsubs;
    bool exact; /* an entry of the exact-topic table */
};

struct nw_sub {
    node_t *node;
    void *owner;
    uint32_t pos; /* index in node->subs */
    char pattern[];
};

struct nw_topic_index {
    nw_strmap_t *exact; /* topic -> node_t* */
    node_t root;        /* trie of wildcard patterns */
    size_t count;
};

static node_t *node_new(node_t *parent, const char *seg, size_t len)
{
    node_t *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->seg = malloc(len + 1);
    if (n->seg == NULL) {
        free(n);
        return NULL;
    }
    memcpy(n->seg, seg, len);
    n->seg[len] = '\0';
    n->parent = parent;
    return n;
}

static void node_free(node_t *n);

static void free_child_cb(const char *key, void *value, void *arg)
{
    node_free(value);
}

/* Frees n, its subtree and its subscriptions. */
static void node_free(node_t *n)
{
    if (n == NULL)
        return;
    if (n->children != NULL) {
        nw_strmap_each(n->children, free_child_cb, NULL);
        nw_strmap_free(n->children);
    }
    for (uint32_t i = 0; i < n->nsubs; i++)
        free(n->subs[i]);
    free(n->subs);
    free(n->seg);
    free(n);
}

nw_topic_index_t *nw_topic_index_new(void)
{
    nw_topic_index_t *idx = calloc(1, sizeof(*idx));

    if (idx == NULL)
        return NULL;
    idx->exact = nw_strmap_new();
    if (idx->exact == NULL) {
        free(idx);
        return NULL;
    }
    return idx;
}

void nw_topic_index_free(nw_topic_index_t *idx)
{
    if (idx == NULL)
        return;
    nw_strmap_each(idx->exact, free_child_cb, NULL);
    nw_strmap_free(idx->exact);
    if (idx->root.children != NULL) {
        nw_strmap_each(idx->root.children, free_child_cb, NULL);
        nw_strmap_free(idx->root.children);
    }
    for (uint32_t i = 0; i < idx->root.nsubs; i++)
        free(idx->root.subs[i]);
    free(idx->root.subs);
    free(idx);
}

/* Finds or creates the child of parent for seg[0..len). */
static node_t *child_get(node_t *parent, const char *seg, size_t len)
{
    node_t *c;

    if (parent->children == NULL) {
        parent->children = nw_strmap_new();
        if (parent->children == NULL)
            return NULL;
    }
    c = nw_strmap_get(parent->children, seg, len);
    if (c != NULL)
        return c;
    c = node_new(parent, seg, len);
    if (c == NULL)
        return NULL;
    if (nw_strmap_put(parent->children, seg, len, c) < 0) {
        node_free(c);
        return NULL;
    }
    return c;
}

/* Removes empty nodes from n upwards: a node with no subscription and no
 * child goes away. */
static void prune(nw_topic_index_t *idx, node_t *n)
{
    while (n != NULL && n != &idx->root && n->nsubs == 0 &&
           (n->children == NULL || nw_strmap_count(n->children) == 0)) {
        node_t *parent = n->parent;
        if (n->exact)
            nw_strmap_del(idx->exact, n->seg, strlen(n->seg));
        else
            nw_strmap_del(parent->children, n->seg, strlen(n->seg));
        node_free(n);
        n = parent;
    }
}

/* Finds or creates the node where pattern's subscriptions live. */
static node_t *node_for(nw_topic_index_t *idx, const char *pattern)
{
    node_t *n;
    const char *p;

    if (!nw_topic_is_wildcard(pattern)) {
        size_t len = strlen(pattern);
        n = nw_strmap_get(idx->exact, pattern, len);
        if (n != NULL)
            return n;
        n = node_new(NULL, pattern, len);
        if (n == NULL)
            return NULL;
        n->exact = true;
        if (nw_strmap_put(idx->exact, pattern, len, n) < 0) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    n = &idx->root;
    p = pattern;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        node_t *c = child_get(n, p, len);
        if (c == NULL) {
            prune(idx, n);
            return NULL;
        }
        n = c;
        if (slash == NULL)
            return n;
        p = slash + 1;
    }
}

nw_sub_t *nw_topic_index_add(nw_topic_index_t *idx, const char *pattern, void *owner)
{
    size_t plen = strlen(pattern);
    node_t *n = node_for(idx, pattern);
    nw_sub_t *sub;

    if (n == NULL)
        return NULL;
    if (n->nsubs == n->capsubs) {
        uint32_t ncap = n->capsubs ? n->capsubs * 2 : 4;
        nw_sub_t **ns = realloc(n->subs, ncap * sizeof(*ns));
        if (ns == NULL) {
            prune(idx, n);
            return NULL;
        }
        n->subs = ns;
        n->capsubs = ncap;
    }
    sub = malloc(sizeof(*sub) + plen + 1);
    if (sub == NULL) {
        prune(idx, n);
        return NULL;
    }
    memcpy(sub->pattern, pattern, plen + 1);
    sub->node = n;
    sub->owner = owner;
    sub->pos = n->nsubs;
    n->subs[n->nsubs++] = sub;
    idx->count++;
    return sub;
}

void nw_topic_index_remove(nw_topic_index_t *idx, nw_sub_t *sub)
{
    node_t *n = sub->node;
    uint32_t last = n->nsubs - 1;

    NW_ASSERT(n->subs[sub->pos] == sub);
    if (sub->pos != last) {
        n->subs[sub->pos] = n->subs[last];
        n->subs[sub->pos]->pos = sub->pos;
    }
    n->nsubs--;
    if (n->nsubs == 0) {
        free(n->subs);
        n->subs = NULL;
        n->capsubs = 0;
    }
    idx->count--;
    free(sub);
    prune(idx, n);
}

const char *nw_sub_pattern(const nw_sub_t *sub)
{
    return sub->pattern;
}

void *nw_sub_owner(const nw_sub_t *sub)
{
    return sub->owner;
}

static void visit_all(const node_t *n, nw_topic_visit_cb fn, void *arg)
{
    for (uint32_t i = 0; i < n->nsubs; i++)
        fn(n->subs[i]->owner, arg);
}

/* Walks the trie for the segments of topic starting at seg: at each node a
 * "#" child matches the rest (including nothing), then the exact segment
 * and "+" children are followed. */
static void trie_match(const node_t *n, const char *seg, nw_topic_visit_cb fn, void *arg)
{
    const char *slash;
    size_t len;
    const node_t *c;

    if (n->children == NULL)
        return;
    c = nw_strmap_get(n->children, "#", 1);
    if (c != NULL)
        visit_all(c, fn, arg);
    if (seg == NULL)
        return;
    slash = strchr(seg, '/');
    len = slash ? (size_t)(slash - seg) : strlen(seg);
    c = nw_strmap_get(n->children, seg, len);
    if (c != NULL) {
        if (slash == NULL)
            visit_all(c, fn, arg);
        trie_match(c, slash ? slash + 1 : NULL, fn, arg);
    }
    c = nw_strmap_get(n->children, "+", 1);
    if (c != NULL) {
        if (slash == NULL)
            visit_all(c, fn, arg);
        trie_match(c, slash ? slash + 1 : NULL, fn, arg);
    }
}

void nw_topic_index_match(const nw_topic_index_t *idx, const char *topic, nw_topic_visit_cb fn,
                          void *arg)
{
    const node_t *n = nw_strmap_get(idx->exact, topic, strlen(topic));

    if (n != NULL)
        visit_all(n, fn, arg);
    trie_match(&idx->root, topic, fn, arg);
}

size_t nw_topic_index_count(const nw_topic_index_t *idx)
{
    return idx->count;
}
