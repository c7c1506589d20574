/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program outside the tree, built against the installed csjack only
 * (pkg-config --cflags --libs csjack) by tests/install/check_install.sh.
 *
 * It plays a sine on the JACK server JACK_DEFAULT_SERVER names (connecting
 * nothing), evaluates `return 42` in the running engine, sees k-blocks
 * performed, checks that the
 * library's csj_version() is the header's CSJ_VERSION_STRING, and stops.
 * Exit 0 on success, 1 on any failure (with a line on stderr saying why).
 */

#define _POSIX_C_SOURCE 200809L /* nanosleep, with -std=c11 */

#include <csjack.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#if !defined(CSJ_VERSION_MAJOR) || !defined(CSJ_VERSION_MINOR) || \
    !defined(CSJ_VERSION_MICRO) || !defined(CSJ_VERSION_NUMBER)
#  error "csjack.h does not define the CSJ_VERSION_* macros"
#endif
#if !CSJ_VERSION_AT_LEAST(0, 1, 0)
#  error "CSJ_VERSION_AT_LEAST(0, 1, 0) is false"
#endif

static const char orchestra[] =
  "ksmps = 32\n"
  "nchnls = 2\n"
  "0dbfs = 1\n"
  "instr 1\n"
  "  asig poscil 0.1, 440\n"
  "  outs asig, asig\n"
  "endin\n"
  "schedule 1, 0, -1\n";

static int
fail(const char *what, CsjStatus status, const CsjEngine *e)
{
  fprintf(stderr, "consumer: %s: %s (%s)\n", what, csj_strerror(status), csj_last_error(e));
  return 1;
}

static void
sleep_ms(long ms)
{
  const struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

int
main(void)
{
  if (strcmp(csj_version(), CSJ_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: csj_version() is '%s', the header's CSJ_VERSION_STRING '%s'\n",
            csj_version(), CSJ_VERSION_STRING);
    return 1;
  }
  if (csj_version_number() != CSJ_VERSION_NUMBER) {
    fprintf(stderr, "consumer: csj_version_number() is %d, CSJ_VERSION_NUMBER %d\n",
            csj_version_number(), CSJ_VERSION_NUMBER);
    return 1;
  }

  CsjOptions opts;
  csj_options_init(&opts);
  opts.client_name = "csjack-consumer";
  opts.no_connect = true;

  /* The script starts jackd just before: wait up to 10 s for it. */
  CsjEngine *e = NULL;
  CsjStatus status = CSJ_ERR_NO_SERVER;
  for (int i = 0; i < 100 && status == CSJ_ERR_NO_SERVER; ++i) {
    if (i > 0) {
      sleep_ms(100);
    }
    status = csj_engine_create(&opts, &e);
  }
  if (status != CSJ_SUCCESS) {
    return fail("csj_engine_create", status, NULL);
  }
  if ((status = csj_engine_compile_orc_text(e, orchestra)) != CSJ_SUCCESS) {
    fail("csj_engine_compile_orc_text", status, e);
    csj_engine_destroy(e);
    return 1;
  }
  if ((status = csj_engine_start(e)) != CSJ_SUCCESS) {
    fail("csj_engine_start", status, e);
    csj_engine_destroy(e);
    return 1;
  }

  double value = 0;
  char error[256] = "";
  status = csj_engine_eval_code(e, "return 42", 10000, &value, error, sizeof error);
  if (status != CSJ_SUCCESS) {
    fprintf(stderr, "consumer: csj_engine_eval_code: %s (%s)\n", csj_strerror(status), error);
    csj_engine_destroy(e);
    return 1;
  }
  if (value != 42.0) {
    fprintf(stderr, "consumer: `return 42` evaluated to %g\n", value);
    csj_engine_destroy(e);
    return 1;
  }

  /* The sine plays: k-blocks are performed (the eval may have run in the
   * first cycle, before its k-blocks). */
  CsjStats stats;
  csj_engine_stats(e, &stats);
  for (int i = 0; i < 100 && stats.ksmps_blocks < 100; ++i) {
    sleep_ms(20);
    csj_engine_stats(e, &stats);
  }
  if (stats.ksmps_blocks < 100 || stats.outputs != 2) {
    fprintf(stderr, "consumer: after 2 s: %llu cycles, %llu k-blocks, %u outputs\n",
            (unsigned long long)stats.cycles, (unsigned long long)stats.ksmps_blocks,
            stats.outputs);
    csj_engine_destroy(e);
    return 1;
  }

  csj_engine_stop(e);
  int code = 0;
  const CsjEndReason reason = csj_engine_join(e, &code);
  csj_engine_destroy(e);
  if (reason != CSJ_END_STOPPED) {
    fprintf(stderr, "consumer: the performance ended with '%s', not 'stopped'\n",
            csj_end_reason_name(reason));
    return 1;
  }
  printf("consumer: csjack %s: return 42 gave %g; %llu k-blocks; stopped\n", csj_version(),
         value, (unsigned long long)stats.ksmps_blocks);
  return 0;
}
