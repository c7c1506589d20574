/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* engine_options.c: Csound options as the engine applies them. The control
 * thread, before start. */

#ifndef CSJ_ENGINE_OPTIONS_H
#define CSJ_ENGINE_OPTIONS_H

#include "engine_state.h"

#include <stdbool.h>

/*
 * Applies Csound options from one source (the command line, or a CSD's
 * <CsOptions> when @p from says so): CSJ_SUCCESS, CSJ_ERR_OPTION (the
 * engine's last error names the option) or CSJ_ERR_NO_MEMORY. With
 * @p remember, they are applied again after a CSD's own.
 */
CsjStatus engine_apply_options(CsjEngine *e, int count, const char *const *words, const char *from,
                               bool remember);

/* JACK's sample rate, last so that nothing overrides it, and Csound's
 * --realtime mode off. */
void engine_apply_rate_and_modes(CsjEngine *e);

#endif
