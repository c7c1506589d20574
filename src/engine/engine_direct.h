/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_direct.c: the direct path, where a caller takes Csound between
 * two cycles */

#ifndef CSJ_ENGINE_DIRECT_H
#define CSJ_ENGINE_DIRECT_H

#include "engine_state.h"

/* Runs @p fn with Csound taken between two cycles and no
 * parse running (the direct path's exclusion), for short work that must
 * overlap neither. CSJ_ERR_STATE when not performing; CSJ_ERR_TIMEOUT when
 * Csound could not be taken in 10 s. Not the JACK thread. */
CsjStatus engine_direct_run(CsjEngine *e, void (*fn)(CsjEngine *e, void *data), void *data);

#endif
