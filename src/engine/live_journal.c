/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live journal (live_journal.h). */

#include "live_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
live_journal_init(LiveJournal *j)
{
  memset(j, 0, sizeof *j);
  pthread_mutex_init(&j->lock, NULL);
}

void
live_journal_free(LiveJournal *j)
{
  free(j->text);
  j->text = NULL;
  pthread_mutex_destroy(&j->lock);
}

void
live_journal_append(LiveJournal *j, bool eval, const char *code)
{
  if (!code) {
    return;
  }
  const size_t code_len = strlen(code);
  char head[64];
  pthread_mutex_lock(&j->lock);
  const int head_len =
    snprintf(head, sizeof head, ";;; csjack: %s %u\n", eval ? "eval" : "compile", j->entries + 1);
  const bool newline = code_len == 0 || code[code_len - 1] != '\n';
  const size_t need = j->length + (size_t)head_len + code_len + (newline ? 1 : 0) + 1;
  if (need > j->capacity) {
    size_t capacity = j->capacity ? j->capacity : 4096;
    while (capacity < need) {
      capacity *= 2;
    }
    char *grown = realloc(j->text, capacity);
    if (!grown) {
      j->failed = true;
      pthread_mutex_unlock(&j->lock);
      return;
    }
    j->text = grown;
    j->capacity = capacity;
  }
  memcpy(j->text + j->length, head, (size_t)head_len);
  j->length += (size_t)head_len;
  memcpy(j->text + j->length, code, code_len);
  j->length += code_len;
  if (newline) {
    j->text[j->length++] = '\n';
  }
  j->text[j->length] = '\0';
  ++j->entries;
  pthread_mutex_unlock(&j->lock);
  atomic_fetch_add_explicit(&j->changes, 1, memory_order_relaxed);
}

char *
live_journal_copy(LiveJournal *j, size_t *length, bool *short_of_memory)
{
  pthread_mutex_lock(&j->lock);
  char *copy = malloc(j->length + 1);
  if (copy) {
    if (j->length) {
      memcpy(copy, j->text, j->length);
    }
    copy[j->length] = '\0';
    *length = j->length;
  }
  *short_of_memory = j->failed;
  pthread_mutex_unlock(&j->lock);
  return copy;
}
