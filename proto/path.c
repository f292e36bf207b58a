/* Newswire — JSON paths for validation errors. */
#include "path.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "article.h" /* nw_utf8_valid */

void nw_path_init(nw_path_t *p)
{
    p->len = 0;
    p->buf[0] = '\0';
}

/* Appends one byte if there is room (keeping the NUL terminator). */
static void path_putc(nw_path_t *p, char c)
{
    if (p->len + 1 < sizeof(p->buf)) {
        p->buf[p->len++] = c;
        p->buf[p->len] = '\0';
    }
}

size_t nw_path_push_key(nw_path_t *p, const char *key, size_t len)
{
    size_t mark = p->len;
    bool utf8 = nw_utf8_valid(key, len);

    if (p->len > 0)
        path_putc(p, '.');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];

        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            c = '?';
        path_putc(p, (char)c);
    }
    return mark;
}

size_t nw_path_push_index(nw_path_t *p, size_t index)
{
    size_t mark = p->len;
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "[%zu]", index);

    for (int i = 0; i < n; i++)
        path_putc(p, tmp[i]);
    return mark;
}

void nw_path_pop(nw_path_t *p, size_t mark)
{
    if (mark < p->len) {
        p->len = mark;
        p->buf[mark] = '\0';
    }
}
