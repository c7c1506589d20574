/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Commands: what application threads ask of the JACK thread.
 *
 * A command is one fixed-size slot in the command ring (command_ring.c). A
 * command that needs more memory than a slot, or a reply, carries a Job:
 * memory the caller's thread allocated, which the JACK thread fills but
 * never frees (job.c). Each command type has one row in the command table
 * (command_exec.c): whether its payload is inline or a job, and the
 * function the JACK thread runs it with. Adding a command is one enum
 * value here, one row there, and its public function in
 * engine_commands.c.
 *
 * Who does what, by thread:
 *   engine_commands.c  producers: any application thread (the public API)
 *   engine_direct.c    the direct path: a caller takes Csound between cycles
 *   command_exec.c     the JACK thread: runs commands at the start of a cycle
 *   compile_worker.c   the worker thread: parses compiles, frees jobs,
 *                      runs result callbacks
 *   job.c              jobs: allocation, references, message capture
 * Each file declares its functions in a header of its own name; this one
 * holds the types they share.
 */

#ifndef CSJ_COMMAND_H
#define CSJ_COMMAND_H

#include "csjack.h"
#include "command_ring.h"
#include "recorder.h"

#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The command ring's slots, and the most jobs in flight at once (the done
 * ring and the parse queue are sized for them, so neither ever refuses). */
#define RING_SLOTS 1024u
#define MAX_JOBS 4096

typedef enum {
  CMD_SCORE_EVENT = 1, /* inline p-fields */
  CMD_SCORE_EVENT_JOB, /* p-fields in a job (too many to inline) */
  CMD_INPUT_MESSAGE,
  CMD_SCORE_OFFSET,
  CMD_COMPILE, /* job: parsed by the worker, merged here */
  CMD_EVAL,
  CMD_SET_STRING_CHANNEL,
  CMD_TABLE_SET,
  CMD_TABLE_GET,
  CMD_TABLE_COPY_IN,
  CMD_TABLE_COPY_OUT,
  CMD_TASK,
  CMD_PROCESS_CALLBACK,
  CMD_PAUSE, /* value: 0 play, 1 pause, 2 toggle */
  CMD_FLUSH,
  CMD_RECORD_START,
  CMD_RECORD_STOP,
  CMD_TASK_OFF_THREAD, /* job: run by the worker while it holds the line */
  CMD_COUNT,           /* not a command: the table's size */
} CommandType;

#define INLINE_PFIELDS 28

/* Stamped score events held on the JACK thread for a later cycle
 * (event_queue.h): at most this many at once; more are handed to Csound's
 * own scheduler at once and counted (CsjStats.events_overflow). */
#define HELD_EVENTS CSJ_HELD_EVENTS

/*
 * Work that needs memory beyond a ring slot, or a reply. Made by the
 * caller's thread; the JACK thread reads and fills it but never frees it;
 * it hands finished jobs to the worker through the done ring.
 *
 * Two references: the caller's (while it waits) and the system's (dropped
 * by the worker once the JACK thread is done). The last one frees.
 */
typedef struct Job {
  _Atomic int refs;
  CommandType type;
  _Atomic bool finished; /* the JACK thread is done with it */
  /* CMD_COMPILE/CMD_EVAL: the parse trees to merge, in order. The parser
   * (the caller for an evalCode, the worker for a compile) fills `trees`
   * and `total`, then raises `published` to `total` in one release store;
   * the JACK thread merges trees[merged] onward, as many per cycle as fit
   * its budget, raising `merged` after each. A NULL tree is a failed parse. */
  void **trees;
  void *tree;     /* the one tree of an evalCode (trees = &tree) */
  bool owns_tree; /* parsed by the caller: freed with the job */
  _Atomic uint32_t published;
  _Atomic uint32_t merged;
  uint32_t total;
  char *text;     /* code, a score line, a channel's text */
  char *name;     /* a channel name */
  double *values; /* p-fields or table data */
  size_t count;   /* values in `values` (or capacity for copy-out) */
  size_t length;  /* a table's length, on reply */
  int table;
  int index;
  char event_type;
  bool absp2;
  bool stamped;   /* a score event to start at frame + p2 */
  uint32_t frame; /* its JACK frame time */
  Recorder *recorder;
  /* The reply. */
  CsjStatus status;
  double value;
  char message[1024]; /* Csound's messages while parsing or compiling */
  size_t message_len;
  sem_t done;
  CsjResultFn fn; /* callback form: run on the worker thread */
  void *fn_data;
  /* CMD_TASK_OFF_THREAD: the function the worker runs once the JACK thread
   * has reached the command, and where it is (TaskState). */
  CsjOffThreadFn task_fn;
  void *task_data;
  _Atomic int task_state;
} Job;

