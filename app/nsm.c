/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NSM client: the announce, the wait for open, and the thread that
 * answers save and tells the server when the live state is dirty (see
 * nsm.h, and docs/sessions.md for users). OSC is encoded and decoded by
 * liblo's message functions on a socket of our own, as the UDP and OSC
 * servers do: no liblo server thread, and the socket is the one the
 * announce went out of, which is how the server tells its clients apart.
 */

#include "nsm.h"

#include <lo/lo.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How often the thread looks at the live state's change count. */
#define DIRTY_POLL_MS 200

struct NsmImpl {
  int fd;
  struct sockaddr_storage server;
  socklen_t server_len;
  NsmOpen open;
  /* The thread (nsm_start): */
  CsjEngine *engine;
  const SessionInfo *info;
  pthread_t thread;
  bool thread_started;
  int wake[2]; /* nsm_free writes a byte to wake[1] */
  atomic_bool stop;
  uint64_t clean_at; /* csj_engine_state_changes at the last save */
  bool dirty_said;
};

const char *
nsm_url(void)
{
  const char *url = getenv("NSM_URL");
  return url && *url ? url : NULL;
}

/* ---- OSC out ------------------------------------------------------------------ */

/* Sends @p m to the server from our one socket, and frees it. A lost
 * datagram is the server's to notice (it times clients out), not a reason
 * to stop playing. */
static void
send_message(Nsm *n, const char *path, lo_message m)
{
  size_t size = 0;
  void *bytes = m ? lo_message_serialise(m, path, NULL, &size) : NULL;
  if (bytes) {
    (void)sendto(n->fd, bytes, size, 0, (const struct sockaddr *)&n->server, n->server_len);
    free(bytes);
  }
  lo_message_free(m);
}

static void
send_reply(Nsm *n, const char *to, const char *message)
{
  lo_message m = lo_message_new();
  if (m) {
    lo_message_add_string(m, to);
    lo_message_add_string(m, message);
  }
  send_message(n, "/reply", m);
}

static void
send_error(Nsm *n, const char *to, int code, const char *message)
{
  lo_message m = lo_message_new();
  if (m) {
    lo_message_add_string(m, to);
    lo_message_add_int32(m, code);
    lo_message_add_string(m, message);
  }
  send_message(n, "/error", m);
}

static void
send_bare(Nsm *n, const char *path)
{
  send_message(n, path, lo_message_new());
}

void
nsm_answer_open(Nsm *n, int code, const char *message)
{
  if (code == 0) {
    send_reply(n, "/nsm/client/open", message);
  } else {
    send_error(n, "/nsm/client/open", code, message);
  }
}

void
nsm_message(Nsm *n, int priority, const char *text)
{
  lo_message m = lo_message_new();
  if (m) {
    lo_message_add_int32(m, priority);
    lo_message_add_string(m, text);
  }
  send_message(n, "/nsm/client/message", m);
}

/* ---- OSC in ------------------------------------------------------------------- */

/* One message from the server, decoded: its address and its arguments'
 * types, strings and first integer. */
typedef struct {
  const char *path;
  const char *types;
  const char *s[4]; /* the string arguments in order; NULL past the last */
  int32_t i;        /* the first integer argument */
  lo_message m;     /* owns what the pointers point into, with the buffer */
} Incoming;

/* Reads one datagram into @p buf and decodes it. False when none could be
 * read, or it is not an OSC message from the server's port. */
