/* Newswire — internals of the article model shared by article.c,
 * article_schema.c and article_format.c (not part of the public API). */
#ifndef NW_ARTICLE_INTERNAL_H
#define NW_ARTICLE_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "common.h"

/* Validates item (any JSON value) against the Newswire profile of the ninjs
 * 2.2 schema: the declarative table in article_schema.c. Returns 0, or
 * -EINVAL with err naming the JSON path at fault. */
int nw_article_schema_validate(const json_t *item, nw_err_t *err);

/* Format checks used by the schema table. Each returns 0 or -EINVAL and, on
 * failure, writes a short reason (without the field name) into why. */

/* An absolute URI (RFC 3986): scheme ":" then at least one character; only
 * printable ASCII outside `"<>\^`{|}` and space; '%' followed by two hex
 * digits. */
int nw_article_format_uri(const char *s, size_t len, char *why, size_t whylen);

/* A BCP 47-like language tag: [A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*. */
int nw_article_format_language(const char *s, size_t len, char *why, size_t whylen);

/* The Newswire "version": a decimal string 1..999999999, no leading zero. */
int nw_article_format_version(const char *s, size_t len, char *why, size_t whylen);

/* An RFC 3339 date-time (see nw_rfc3339_parse). */
int nw_article_format_datetime(const char *s, size_t len, char *why, size_t whylen);

#endif
