/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's state: the engine struct and what every engine file may do
 * with it (end the performance, set the last error, book foreign time).
 * Below every engine file: it includes none of them, and the one function
 * it declares (engine_log_text) lives in engine_state.c, below them too.
 */

#ifndef CSJ_ENGINE_STATE_H
#define CSJ_ENGINE_STATE_H

#include "csjack.h"

#include "clock.h"
#include "command.h"
#include "command_ring.h"
#include "csound_adapter.h"
#include "event_queue.h"
#include "jack_backend.h"
#include "jack_links.h"
#include "jack_transport.h"
#include "live_journal.h"
#include "message_log.h"
#include "midi_parse.h"
#include "midi_queue.h"
#include "recorder.h"
#include "spsc_ring.h"

#include <pthread.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef enum {
  ENGINE_CREATED = 0,
  ENGINE_COMPILED,
  ENGINE_PERFORMING,
  ENGINE_FINISHED,
} EngineState;

/* Who may call into Csound right now: the JACK thread during its cycle, a
 * direct caller between cycles, or nobody. The JACK thread only ever tries
 * (one CAS) and never waits. */
typedef enum {
  OWNER_NONE = 0,
  OWNER_RT,
  OWNER_DIRECT,
  OWNER_PROMPT, /* a prompt caller, in a window between two cycles */
} CsoundOwner;

/* The prompt path's record of one kind of merge (evalCode, compile): the
 * wall times of its last PROMPT_COST_SAMPLES merges, microseconds, from
 * which it predicts the next (engine_direct.c). Under parse_mutex. */
#define PROMPT_COST_SAMPLES 32
typedef struct {
  uint32_t us[PROMPT_COST_SAMPLES];
  uint32_t n;    /* samples held, up to PROMPT_COST_SAMPLES */
  uint32_t next; /* where the next one goes */
} PromptCost;

typedef struct ChannelEntry ChannelEntry;

struct CsjChannelImpl {
  double *value;        /* inside Csound's channel storage */
  LiveJournal *journal; /* the engine's: a set is a change to save */
};

struct ChannelEntry {
  ChannelEntry *next;
  char *name;
  struct CsjChannelImpl channel;
};

/* The most threads of the process csjack looks at around csoundStart. */
#define ENGINE_MAX_THREADS 64

/* The transport channels the orchestra reads (engine_transport.c). */
typedef enum {
  TRANSPORT_CH_ROLLING = 0,
  TRANSPORT_CH_FRAME,
  TRANSPORT_CH_SECONDS,
  TRANSPORT_CH_BPM,
  TRANSPORT_CH_BAR,
  TRANSPORT_CH_BEAT,
  TRANSPORT_CH_TICK,
  TRANSPORT_CH_BEATS_PER_BAR,
  TRANSPORT_CHANNELS
} TransportChannel;

/* The JACK transport as the engine sees it (engine_transport.c). */
typedef struct {
  CsjTransport mode;
  bool master_wanted;
  _Atomic bool master; /* csjack is the timebase master */
  JackTimebase timebase;
  double score_bpm;                    /* the CSD score's `t` tempo; 0: none */
  double *channel[TRANSPORT_CHANNELS]; /* inside Csound; NULL if refused */
  /* JACK thread only: this cycle's position, and the k-blocks of a locate
   * still to skip. */
  JackTransportPos pos;
  uint64_t skip_left;
  bool seeking;
  _Atomic bool rolling;
  _Atomic uint32_t frame;
  _Atomic uint64_t locates;
  _Atomic uint64_t held_cycles;
} EngineTransport;

struct CsjEngineImpl {
  char *client_name;
  char *server_name; /* NULL: the default server */
  char *connect_out;
  char *connect_in;
  bool no_connect;
  bool midi; /* MIDI ports and Csound's MIDI on */
  char *connect_midi_in;
  char *connect_midi_out;

  MessageLog *log;
  CsoundAdapter *csound;
  char **user_options; /* Csound options from the caller, as applied */
  int user_option_count;
  /* --no-default-paths reached Csound: no folder of a compiled file is
   * added to its search paths (engine_folders.c). Set on the control
   * thread before start. */
  bool no_default_paths;
  JackBackend *jack;
  /* The last error's text: written by API calls on any thread (never the
   * JACK thread) and by the recorder's writer, so only under error_lock;
   * csj_last_error hands each reader a copy of its own. */
  pthread_mutex_t error_lock;
  char last_error[512];

