/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's version: the one it was built as, which the generated
 * csjack_version.h carries from meson's project version. */

#include "csjack.h"

const char *
csj_version(void)
{
  return CSJ_VERSION_STRING;
}

int
csj_version_number(void)
{
  return CSJ_VERSION_NUMBER;
}
