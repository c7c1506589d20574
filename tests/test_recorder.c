/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder alone (recorder.c), no JACK: this thread plays the JACK
 * thread, writing cycles of a counter as fast as it can into a recorder
 * whose ring holds only a few cycles (a low rate makes it small), so that
 * the writer is always behind. Allowed to wait (as while the server
 * freewheels), it must lose nothing; not allowed (real time), it drops,
 * and says so.
 */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sndfile.h>

#include "recorder.h"

#define CHANNELS 2
#define CYCLE 256
#define RATE 1000 /* a ring of 2 s: 16 KiB, eight cycles */

static char g_path[128];
static float *g_buf;
static _Atomic int g_reports;
static char g_report[600];

static void cleanup(void)
{
  free(g_buf);
  g_buf = NULL;
  if (g_path[0])
    unlink(g_path);
}

static void on_error(void *data, const char *why)
{
  (void)data;
  snprintf(g_report, sizeof g_report, "%s", why);
  atomic_fetch_add(&g_reports, 1);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Writes @p cycles cycles of the counter (frame n is n, on every channel);
 * returns the frames dropped and, in *waited_ns, the time waited. */
static uint64_t play(Recorder *r, long cycles, bool may_wait, uint64_t *waited_ns)
{
  static float ch[CHANNELS][CYCLE];
  const float *out[CHANNELS] = {ch[0], ch[1]};
  uint64_t lost = 0;
  *waited_ns = 0;
  for (long c = 0; c < cycles; c++) {
    for (int k = 0; k < CHANNELS; k++)
      for (int i = 0; i < CYCLE; i++)
        ch[k][i] = (float)(c * CYCLE + i);
    uint64_t waited = 0;
    lost += recorder_write(r, out, CYCLE, may_wait, &waited);
    *waited_ns += waited;
  }
  return lost;
}

/* The frames of the file at g_path, and those not following on by one. */
static long read_back(long *wrong)
{
  SF_INFO info = {0};
  SNDFILE *f = sf_open(g_path, SFM_READ, &info);
  cr_assert(ne(ptr, f, NULL), "%s: %s", g_path, sf_strerror(NULL));
  cr_assert(eq(int, info.channels, CHANNELS));
  g_buf = malloc(sizeof(float) * CHANNELS * (size_t)(info.frames ? info.frames : 1));
  cr_assert(ne(ptr, g_buf, NULL));
  const long n = (long)sf_readf_float(f, g_buf, info.frames);
  sf_close(f);
  *wrong = 0;
  for (long i = 0; i < n; i++)
    *wrong += g_buf[CHANNELS * i] != (float)i || g_buf[CHANNELS * i + 1] != (float)i;
  return n;
}

Test(recorder, waits_for_room_when_allowed, .fini = cleanup, .timeout = 60)
{
  snprintf(g_path, sizeof g_path, "/tmp/csjack-test-%d-recorder-wait.wav", (int)getpid());
  char why[600] = "";
  Recorder *r = recorder_open(g_path, 32, CHANNELS, RATE, CYCLE, on_error, NULL, why, sizeof why);
  cr_assert(ne(ptr, r, NULL), "%s", why);
  const long cycles = 20000; /* 5.1 M frames: 625 times the ring */
  uint64_t waited = 0;
  const double t0 = now_s();
  const uint64_t lost = play(r, cycles, true, &waited);
  const double t1 = now_s();
  const bool ok = recorder_close(r, why, sizeof why);
  long wrong = 0;
  const long frames = read_back(&wrong);
  fprintf(stderr,
          "recorder waits_for_room: %ld frames through a ring of 8 cycles in %.2f s, %.2f s of "
          "it waiting; lost %llu, %ld wrong\n",
          frames, t1 - t0, waited * 1e-9, (unsigned long long)lost, wrong);
  cr_assert(ok, "%s", why);
  cr_assert(eq(u64, lost, 0));
  cr_assert(gt(u64, waited, 0), "the writer was never behind: the test did not test");
  cr_assert(eq(long, frames, cycles * CYCLE));
  cr_assert(eq(long, wrong, 0L));
  cr_assert(eq(int, atomic_load(&g_reports), 0), "%s", g_report);
}

Test(recorder, drops_in_real_time_and_says_so, .fini = cleanup, .timeout = 60)
{
  snprintf(g_path, sizeof g_path, "/tmp/csjack-test-%d-recorder-drop.wav", (int)getpid());
  char why[600] = "";
  Recorder *r = recorder_open(g_path, 32, CHANNELS, RATE, CYCLE, on_error, NULL, why, sizeof why);
  cr_assert(ne(ptr, r, NULL), "%s", why);
  uint64_t waited = 0;
  const uint64_t lost = play(r, 2000, false, &waited);
  const bool ok = recorder_close(r, why, sizeof why);
  long wrong = 0;
  const long frames = read_back(&wrong);
  fprintf(stderr, "recorder drops: %llu of %d frames lost, %ld in the file; said: '%s'; close: "
                  "'%s'\n",
          (unsigned long long)lost, 2000 * CYCLE, frames, g_report, why);
  cr_assert(gt(u64, lost, 0), "nothing dropped: the test did not test");
  cr_assert(eq(u64, waited, 0), "waited in real time");
  cr_assert(eq(long, frames + (long)lost, 2000L * CYCLE));
  cr_assert(not(ok), "a recording that lost frames closed as if whole");
  cr_assert(ne(ptr, strstr(why, "lost"), NULL), "%s", why);
  cr_assert(eq(int, atomic_load(&g_reports), 1), "said %d times", atomic_load(&g_reports));
  cr_assert(ne(ptr, strstr(g_report, "losing frames"), NULL), "%s", g_report);
}
