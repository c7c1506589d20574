/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* csjack-bench's plots: CDF data files and gnuplot; see report.h. */

#include "report.h"

#include "bench_config.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CSJ_BENCH_PLOT_GP
#  define CSJ_BENCH_PLOT_GP "bench/plot.gp"
#endif

static void
write_cdf(const char *path, Samples *smp)
{
  FILE *f = fopen(path, "w");
  if (!f) {
    return;
  }
  fprintf(f, "# value cumulative_fraction\n");
  if (smp->n > 0) {
    bench_summarise(smp->v, smp->n); /* sorts */
    for (size_t i = 0; i < smp->n; ++i) {
      fprintf(f, "%.6g %.6g\n", smp->v[i], (double)(i + 1) / (double)smp->n);
    }
  }
  fclose(f);
}

void
write_plots(const char *dir, PeriodResult *prs, int n)
{
  mkdir(dir, 0777);
  for (int i = 0; i < n; ++i) {
    PeriodResult *pr = &prs[i];
    for (int k = 0; k < pr->n_sys; ++k) {
      char path[1024];
      snprintf(path, sizeof(path), "%s/p%d_evalcode_%s.dat", dir, pr->period, pr->sys[k].key);
      write_cdf(path, &pr->sys[k].eval_ms);
      snprintf(path, sizeof(path), "%s/p%d_event_%s.dat", dir, pr->period, pr->sys[k].key);
      write_cdf(path, &pr->sys[k].event_frames);
      snprintf(path, sizeof(path), "%s/p%d_event_cc_%s.dat", dir, pr->period, pr->sys[k].key);
      write_cdf(path, &pr->sys[k].event_cc_frames);
    }
  }
  const char *script = getenv("CSJ_BENCH_PLOT_GP");
  if (!script) {
    script = CSJ_BENCH_PLOT_GP;
#ifdef CSJ_BENCH_PLOT_GP_INSTALLED
    if (access(script, R_OK) != 0) {
      script = CSJ_BENCH_PLOT_GP_INSTALLED; /* an installed csjack-bench */
    }
#endif
  }
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    printf("\nplots: not drawn (gnuplot is not installed: apt-get install gnuplot-nox); the "
           "data is in %s, draw it with gnuplot -e \"dir='%s'; period=N\" %s\n",
           dir, dir, script);
    return;
  }
  for (int i = 0; i < n; ++i) {
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "gnuplot -e \"dir='%s'; period=%d; rate=%d\" '%s'", dir,
             prs[i].period, prs[i].rate, script);
    if (system(cmd) != 0) {
      printf("\nplots: gnuplot failed for period %d (%s)\n", prs[i].period, cmd);
    } else {
      printf("\nplots: %s/p%d_evalcode_cdf.svg, %s/p%d_event_latency_cdf.svg\n", dir,
             prs[i].period, dir, prs[i].period);
    }
  }
}
