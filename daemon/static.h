/* Newswire — static files of the public listener (widget, client, demo
 * page): served from static_dir, GET and HEAD only, with a Content-Type from
 * the file's extension (files of unknown type are not served) and
 * X-Content-Type-Options: nosniff. Runs on the gateway thread. */
#ifndef NW_STATIC_H
#define NW_STATIC_H

struct lws;

/* Serves path (the request path, "/" meaning "/index.html") from the top
 * level of dir, with Access-Control-Allow-Origin: cors_origin when not
 * NULL. Returns 1 when there is no such file (the caller answers 404), 0
 * when the file is being sent, -1 when the connection must close. */
int nw_static_serve(struct lws *wsi, const char *dir, const char *path, const char *cors_origin);

/* The Content-Type for a file name, or NULL for a type not served. */
const char *nw_static_mime(const char *name);

#endif
