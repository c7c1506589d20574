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

int
csound_adapter_each_channel(CsoundAdapter *cs, CsoundChannelFn fn, void *data)
{
  controlChannelInfo_t *list = NULL;
  const int n = csoundListChannels(cs->csound, &list);
  if (n < 0) {
    return -1;
  }
  for (int i = 0; i < n; ++i) {
    const int type = list[i].type & CSOUND_CHANNEL_TYPE_MASK;
    if (type == CSOUND_CONTROL_CHANNEL) {
      MYFLT *value = NULL;
      if (csoundGetChannelPtr(cs->csound, &value, list[i].name, list[i].type) == CSOUND_SUCCESS &&
          value) {
        fn(data, list[i].name, *value, NULL);
      }
    } else if (type == CSOUND_STRING_CHANNEL) {
      const int capacity = csoundGetChannelDatasize(cs->csound, list[i].name);
      char *text = capacity > 0 ? calloc((size_t)capacity + 1, 1) : NULL;
      if (text) {
        csoundGetStringChannel(cs->csound, list[i].name, text);
        fn(data, list[i].name, 0, text);
        free(text);
      }
    }
  }
  csoundDeleteChannelList(cs->csound, list);
  return n;
}