static bool
receive(Nsm *n, char *buf, size_t size, Incoming *in)
{
  memset(in, 0, sizeof *in);
  struct sockaddr_storage from;
  socklen_t from_len = sizeof from;
  const ssize_t got = recvfrom(n->fd, buf, size, 0, (struct sockaddr *)&from, &from_len);
  if (got <= 0 || buf[0] != '/') {
    return false;
  }
  /* The server answers from the port NSM_URL names; its address can be
   * another of the machine's own (a host name that resolves to 127.0.1.1
   * is answered from 127.0.0.1), so the port is what is checked. */
  const in_port_t want = n->server.ss_family == AF_INET6
                           ? ((struct sockaddr_in6 *)&n->server)->sin6_port
                           : ((struct sockaddr_in *)&n->server)->sin_port;
  const in_port_t port = from.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&from)->sin6_port
                                                    : ((struct sockaddr_in *)&from)->sin_port;
  if (port != want) {
    return false;
  }
  int result = 0;
  in->m = lo_message_deserialise(buf, (size_t)got, &result);
  if (!in->m) {
    return false;
  }
  in->path = buf;
  in->types = lo_message_get_types(in->m);
  lo_arg **argv = lo_message_get_argv(in->m);
  size_t strings = 0;
  bool have_int = false;
  for (int k = 0; in->types[k]; ++k) {
    if (in->types[k] == LO_STRING && strings < 4) {
      in->s[strings++] = (const char *)argv[k];
    } else if (in->types[k] == LO_INT32 && !have_int) {
      /* liblo's argument pointers are only 4-byte aligned: memcpy. */
      memcpy(&in->i, argv[k], sizeof in->i);
      have_int = true;
    }
  }
  return true;
}

static void
incoming_free(Incoming *in)
{
  lo_message_free(in->m);
  in->m = NULL;
}

/* Whether @p in is a reply or an error to the message @p to. */
static bool
answers(const Incoming *in, const char *to)
{
  return (strcmp(in->path, "/reply") == 0 || strcmp(in->path, "/error") == 0) && in->s[0] &&
         strcmp(in->s[0], to) == 0;
}

/* Waits up to @p timeout_ms (-1: for ever) for the socket, or the wake
 * pipe when there is one. 1: a datagram, 0: timed out or woken, -1: an
 * error. */