  /* Set once at start, read by the JACK thread. */
  uint32_t ksmps;
  uint32_t n_in;
  uint32_t n_out;
  double to_csound;   /* JACK's ±1.0 to Csound's 0dbfs */
  double from_csound; /* and back */

  /* Owned by the JACK thread while performing. */
  uint32_t period;      /* the period the FIFO was laid out for */
  uint32_t in_fill;     /* frames of the current block already in spin */
  uint32_t fifo_frames; /* frames waiting in each output FIFO */
  uint32_t fifo_capacity;
  float *fifo[JACK_BACKEND_MAX_PORTS];
  /* MIDI, JACK thread only: the next midi_in event to hand Csound this
   * cycle, and the splitter of Csound's output into messages (its state
   * carries across blocks). */
  uint32_t midi_in_next;
  MidiParser midi_out_parser;
  JackMidiCycle *midi_cycle; /* this cycle's, while a block's output is placed */
  uint32_t midi_out_frame;   /* the frame of that block's first output */
  /* Constant-latency mode's midi_in events, each for its frame plus the
   * delay, held across cycles (allocated with the MIDI ports). */
  MidiQueue midi_held;
  uint32_t cycle_frame; /* this cycle's jack_last_frame_time */
  EngineTransport transport;
  /* Score events and what they cost Csound (JACK thread only): handed to
   * Csound this cycle, the learnt cost of one (its insertion and its init
   * in the next k-block, from the cycle's own time, as merges are), and a
   * cycle's time with no event, against which that cost is measured. */
  uint32_t cycle_events;
  uint64_t event_cost_ns;
  uint64_t quiet_cycle_ns;
  uint64_t cycle_event_place_ns;  /* inside Csound placing them, this cycle */
  uint64_t cycle_first_block_ns;  /* the cycle's first k-block */
  uint64_t cycle_other_blocks_ns; /* and the others, with their count */
  uint32_t cycle_other_blocks;
  _Atomic uint64_t event_cost_pub; /* event_cost_ns, for stats */
  _Atomic uint64_t events_spread;  /* cycles that left events for the next */
  /* The connections of our ports, restored when a peer comes back
   * (jack_links.h), and the reconnection after a server went away
   * (engine_reconnect.c, on the supervisor thread). */
  JackLinks *links;
  int reconnect_ms;            /* CsjOptions.reconnect_ms */
  JackBackend *jack_retired;   /* the client of the server that went away */
  uint64_t reconnect_since_ns; /* supervisor only: when the server went; 0: here */
  uint64_t reconnect_next_ns;  /* supervisor only: the next try */
  _Atomic uint64_t reconnects;
  /* Csound's own threads (its -j workers), found around csoundStart
   * (engine_threads.c). */
  pid_t thread_ids[ENGINE_MAX_THREADS];
  uint32_t threads_before;
  pid_t csound_thread_ids[ENGINE_MAX_THREADS];
  uint32_t csound_threads;
  _Atomic uint64_t barrier_wait_ns; /* the JACK thread waiting for them */
  /* What was live-coded, for csj_engine_save_state (any thread but the
   * JACK thread appends; live_journal.h). */
  LiveJournal journal;
  /* The JACK thread's side of the commands (command_exec.c). */
  CommandExecState exec;
  /* The JACK thread's time budget for commands in one cycle (csjack's
   * share, including what Csound does for the commands), and the cycle's
   * start; both JACK thread only. */
  uint64_t cycle_start_ns;
  uint64_t command_budget_ns;

  /* Commands. */
  CommandRing *ring;
  /* Stamped events for later cycles, by frame: the JACK thread's while
   * performing (command_exec.c), the control thread's after close. */
  EventQueue *held;
  SpscRing *done_ring; /* JACK thread -> worker: finished jobs */
  _Atomic int jobs_in_flight;
  _Atomic int submit_timeout_ms;
  _Atomic int owner; /* CsoundOwner */

