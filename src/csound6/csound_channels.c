/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Csound's software bus and its tables: control channels by address,
 * string channels by copy, a table's data in place.
 */

#include "csound6_internal.h"

#include <stdlib.h>
#include <string.h>

double *
csound_adapter_control_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_CONTROL_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  if (csoundGetChannelPtr(cs->csound, &value, name, type) != CSOUND_SUCCESS) {
    return NULL;
  }
  return value;
}

static bool
ensure_string_channel(CsoundAdapter *cs, const char *name)
{
  MYFLT *value = NULL;
  const int type = CSOUND_STRING_CHANNEL | CSOUND_INPUT_CHANNEL | CSOUND_OUTPUT_CHANNEL;
  return csoundGetChannelPtr(cs->csound, &value, name, type) == CSOUND_SUCCESS;
}

int
csound_adapter_set_string_channel(CsoundAdapter *cs, const char *name, const char *text)
{
  if (!ensure_string_channel(cs, name)) {
    return -1;
  }
  csoundSetStringChannel(cs->csound, name, (char *)text);
  return 0;
}

int
csound_adapter_get_string_channel(CsoundAdapter *cs, const char *name, char *out, size_t out_size)
{
  if (!ensure_string_channel(cs, name) || out_size == 0) {
    return -1;
  }
  /* csoundGetStringChannel copies the whole string with no size limit, and
   * the channel's data size is its capacity (the longest text it ever held),
   * not the text's length: copy into a buffer that large, then check. */
  const int capacity = csoundGetChannelDatasize(cs->csound, name);
  if (capacity <= 0) {
    return -1;
  }
  char *text = calloc((size_t)capacity + 1, 1);
  if (!text) {
    return -1;
  }
  csoundGetStringChannel(cs->csound, name, text);
  const size_t len = strnlen(text, (size_t)capacity);
  const int result = len + 1 <= out_size ? 0 : -2;
  if (result == 0) {
    memcpy(out, text, len);
    out[len] = '\0';
  }
  free(text);
  return result;
}

int
csound_adapter_table(CsoundAdapter *cs, int table, double **data)
{
  MYFLT *ptr = NULL;
  const int length = csoundGetTable(cs->csound, &ptr, table);
  *data = ptr;
  return length;
}
