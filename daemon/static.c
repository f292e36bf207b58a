/* Newswire — static files with an explicit type table and nosniff. */
#include "static.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "common.h"

static const struct {
    const char *ext;
    const char *mime;
} mime_table[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

const char *nw_static_mime(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot == NULL || strchr(dot, '/') != NULL)
        return NULL;
    for (size_t i = 0; i < NW_ARRAY_LEN(mime_table); i++) {
        if (strcmp(dot, mime_table[i].ext) == 0)
            return mime_table[i].mime;
    }
    return NULL;
}

/* A safe relative path: segments of [A-Za-z0-9._-], none starting with a
 * dot (no "..", no hidden files). */
static int path_safe(const char *p)
{
    bool seg_start = true;

    for (; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (seg_start)
                return 0;
            seg_start = true;
            continue;
        }
        if (seg_start && c == '.')
            return 0;
        seg_start = false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return !seg_start;
}

int nw_static_serve(struct lws *wsi, const char *dir, const char *path, const char *cors_origin)
{
    char headers[768];
    int hlen;
    char file[1024];
    const char *rel = path[0] == '/' ? path + 1 : path;
    const char *mime;
    struct stat st;
    int n;

    if (dir[0] == '\0')
        return 1;
    if (rel[0] == '\0')
        rel = "index.html";
    /* top-level files only: the directory may hold more (tests, packages) */
    if (!path_safe(rel) || strchr(rel, '/') != NULL || (mime = nw_static_mime(rel)) == NULL)
        return 1;
    n = snprintf(file, sizeof(file), "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof(file) || stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return 1;
    /* Module scripts load in CORS mode: pages on other origins that embed
     * the widget need Access-Control-Allow-Origin. */
    hlen =
        snprintf(headers, sizeof(headers),
                 "x-content-type-options: nosniff\x0d\x0a"
                 "cache-control: no-cache\x0d\x0a"
                 "%s%s%s",
                 cors_origin ? "access-control-allow-origin: " : "", cors_origin ? cors_origin : "",
                 cors_origin ? "\x0d\x0avary: origin\x0d\x0a" : "");
    if (hlen < 0 || (size_t)hlen >= sizeof(headers))
        return -1;
    n = lws_serve_http_file(wsi, file, mime, headers, hlen);
    if (n < 0)
        return -1;
    if (n > 0 && lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}
