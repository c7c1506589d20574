/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's settings for one run, and its exit statuses: what
 * every phase of main() (cli.c) reads. Types only.
 */

#ifndef CSJ_CLI_SETTINGS_H
#define CSJ_CLI_SETTINGS_H

#include "csjack.h"
#include "session.h"

#include <stdbool.h>
#include <stdint.h>

/* The exit statuses (also in --help and the README). */
enum {
  /* the score ended, exitnow 0, or stopped by a signal (SIGINT, SIGTERM,
   * SIGHUP, SIGQUIT) or :quit */
  EXIT_OK = 0,
  EXIT_PERFORMANCE = 1, /* exitnow with a non-zero code, or Csound aborted */
  EXIT_USAGE = 2,       /* usage error */
  EXIT_FILE = 3,        /* file missing or unreadable */
  EXIT_COMPILE = 4,     /* orchestra compile error */
  EXIT_JACK = 5,        /* no JACK server, or another JACK failure */
  EXIT_NAME_TAKEN = 6,  /* JACK client name already in use */
  EXIT_UNUSABLE = 7,    /* no outputs, more than 64 channels */
  EXIT_SERVER_GONE = 8, /* the JACK server shut down during the run */
  /* Csound hung: one call ran longer than the hang limit (an endless
   * loop), or it did not let go within a second of a stop signal */
  EXIT_HUNG = 9,
  EXIT_CSOUND_START = 10, /* Csound failed to start (csoundStart refused) */
  EXIT_INTERNAL = 11,     /* any other failure at start (out of memory, no thread) */
  /* a network port (--port, --osc-port) cannot be listened on: in use, or
   * not allowed */
  EXIT_NETWORK = 12,
  /* the session manager named by NSM_URL refused csjack's announce */
  EXIT_SESSION = 13,
};

/* A phase's "go on": not an exit status. */
#define CLI_RUN (-1)

/* The UDP and OSC servers and the message mirror: Csound's own options for
 * them (in <CsOptions>, then after --), overridden by csjack's. */
typedef struct {
  int port;            /* Csound's UDP protocol (--port); 0: none */
  char port_from[160]; /* where that port was given, for the line that says so */
  char console[96];    /* --udp-console HOST:PORT; "": none */
  bool echo;           /* --udp-echo */
  int osc_port;        /* --osc-port; 0: none */
  const char *listen;  /* --listen; NULL: 127.0.0.1 */
} CliNetSettings;

/*
 * What one run does. The options phase fills it from the command line; a
 * front end that learns them elsewhere (a session manager names the JACK
 * client and the folder before any JACK client may exist) fills the same
 * struct before the engine phase, which reads nothing else.
 */
typedef struct {
  /* csj_engine_create's: the JACK client name and server, connections,
   * MIDI, the hang limit, Csound's words after --. */
  CsjOptions engine;
  const char *path; /* the file played */
  /* Its text, read before JACK is touched, so that an error names the
   * file; the engine phase frees it once compiled. */
  char *text;
  const char *record_path; /* --record FILE; NULL: none */
  uint32_t event_delay;    /* --event-delay, frames; 0: off */
  bool freewheel;          /* --freewheel: the server freewheels while it plays */
  CliNetSettings net;
  /* --restore DIR, or the folder a session manager opened: its
   * csjack.session names the file and the JACK client, its live state is
   * replayed once the engine plays (cli_session.c); NULL: none. */
  const char *session_dir;
  /* What that csjack.session said: path and engine.client_name may point
   * into it. */
  SessionInfo session;
  /* Under a session manager (NSM_URL): FILE may be left out, the session
   * manager names the client, and the console reads stdin only when it is
   * not a terminal (the session manager's terminal is every client's). */
  bool session_managed;
} CliSettings;

#endif