static int
wait_readable(Nsm *n, int timeout_ms)
{
  struct pollfd fds[2] = {{.fd = n->fd, .events = POLLIN}, {.fd = n->wake[0], .events = POLLIN}};
  const nfds_t count = n->wake[0] >= 0 ? 2 : 1;
  int r;
  do {
    r = poll(fds, count, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    return -1;
  }
  return r > 0 && (fds[0].revents & POLLIN) ? 1 : 0;
}

static double
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* ---- the announce and the open ------------------------------------------------ */

/* The socket, bound to the address the kernel would send to the server
 * from (127.0.0.1 for a server on the loopback), port chosen by the
 * kernel: nothing from another interface reaches it. */
static bool
open_socket(Nsm *n, const char *url, char *why, size_t why_size)
{
  if (lo_url_get_protocol_id(url) != LO_UDP) {
    snprintf(why, why_size, "'%s' is not an osc.udp:// address", url);
    return false;
  }
  char *host = lo_url_get_hostname(url);
  char *port = lo_url_get_port(url);
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
  struct addrinfo *found = NULL;
  int gai = host && port ? getaddrinfo(host, port, &hints, &found) : EAI_NONAME;
  if (gai != 0) {
    /* liblo's own servers are IPv4; a host name with only an IPv6
     * address is tried as such. */
    hints.ai_family = AF_UNSPEC;
    gai = host && port ? getaddrinfo(host, port, &hints, &found) : EAI_NONAME;
  }
  free(host);
  free(port);
  if (gai != 0) {
    snprintf(why, why_size, "the host of '%s' cannot be resolved (%s)", url, gai_strerror(gai));
    return false;
  }
  memcpy(&n->server, found->ai_addr, found->ai_addrlen);
  n->server_len = found->ai_addrlen;
  const int family = found->ai_family;
  freeaddrinfo(found);

  struct sockaddr_storage local;
  socklen_t local_len = sizeof local;
  const int probe = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const bool routed = probe >= 0 &&
                      connect(probe, (const struct sockaddr *)&n->server, n->server_len) == 0 &&
                      getsockname(probe, (struct sockaddr *)&local, &local_len) == 0;
  if (probe >= 0) {
    close(probe);
  }
  n->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (!routed || n->fd < 0) {
    snprintf(why, why_size, "there is no route to '%s' (%s)", url, strerror(errno));
    return false;
  }
  if (family == AF_INET6) {
    ((struct sockaddr_in6 *)&local)->sin6_port = 0;
  } else {
    ((struct sockaddr_in *)&local)->sin_port = 0;
  }
  if (bind(n->fd, (const struct sockaddr *)&local, local_len) != 0) {
    snprintf(why, why_size, "cannot make a socket for the session manager: %s", strerror(errno));
    return false;
  }
  return true;
}

static void
send_announce(Nsm *n, const char *argv0)
{
  lo_message m = lo_message_new();
  if (m) {
    /* The application name is the JACK client name csjack takes without
     * a session manager; the API version is 1.1. */
    lo_message_add_string(m, "csjack");
    lo_message_add_string(m, ":dirty:message:");
    lo_message_add_string(m, argv0);
    lo_message_add_int32(m, 1);
    lo_message_add_int32(m, 1);
    lo_message_add_int32(m, (int32_t)getpid());
  }
  send_message(n, "/nsm/server/announce", m);
}

/* Waits for the announce's answer. 1: accepted, 0: refused (@p why says
 * the server's words), -1: no answer. */
static int
wait_announce_reply(Nsm *n, char *buf, size_t size, char *why, size_t why_size)
{
  const double end = now_ms() + NSM_ANNOUNCE_TIMEOUT_MS;
  for (;;) {
    const double left = end - now_ms();
    if (left <= 0 || wait_readable(n, (int)left + 1) < 0) {
      snprintf(why, why_size, "no answer from the session manager within %d s",
               NSM_ANNOUNCE_TIMEOUT_MS / 1000);
      return -1;
    }
    Incoming in;
    if (!receive(n, buf, size, &in)) {
      continue;
    }
    if (answers(&in, "/nsm/server/announce")) {
      const bool ok = strcmp(in.path, "/reply") == 0;
      if (ok) {
        fprintf(stderr, "csjack: under session management by %s: %s\n",
                in.s[2] ? in.s[2] : "a session manager", in.s[1] ? in.s[1] : "");
      } else {
        snprintf(why, why_size, "the session manager refused csjack (error %d: %s)", (int)in.i,
                 in.s[1] ? in.s[1] : "no reason given");
      }
      incoming_free(&in);
      return ok ? 1 : 0;
    }
    incoming_free(&in);
  }
}

/* Waits for /nsm/client/open s:path s:display_name s:client_id. */
static bool
wait_open(Nsm *n, char *buf, size_t size, char *why, size_t why_size)
{
  for (;;) {
    if (wait_readable(n, -1) < 0) {
      snprintf(why, why_size, "cannot wait for the session manager: %s", strerror(errno));
      return false;
    }
    Incoming in;
    if (!receive(n, buf, size, &in)) {
      continue;
    }
    const bool open = strcmp(in.path, "/nsm/client/open") == 0 && strcmp(in.types, "sss") == 0;
    if (open) {
      snprintf(n->open.path, sizeof n->open.path, "%s", in.s[0]);
      snprintf(n->open.display_name, sizeof n->open.display_name, "%s", in.s[1]);
      snprintf(n->open.client_id, sizeof n->open.client_id, "%s", in.s[2]);
    }
    incoming_free(&in);
    if (open) {
      return true;
    }
  }
}

const NsmOpen *
nsm_opened(const Nsm *n)
{
  return &n->open;
}

Nsm *
nsm_connect(const char *url, const char *argv0, NsmFailure *failure, char *why, size_t why_size)
{
  *failure = NSM_UNAVAILABLE;
  Nsm *n = calloc(1, sizeof *n);
  char *buf = malloc(65536);
  if (!n || !buf) {
    snprintf(why, why_size, "out of memory");
    free(n);
    free(buf);
    return NULL;
  }
  n->fd = -1;
  n->wake[0] = n->wake[1] = -1;
  bool ok = open_socket(n, url, why, why_size);
  if (ok) {
    send_announce(n, argv0);
    const int answer = wait_announce_reply(n, buf, 65536, why, why_size);
    if (answer == 0) {
      *failure = NSM_REFUSED;
    }
    ok = answer == 1 && wait_open(n, buf, 65536, why, why_size);
  }
  free(buf);
  if (!ok) {
    nsm_free(n);
    return NULL;
  }
  return n;
}

/* ---- the thread: save, dirty ------------------------------------------------- */

static void
save(Nsm *n)
{
  const uint64_t changes = csj_engine_state_changes(n->engine);
  char why[1024];
  const CsjStatus st = session_save(n->engine, n->open.path, n->info, why, sizeof why);
  if (st != CSJ_SUCCESS) {
    char message[1200];
    snprintf(message, sizeof message, "csjack could not save: %s", why);
    fprintf(stderr, "csjack: error: %s\n", message);
    /* Not running (CSJ_ERR_STATE) is a save that may work later. */
    send_error(n, "/nsm/client/save", st == CSJ_ERR_STATE ? NSM_ERR_NOT_NOW : NSM_ERR_GENERAL,
               message);
    return;
  }
  send_reply(n, "/nsm/client/save", "saved");
  fprintf(stderr, "csjack: saved into '%s' for the session manager\n", n->open.path);
  /* What changed while the files were written is in them or not: the
   * next look finds it dirty again either way. */
  n->clean_at = changes;
  n->dirty_said = false;
  send_bare(n, "/nsm/client/is_clean");
}

static void
look_at_changes(Nsm *n)
{
  if (!n->dirty_said && csj_engine_state_changes(n->engine) != n->clean_at) {
    n->dirty_said = true;
    send_bare(n, "/nsm/client/is_dirty");
  }
}

static void
handle(Nsm *n, const Incoming *in)
{
  if (strcmp(in->path, "/nsm/client/save") == 0) {
    save(n);
  } else if (strcmp(in->path, "/nsm/client/open") == 0) {
    /* Without :switch: the API sends open once; another one cannot be
     * honoured by a running csjack. */
    send_error(n, "/nsm/client/open", NSM_ERR_NOT_NOW,
               "csjack cannot switch to another project while it runs (restart it)");
  }
  /* session_is_loaded and the rest need nothing. */
}

static void *
nsm_main(void *arg)
{
  Nsm *n = arg;
  char *buf = malloc(65536);
  while (buf && !atomic_load_explicit(&n->stop, memory_order_acquire)) {
    if (wait_readable(n, DIRTY_POLL_MS) > 0) {
      Incoming in;
      while (receive(n, buf, 65536, &in)) {
        handle(n, &in);
        incoming_free(&in);
      }
    }
    look_at_changes(n);
  }
  free(buf);
  return NULL;
}

bool
nsm_start(Nsm *n, CsjEngine *e, const SessionInfo *info)
{
  n->engine = e;
  n->info = info;
  n->clean_at = csj_engine_state_changes(e);
  if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    n->wake[0] = n->wake[1] = -1;
    return false;
  }
  /* Every signal blocked in the thread: the signal thread takes the stop
   * signals, whatever main's mask is when this is called. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  n->thread_started = pthread_create(&n->thread, NULL, nsm_main, n) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return n->thread_started;
}

void
nsm_free(Nsm *n)
{
  if (!n) {
    return;
  }
  if (n->thread_started) {
    atomic_store_explicit(&n->stop, true, memory_order_release);
    const char byte = 1;
    (void)!write(n->wake[1], &byte, 1);
    pthread_join(n->thread, NULL);
  }
  for (int k = 0; k < 2; ++k) {
    if (n->wake[k] >= 0) {
      close(n->wake[k]);
    }
  }
  if (n->fd >= 0) {
    close(n->fd);
  }
  free(n);
}