  /* The worker thread: parses compiles, frees finished jobs, runs callbacks. */
  pthread_t worker;
  bool worker_started;
  sem_t worker_wake;
  pthread_mutex_t parse_lock;
  Job **parse_queue; /* jobs waiting to be parsed, FIFO */
  size_t parse_head;
  size_t parse_tail;
  size_t parse_capacity;
  bool parse_queue_ready; /* its lock, semaphore and mutexes exist */
  _Atomic bool worker_quit;
  _Atomic bool worker_exited; /* worker_main has returned: the join will not wait */
  /* Since when the worker has been inside user code (an off-thread task, a
   * result callback), engine_now_ns; 0 when it is not; WORKER_ABANDONED
   * once worker_stop has given up on it (compile_worker.c). The worker and
   * worker_stop settle who wins with one compare-and-swap each. */
  _Atomic uint64_t worker_user_since_ns;
  _Atomic bool worker_user_is_task; /* that code is a task, not a result callback */

  /* Csound's parser has shared state: one parse at a time, whoever parses
   * (the worker, a caller's evalCode, a direct call). And a parse never runs
   * alongside a merge on the JACK thread: the two flags are a Dekker-style
   * handshake in which the JACK thread only ever backs off, never waits. */
  pthread_mutex_t parse_mutex;
  _Atomic bool parse_active;
  _Atomic bool merge_active;
  pthread_mutex_t channel_lock;
  ChannelEntry *channels;
  /* The control side's handle on the recording. Changed under record_lock,
   * except by csj_engine_abandon_record, which takes it with an exchange:
   * whoever swaps it to NULL closes it. */
  Recorder *_Atomic active_recording;
  /* Set by csj_engine_abandon_record: the JACK thread must not write to
   * its recorder any more (cleared when it takes a new one). */
  _Atomic bool record_abandoned;
  pthread_mutex_t record_lock;
  /* A recording asked for before start: its file, open, and its bits.
   * csj_engine_start puts its recorder in place before the first cycle, so
   * that the file holds the performance from its first frame. Under
   * record_lock. */
  bool record_pending;
  bool record_pending_created; /* the file is csjack's: removed if never started */
  int record_pending_fd;
  int record_pending_bits;
  char *record_pending_path;

  _Atomic int state; /* EngineState */
  _Atomic bool stop_requested;
  _Atomic bool server_gone;
  /* How the performance ended, set once: the CsjEndReason in the low 32
   * bits and the exit code in the high 32, one atomic word so that no
   * reader sees the reason with a stale code. 0 while running. */
  _Atomic uint64_t end;
  _Atomic uint32_t latency; /* K - gcd(P, K) for the current period */
  _Atomic uint32_t jack_period;
  _Atomic uint32_t jack_rate;
  _Atomic uint64_t cycles;
  _Atomic uint64_t blocks;
  _Atomic uint64_t xruns;
  _Atomic uint64_t commands_run;
  _Atomic uint64_t dropped_cycles;
  _Atomic bool paused_flag;         /* a copy of `paused` for stats */
  _Atomic uint64_t callback_ns_max; /* the longest cycle since the last reset */
  _Atomic uint64_t record_dropped;  /* frames recordings lost to a full ring */
  _Atomic uint64_t record_errors;   /* recordings that failed to write */
  _Atomic uint64_t record_wait_ns;  /* the JACK thread's waits for the disk (freewheel) */
  /* The server freewheels (its callback, on a JACK thread of its own):
   * cycles come back to back with no deadline, so the JACK thread may wait
   * for the recorder's disk, and the watchdog watches each k-block instead
   * of each cycle. The JACK thread reads it once a cycle. */
  _Atomic bool freewheeling;
  _Atomic uint64_t freewheel_since_ns; /* when the current freewheel began; 0: none */
  _Atomic uint64_t freewheel_ns;       /* the time of those that ended */
  _Atomic uint64_t freewheel_cycles;
  _Atomic uint64_t freewheel_frames;
  bool cycle_freewheel; /* JACK thread only: this cycle freewheels */
  /* The first frame of the cycle after the last one run: "now" in frames
   * while freewheeling, when the wall clock says nothing of JACK time. */
  _Atomic uint32_t next_cycle_frame;
  uint64_t cycle_wait_ns; /* JACK thread only: this cycle's wait for the disk */
  /* True while the JACK thread is inside process_cycle. With the state
   * FINISHED, once it reads false no cycle touches the recorder or Csound
   * again (see engine_rt_let_go). */
  _Atomic bool rt_in_cycle;
  /* Housekeeping: period and rate changes, a server that went away,
   * settled whether or not anyone polls csj_engine_wait. */
  pthread_t supervisor; /* engine_watch.c */
  bool supervisor_started;
  _Atomic bool supervisor_quit;
  _Atomic uint64_t callback_ns_last;
  /* Wall time this cycle spent inside Csound and inside user code (tasks,
   * the process callback): JACK thread only. The rest is csjack's own
   * work; see process_cycle for how own_ns_max bounds it. */
  uint64_t cycle_foreign_ns;
  _Atomic uint64_t own_ns_max;
  _Atomic uint64_t callbacks_late;      /* callbacks longer than their period */
  _Atomic uint64_t commands_deferred;   /* cycles that left commands to the next */
  _Atomic uint64_t compile_wait_ns_max; /* longest time a compile held the line */
  _Atomic uint64_t midi_in_events;
  _Atomic uint64_t midi_in_dropped;
  _Atomic uint64_t midi_out_events;
  _Atomic uint64_t midi_out_dropped;
  _Atomic uint64_t events_late;      /* stamped events whose frame had passed */
  _Atomic uint32_t events_held;      /* stamped events waiting in `held` now */
  _Atomic uint64_t events_overflow;  /* ... that found `held` full */
  _Atomic uint64_t output_nonfinite; /* NaN/inf samples written as 0 */
  _Atomic uint32_t event_delay;      /* frames: constant-latency mode, 0 off */
  /* The last 'i' line sent to Csound's line events, for a later '.' carry
   * (score_text.h). */
  _Atomic uint64_t score_carry;
  /* For the watchdog: when the JACK thread's current callback began, and
   * when a direct caller entered Csound (0: not inside). */
  _Atomic uint64_t rt_busy_since_ns;
  _Atomic uint64_t direct_busy_since_ns;
  /* When a staged or prompt compile's parse began (worker_guarded_parse;
   * 0: none). Csound's parser reads #include files to their end: a file
   * system that stalls would hold it, and the commands queued after it. */
  _Atomic uint64_t parse_busy_since_ns;
  /* When the application's thread entered Csound to compile or start (not
   * watched: a start-up compile may take long; csj_engine_csound_busy_ms
   * reports it). */
  _Atomic uint64_t control_busy_since_ns;
  _Atomic bool hung; /* a thread is stuck inside Csound for good */

