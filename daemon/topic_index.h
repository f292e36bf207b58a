/* Newswire — the gateway's subscription index.
 *
 * Maps subscriptions (an owner — a session — and a topic or pattern) so that
 * routing an item costs O(topics of the item), not O(subscribers): exact
 * topics live in a hash table, wildcard patterns in a trie of segments
 * ("+" and "#" are children like any other). Each index belongs to one
 * gateway thread. Adding and removing a subscription are O(segments). */
#ifndef NW_TOPIC_INDEX_H
#define NW_TOPIC_INDEX_H

#include <stddef.h>

typedef struct nw_topic_index nw_topic_index_t;
typedef struct nw_sub nw_sub_t;

nw_topic_index_t *nw_topic_index_new(void);

/* Frees the index and every subscription still in it. Accepts NULL. */
void nw_topic_index_free(nw_topic_index_t *idx);

/* Subscribes owner to pattern (a valid topic or pattern, not checked here).
 * Returns the subscription handle (owned by the index until removed), or
 * NULL on allocation failure. */
nw_sub_t *nw_topic_index_add(nw_topic_index_t *idx, const char *pattern, void *owner);

/* Removes and frees a subscription. */
void nw_topic_index_remove(nw_topic_index_t *idx, nw_sub_t *sub);

const char *nw_sub_pattern(const nw_sub_t *sub);
void *nw_sub_owner(const nw_sub_t *sub);

/* Calls fn(owner, arg) for every subscription whose pattern matches the
 * concrete topic; an owner subscribed with several matching patterns is
 * visited once per pattern. fn must not change the index. */
typedef void (*nw_topic_visit_cb)(void *owner, void *arg);
void nw_topic_index_match(const nw_topic_index_t *idx, const char *topic, nw_topic_visit_cb fn,
                          void *arg);

/* Subscriptions held. */
size_t nw_topic_index_count(const nw_topic_index_t *idx);

#endif
