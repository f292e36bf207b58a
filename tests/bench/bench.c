/* nwbench — helpers shared by the modules (see bench.h). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

int nwb_topic_name(const nwb_config_t *cfg, unsigned k, char *out, size_t cap)
{
    /* Newswire topics are lower-case segments joined by '/'; nchan channel
     * ids are free-form. Both carry the run id, so that a run never sees
     * what an earlier run left in the server. */
    return snprintf(out, cap, cfg->target == NWB_TARGET_NEWSWIRE ? "nwb%s/t%u" : "nwb%s-t%u",
                    cfg->run, k);
}

int nwb_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}