  /* Each cycle's timing, published by the JACK thread for the prompt path
   * (engine_direct.c) as a seqlock: cycle_seq is odd while the cycle's
   * start is being written; cycle_end_us is 0 until our callback ends.
   * JACK's clock, microseconds. */
  _Atomic uint32_t cycle_seq;
  _Atomic uint64_t cycle_current_us; /* JACK's start of this cycle */
  _Atomic uint64_t cycle_next_us;    /* JACK's estimate of the next one's */
  _Atomic uint64_t cycle_period_us;
  _Atomic uint64_t cycle_begin_us; /* when our callback began */
  /* When this cycle was due: our callback's start less the lateness the
   * JACK thread tracks (engine_cycle.c); the next is due a period later. */
  _Atomic uint64_t cycle_due_us;
  uint64_t cycle_due_rt;         /* the same, JACK thread only */
  _Atomic uint64_t cycle_end_us; /* when it ended; 0 while it runs */
  /* The prompt path: its predictions (under parse_mutex), and counters. */
  PromptCost prompt_cost[2]; /* 0: evalCode, 1: compile */
  _Atomic uint64_t prompt_predicted_us[2];
  _Atomic int prompt_min_cost_us;
  _Atomic uint64_t prompt_runs;    /* merged in a window between cycles */
  _Atomic uint64_t prompt_waits;   /* ... after waiting for a later window */
  _Atomic uint64_t prompt_queued;  /* sent to the queued path instead */
  _Atomic uint64_t prompt_late;    /* merges that ran past their window */
  _Atomic uint64_t prompt_dropped; /* cycles dropped while a prompt caller held Csound */
  _Atomic int hang_limit_ms;
};

/* Bytes of midi_in events constant-latency mode holds at once: about
 * 5000 three-byte messages (a record is 12 bytes), five seconds of a
 * saturated 31250-baud MIDI cable. */
#define MIDI_HELD_BYTES 65536u

/* Runs STMT, a Csound call on the application's thread (compile, start),
 * with control_busy_since_ns set meanwhile. */