/*
 * An off-thread task's way: queued in the ring; handed to the worker by the
 * JACK thread when the line reaches it (the job goes through the done ring
 * once for that, and once more when it is finished); run by the worker;
 * done, which the JACK thread sees at its next cycle and lets the line go.
 */
typedef enum {
  TASK_QUEUED = 0,
  TASK_HANDED,
  TASK_RUNNING,
  TASK_DONE,
} TaskState;

/* One ring slot's payload. */
typedef struct {
  uint8_t type; /* CommandType */
  union {
    struct {
      char type;
      bool absp2;
      uint8_t count;
      bool stamped; /* start at JACK frame `frame` (+ p2 seconds) */
      uint32_t frame;
      double pfields[INLINE_PFIELDS];
    } event;
    Job *job;
    double seconds;
    struct {
      int table;
      int index;
      double value;
    } table_set;
    struct {
      CsjTaskFn fn;
      void *data;
    } task;
    struct {
      CsjProcessFn fn;
      void *data;
    } process;
    int pause_mode;
  } u;
} Command;

/* How a command's payload travels. */
typedef enum {
  COMMAND_INLINE, /* in the slot itself: nothing to free, no reply */
  COMMAND_JOB,    /* a Job: completed and handed to the worker when run */
} CommandKind;

/* Runs one command on the JACK thread. @p job is cmd->u.job for job
 * commands, else NULL. Returns false when the command cannot finish in this
 * cycle (a compile not yet parsed, or not yet all merged): it is kept aside
 * and runs again next cycle, ahead of everything queued after it. */
typedef bool (*CommandRunFn)(struct CsjEngineImpl *e, const Command *cmd, Job *job);

/* One row of the command table. */
typedef struct {
  const char *name;
  CommandKind kind;
  CommandRunFn run;
} CommandInfo;

/* The JACK thread's own state for commands: what the commands it ran have
 * set, and the compile that holds the line. JACK thread only. */
typedef struct {
  bool paused;
  CsjProcessFn process_fn;
  void *process_data;
  Recorder *recorder;
  Command stash; /* a compile not yet parsed or not yet merged */
  bool stash_full;
  bool stash_is_event;     /* an event left for the next cycle by its cost */
  uint64_t stash_since_ns; /* when the stash began to hold the line */
  uint64_t merge_ns_avg;   /* a unit's merge time, learnt (a running average) */
  bool worker_has_jobs;    /* finished jobs wait for the worker's wake */
  /* The JACK frame time at which the output of Csound's next k-block
   * begins at our output ports, set at the start of each cycle before the
   * commands run: the cycle's jack_last_frame_time plus the frames
   * already waiting in the output FIFO. Stamped events are placed
   * against it. */
  uint32_t next_block_frame;
  /* How many frames of Csound's output, from next_block_frame on, this
   * cycle performs (its whole k-blocks; 0 while paused): a stamped event
   * that starts beyond them is held (CsjEngine.held) for a later cycle. */
  uint32_t horizon;
} CommandExecState;

/* What a cycle's commands left the engine to do. */
typedef enum {
  DRAIN_OK = 0,
  DRAIN_CSOUND_ABORTED, /* a fatal error in a merge: end the performance */
} DrainOutcome;

#endif
