/* Newswire — the wire tail.
 *
 * Reads the global wire stream on a dedicated Redis connection with
 * XREAD BLOCK from the last id seen, decodes each entry once into a
 * pre-encoded event, and hands events to a sink (the gateways). When the
 * connection drops it is re-established with backoff by the Redis link and
 * reading resumes from the same id, so nothing on the wire is skipped. When
 * the sink has no room, reading pauses (backpressure onto Redis, which keeps
 * the wire) instead of dropping anything. */
#ifndef NW_WIRE_H
#define NW_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "event.h"
#include "metrics.h"
#include "redis.h"

struct event_base;

typedef struct nw_wire nw_wire_t;

/* Where events go. room() says how many events push() may take now; push()
 * takes its own references; flush() ends a batch. position() is called when
 * the tail (re)starts reading, with the id after which every event will be
 * pushed. */
typedef struct nw_wire_sink {
    size_t (*room)(void *arg);
    void (*push)(nw_event_t *ev, void *arg);
    void (*flush)(void *arg);
    void (*position)(const char *id, void *arg);
    void *arg;
} nw_wire_sink_t;

/* Creates the tail on conn (borrowed, dedicated to it: the tail installs
 * its state callback), which reads the wire from the master or a replica
 * (wire_read). master (borrowed, shared) is the command link: the first
 * start position and epoch renewals run there with position, a script
 * registered on master (proto/position.lua). Reading starts when conn
 * comes up.
 *
 * At every reconnect the tail reads back the newest entries at or before
 * its cursor and compares them with the last NW_WIRE_RING it delivered:
 * after a failover to a replica that missed writes, the entries it
 * delivered that the new master lacks are lost (the epoch is renewed:
 * resuming clients get recovered: false), entries the new master wrote
 * with ids at or before the cursor are delivered, and reading continues
 * from what the new master has, so its next writes are not skipped. */
nw_wire_t *nw_wire_new(struct event_base *base, nw_redis_t *conn, nw_redis_t *master,
                       const nw_config_t *cfg, nw_metrics_t *metrics, const nw_wire_sink_t *sink,
                       nw_redis_script_t *position);

/* True from a resynchronisation that found delivered entries lost until the
 * master has the new epoch. */
bool nw_wire_epoch_owed(const nw_wire_t *w);

/* True while the tail is connected and reading, and no epoch renewal is
 * owed to the master (readiness: /readyz). */
bool nw_wire_is_live(const nw_wire_t *w);

/* The id of the last entry read ("" before the first read position is
 * known). */
const char *nw_wire_cursor(const nw_wire_t *w);

/* Frees w. Free its connection first: the connection's pending callbacks
 * still refer to w. Accepts NULL. */
void nw_wire_free(nw_wire_t *w);

#endif
