/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live journal: every piece of orchestra code Csound accepted since
 * start, in the order it was merged, and a count of the changes a save
 * records. What csj_engine_save_state writes (engine_live_state.c); fed by
 * every path that merges code (the worker for queued compiles, the direct
 * and prompt callers for theirs). Never the JACK thread.
 */

#ifndef CSJ_LIVE_JOURNAL_H
#define CSJ_LIVE_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  pthread_mutex_t lock;
  char *text; /* the entries, each after its ";;; csjack: KIND N" line */
  size_t length;
  size_t capacity;
  uint32_t entries;
  bool failed;              /* an append ran out of memory: the journal is short */
  _Atomic uint64_t changes; /* csj_engine_state_changes */
} LiveJournal;

void live_journal_init(LiveJournal *j);
void live_journal_free(LiveJournal *j);

/* Appends @p code accepted as an eval (@p eval) or a compile. Not the JACK
 * thread (allocates, locks). */
void live_journal_append(LiveJournal *j, bool eval, const char *code);

/* Counts a change that is not code (a channel set). Real-time safe. */
static inline void
live_journal_touch(LiveJournal *j)
{
  atomic_fetch_add_explicit(&j->changes, 1, memory_order_relaxed);
}

/* A copy of the journal's text (the caller frees), or NULL when out of
 * memory; *short_of_memory tells whether an append was lost. */
char *live_journal_copy(LiveJournal *j, size_t *length, bool *short_of_memory);

#endif