#define CONTROL_IN_CSOUND(e, stmt)                                                             \
  do {                                                                                         \
    atomic_store_explicit(&(e)->control_busy_since_ns, engine_now_ns(), memory_order_relaxed); \
    stmt;                                                                                      \
    atomic_store_explicit(&(e)->control_busy_since_ns, 0, memory_order_relaxed);               \
  } while (0)

/* Runs STMT (a call into Csound or into user code) on the JACK thread and
 * books its wall time as not csjack's own. */
#define ENGINE_FOREIGN(e, stmt)                             \
  do {                                                      \
    const uint64_t foreign_t0_ = engine_now_ns();           \
    stmt;                                                   \
    (e)->cycle_foreign_ns += engine_now_ns() - foreign_t0_; \
  } while (0)

/* The share of each period the JACK thread may spend on queued commands
 * (csjack's work and what Csound does for them: events, merges) before it
 * leaves the rest to the next cycle. It always runs at least one command
 * per cycle. A quarter leaves the rest of the period to Csound's own
 * k-blocks and to the other clients of the graph. */
#define COMMAND_BUDGET_PERCENT 25u
/* What a score event is taken to cost before one was measured, and the
 * least it is ever taken to cost (engine_cycle.c learns the rest). */
#define EVENT_COST_START_NS 25000u
#define EVENT_COST_MIN_NS 200u

/* JACK's largest period; FIFOs are sized for it so a buffer-size change
 * never allocates. */
#define MAX_PERIOD 8192u

/* worker_user_since_ns once worker_stop has given up on the worker. */
#define WORKER_ABANDONED UINT64_MAX

/* True once worker_stop gave up on a worker stuck in user code: that thread
 * may still touch the engine, its Csound instance and its job, so none of
 * them may be freed. Any thread. */
static inline bool
engine_worker_abandoned(const CsjEngine *e)
{
  return atomic_load_explicit(&((CsjEngine *)e)->worker_user_since_ns, memory_order_acquire) ==
         WORKER_ABANDONED;
}

/* The latency csjack adds: ksmps - gcd(period, ksmps) frames (0 when ksmps
 * divides the period; engine_cycle.c says why). */
static inline uint32_t
engine_added_latency_for(uint32_t period, uint32_t ksmps)
{
  uint32_t a = period;
  uint32_t b = ksmps;
  while (b) {
    const uint32_t t = a % b;
    a = b;
    b = t;
  }
  return ksmps - a;
}

/* Passes @p text (a whole line) to the engine's message sink (@p data is
 * the engine): a warn/emit callback for the backend. Not the JACK thread. */
void engine_log_text(void *data, const char *text);

/* The engine's last error, formatted; a notice through its message sink.
 * Not the JACK thread. */
void engine_set_error(CsjEngine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void engine_notice(CsjEngine *e, const char *text);

/* This thread's buffer, ENGINE_CREATE_ERROR_SIZE bytes, for why
 * csj_engine_create or csj_check_options failed (csj_last_error(NULL)
 * reads it). */
#define ENGINE_CREATE_ERROR_SIZE 512
char *engine_create_error(void);

/* Ends the performance, once: the first reason and code stay. Any thread;
 * real-time safe (atomics only). */

static inline void
engine_finish(CsjEngine *e, CsjEndReason reason, int code)
{
  /* Reason and code in one word, set once: whoever reads the reason reads
   * its code. */
  uint64_t none = 0;
  const uint64_t end = ((uint64_t)(uint32_t)code << 32) | (uint32_t)reason;
  atomic_compare_exchange_strong_explicit(&e->end, &none, end, memory_order_seq_cst,
                                          memory_order_seq_cst);
  /* Sequentially consistent, with the JACK thread's rt_in_cycle store and
   * state load at the start of a cycle: see engine_rt_let_go. */
  atomic_store_explicit(&e->state, ENGINE_FINISHED, memory_order_seq_cst);
}

/* Sets the engine's last error. Any thread but the JACK thread (a mutex). */
static inline void
engine_set_error_text(CsjEngine *e, const char *text)
{
  pthread_mutex_lock(&e->error_lock);
  snprintf(e->last_error, sizeof(e->last_error), "%s", text);
  pthread_mutex_unlock(&e->error_lock);
}

#endif
