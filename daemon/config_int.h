/* Newswire — internals shared by config.c (the key table, the config file,
 * the command line) and config_section.c (the [publisher NAME] and
 * [webhook NAME] sections). Not for other modules: they use config.h. */
#ifndef NW_CONFIG_INT_H
#define NW_CONFIG_INT_H

#include <stdio.h>

#include "config.h"

/* A unit suffix and its multiplier ("s" = 1000 for milliseconds). */
typedef struct nw_config_unit {
    const char *suffix;
    unsigned long long mult;
} nw_config_unit_t;

#define NW_CONFIG_MS_UNITS 5
#define NW_CONFIG_S_UNITS  5

/* Durations in milliseconds (ms, s, m, min, h) and in seconds (s, m,
 * min, h, d). */
extern const nw_config_unit_t nw_config_ms_units[NW_CONFIG_MS_UNITS];
extern const nw_config_unit_t nw_config_s_units[NW_CONFIG_S_UNITS];

/* Parses a non-negative decimal integer followed by an optional unit suffix
 * from units (each with its multiplier). A bare number uses bare_mult.
 * Returns 0 or -EINVAL. */
int nw_config_parse_scaled(const char *s, const nw_config_unit_t *units, size_t nunits,
                           unsigned long long bare_mult, unsigned long long *out);

/* Trims blanks at both ends of s in place and returns it. */
char *nw_config_trim(char *s);

/* The section being read: none (top-level keys), a publisher or a webhook. */
typedef struct nw_config_section {
    nw_publisher_cfg_t *pub;
    nw_webhook_cfg_t *hook;
} nw_config_section_t;

/* Starts the section of a "[kind NAME]" line (trimmed). Returns 0, or
 * -EINVAL with err naming what is wrong. */
int nw_config_section_begin(nw_config_t *cfg, char *line, nw_config_section_t *sec, nw_err_t *err);

/* Sets a key of the open section. Returns 0, -ENOENT for an unknown key or
 * -EINVAL for a bad value, with err naming the key. */
int nw_config_section_set(nw_config_section_t *sec, const char *key, const char *value,
                          nw_err_t *err);

/* Checks that the open section (if any) has its required keys. */
int nw_config_section_end(const nw_config_section_t *sec, nw_err_t *err);

/* Writes the sections after the keys (webhook secrets masked). */
void nw_config_dump_sections(const nw_config_t *cfg, FILE *out);

#endif
