/* Newswire — topic grammar and matching.
 *
 * A topic is lower-case segments [a-z0-9_-]+ joined by '/', at most
 * NW_TOPIC_MAX_SEGMENTS segments and NW_TOPIC_MAX_LEN bytes
 * ("monde/afrique/benin"). A subscription pattern may also use MQTT-style
 * wildcards: a segment "+" matches exactly one segment; a last segment "#"
 * matches any number of segments, zero included ("monde/#" matches "monde",
 * "monde/afrique" and "monde/afrique/benin"; "#" alone matches every topic). */
#ifndef NW_TOPIC_H
#define NW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define NW_TOPIC_MAX_LEN       128
#define NW_TOPIC_MAX_SEGMENTS  8
#define NW_TOPICS_PER_ITEM_MAX 32 /* an item carries 1..32 topics */

/* Checks that s[0..len) is a valid concrete topic (no wildcard). Returns 0,
 * or -EINVAL with err (may be NULL) naming field and the reason. */
int nw_topic_check(const char *s, size_t len, const char *field, nw_err_t *err);

/* Checks that s[0..len) is a valid subscription pattern: a topic whose
 * segments may also be "+", and whose last segment may be "#". */
int nw_topic_pattern_check(const char *s, size_t len, const char *field, nw_err_t *err);

/* True if the NUL-terminated pattern contains a wildcard segment. */
bool nw_topic_is_wildcard(const char *pattern);

/* True if the valid pattern matches the valid concrete topic. */
bool nw_topic_match(const char *pattern, const char *topic);

/* True if every topic that the valid pattern matches is matched by the
 * valid pattern grant too ("monde/#" covers "monde/+", "monde/afrique/#"
 * and "monde"; "monde/+" does not cover "monde/#"). Used to check that a
 * subscription stays inside what a subscriber is granted. */
bool nw_topic_pattern_covers(const char *grant, const char *pattern);

/* A list of distinct topics or patterns, owned. */
typedef struct nw_topic_list {
    size_t n;
    char **v; /* n NUL-terminated strings */
} nw_topic_list_t;

/* Parses a comma-separated list ("monde/afrique, diplomatie"): blanks around
 * entries are ignored; an empty entry, a duplicate, an invalid topic (or
 * pattern when allow_patterns), or more than max entries is an error naming
 * field. On success returns 0 and *out (owned; free with
 * nw_topic_list_free). On error returns -EINVAL (or -ENOMEM) and *out is
 * NULL. An empty or all-blank csv is an error ("no topic"). */
int nw_topic_list_parse(const char *csv, size_t len, size_t max, bool allow_patterns,
                        const char *field, nw_topic_list_t **out, nw_err_t *err);

/* Builds a list from an array of strings (e.g. a JSON array already
 * unpacked), with the same checks as nw_topic_list_parse. */
int nw_topic_list_from_array(const char *const *v, size_t n, size_t max, bool allow_patterns,
                             const char *field, nw_topic_list_t **out, nw_err_t *err);

void nw_topic_list_free(nw_topic_list_t *list);

#endif
