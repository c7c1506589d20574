/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The csjack command's UDP and OSC servers (see udp_server.h): the
 * sockets, the thread that polls them and hands each datagram to its
 * protocol's actions (udp_actions.c, osc_actions.c), and the counters.
 */

#include "udp_server.h"
#include "osc_actions.h"
#include "udp_actions.h"
#include "udp_server_reports.h"
#include "udp_server_state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams read per socket per wake-up, before the stop flag is looked at. */
#define BURST 256
#define RECV_BUFFER 65536

/* ---- the counters, one table ------------------------------------------- */

/* One row per line, as the struct reads. */
/* clang-format off */
#define COUNTER(field) {#field, offsetof(UdpServerStats, field)}

/* Every field of UdpServerStats, as :stats prints it. */
static const struct {
  const char *key;
  size_t offset;
} k_counters[] = {
  COUNTER(udp_datagrams),
  COUNTER(udp_malformed),
  COUNTER(udp_dropped),
  COUNTER(udp_kernel_dropped),
  COUNTER(udp_compiles),
  COUNTER(udp_compiled),
  COUNTER(udp_compile_errors),
  COUNTER(udp_blocks_dropped),
  COUNTER(udp_replies),
  COUNTER(osc_packets),
  COUNTER(osc_messages),
  COUNTER(osc_malformed),
  COUNTER(osc_dropped),
  COUNTER(osc_timed),
  COUNTER(osc_held),
  COUNTER(net_paced),
};
/* clang-format on */

_Static_assert(sizeof(k_counters) / sizeof(k_counters[0]) * sizeof(uint64_t) ==
                 sizeof(UdpServerStats),
               "every UdpServerStats field has its row in k_counters");

void
udp_server_stats(const UdpServer *s, UdpServerStats *out)
{
  memset(out, 0, sizeof(*out));
  if (!s) {
    return;
  }
  for (size_t i = 0; i < sizeof(k_counters) / sizeof(k_counters[0]); ++i) {
    const uint64_t *from = (const uint64_t *)((const char *)&s->counts + k_counters[i].offset);
    uint64_t *to = (uint64_t *)((char *)out + k_counters[i].offset);
    *to = __atomic_load_n(from, __ATOMIC_RELAXED);
  }
}

void
udp_server_print_stats(const UdpServer *s, FILE *out)
{
  UdpServerStats st;
  udp_server_stats(s, &st);
  for (size_t i = 0; i < sizeof(k_counters) / sizeof(k_counters[0]); ++i) {
    uint64_t value;
    memcpy(&value, (const char *)&st + k_counters[i].offset, sizeof(value));
    fprintf(out, " %s=%llu", k_counters[i].key, (unsigned long long)value);
  }
}

/* ---- the sockets ------------------------------------------------------- */

static int
bind_socket(const char *addr, int port, char *err, size_t err_size, const char *what)
{
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, err_size, "cannot make a socket for %s: %s", what, strerror(errno));
    return -1;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    snprintf(err, err_size, "cannot listen for %s on %s:%d: %s%s", what, addr, port,
             strerror(errno),
             errno == EADDRINUSE ? " (another program, or another csjack, has it)" : "");
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
  const int rcvbuf = 1 << 20; /* capped by net.core.rmem_max */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  return fd;
}

UdpServer *
udp_server_open(const UdpServerOptions *opts, char *err, size_t err_size)
{
  UdpServer *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  s->opts = *opts;
  s->udp_fd = -1;
  s->osc_fd = -1;
  const char *listen = opts->listen ? opts->listen : "127.0.0.1";
  if (strcmp(listen, "localhost") == 0) {
    listen = "127.0.0.1";
  }
  struct in_addr addr;
  if (inet_pton(AF_INET, listen, &addr) != 1) {
    snprintf(err, err_size, "--listen takes an IPv4 address (a.b.c.d), not '%s'", listen);
    free(s);
    return NULL;
  }
  inet_ntop(AF_INET, &addr, s->listen, sizeof(s->listen));
  pthread_mutex_init(&s->report_lock, NULL);
  udp_parser_init(&s->parser, UDP_MAX_BLOCK);
  s->buf = malloc(RECV_BUFFER);
  s->reply = malloc(MAX_STRING_REPLY + UDP_MAX_NAME + 8);
  s->names = calloc(MAX_CHANNELS, sizeof(*s->names));
  s->held = calloc(MAX_HELD, sizeof(*s->held));
  if (!s->buf || !s->reply || !s->names || !s->held) {
    snprintf(err, err_size, "out of memory");
    udp_server_free(s);
    return NULL;
  }
  if (opts->udp_port > 0) {
    s->udp_fd =
      bind_socket(s->listen, opts->udp_port, err, err_size, "Csound's UDP protocol (--port)");
    if (s->udp_fd < 0) {
      udp_server_free(s);
      return NULL;
    }
  }
  if (opts->osc_port > 0) {
    s->osc_fd = bind_socket(s->listen, opts->osc_port, err, err_size, "OSC (--osc-port)");
    if (s->osc_fd < 0) {
      udp_server_free(s);
      return NULL;
    }
  }
  const bool loopback = (ntohl(addr.s_addr) >> 24) == 127;
  if (!loopback && opts->report) {
    char line[256];
    snprintf(line, sizeof(line),
             "csjack: warning: listening on %s, not on loopback: anyone who can reach this "
             "address can run code in this Csound",
             s->listen);
    opts->report(opts->report_data, line);
  }
  return s;
}

/* ---- the thread -------------------------------------------------------- */

/* Counts what the kernel dropped for want of room in the socket's buffer
 * (SO_RXQ_OVFL: its running total comes with each datagram). */
static void
count_kernel_drops(UdpServer *s, struct msghdr *msg, bool osc)
{
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t drops;
      memcpy(&drops, CMSG_DATA(c), sizeof(drops));
      const uint32_t before = s->last_kernel_drops[osc];
      if (drops != before) {
        __atomic_fetch_add(&s->counts.udp_kernel_dropped, (uint32_t)(drops - before),
                           __ATOMIC_RELAXED);
        s->last_kernel_drops[osc] = drops;
      }
    }
  }
}

/* Reads what one socket holds (up to BURST datagrams). */
static void
drain(UdpServer *s, int fd, bool osc)
{
  for (int i = 0; i < BURST && !atomic_load_explicit(&s->stop, memory_order_relaxed); ++i) {
    struct sockaddr_in from;
    struct iovec iov = {s->buf, RECV_BUFFER};
    char control[CMSG_SPACE(sizeof(uint32_t))];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      return; /* EAGAIN: nothing more now; other errors: try again later */
    }
    count_kernel_drops(s, &msg, osc);
    char addr[16] = "?";
    inet_ntop(AF_INET, &from.sin_addr, addr, sizeof(addr));
    snprintf(s->peer, sizeof(s->peer), "%s:%u", addr, ntohs(from.sin_port));
    size_t len = (size_t)n;
    if (osc) {
      udp_server_count(&s->counts.osc_packets);
      if (len > RECV_BUFFER || (msg.msg_flags & MSG_TRUNC)) {
        udp_server_count(&s->counts.osc_malformed);
        udp_server_report(s, R_OSC, "csjack: error: OSC packet from %s too long (%zu bytes)",
                          s->peer, len);
        continue;
      }
      udp_server_handle_osc(s, s->buf, len);
    } else {
      if (len > RECV_BUFFER || (msg.msg_flags & MSG_TRUNC)) {
        len = UDP_MAX_DATAGRAM + 1; /* the parser refuses it as too long */
        s->buf[0] = ' ';
      }
      udp_server_handle_datagram(s, s->buf, len);
    }
  }
}

static void *
server_main(void *arg)
{
  UdpServer *s = arg;
  if (s->c_locale) {
    uselocale(s->c_locale);
  }

  struct pollfd fds[2];
  int nfds = 0;
  bool is_osc[2];
  if (s->udp_fd >= 0) {
    fds[nfds] = (struct pollfd){.fd = s->udp_fd, .events = POLLIN};
    is_osc[nfds++] = false;
  }
  if (s->osc_fd >= 0) {
    fds[nfds] = (struct pollfd){.fd = s->osc_fd, .events = POLLIN};
    is_osc[nfds++] = true;
  }
  int wait_ms = POLL_MS;
  while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
    const int r = poll(fds, (nfds_t)nfds, wait_ms);
    if (r > 0) {
      for (int i = 0; i < nfds; ++i) {
        if (fds[i].revents) {
          drain(s, fds[i].fd, is_osc[i]);
        }
      }
    }
    wait_ms = udp_server_release_held(s);
    udp_server_flush_reports(s);
  }
  udp_server_drop_held(s);
  return NULL;
}

bool
udp_server_start(UdpServer *s, CsjEngine *e)
{
  if (!s || s->started) {
    return false;
  }
  s->e = e;
  s->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  atomic_store(&s->stop, false);
  if (pthread_create(&s->thread, NULL, server_main, s) != 0) {
    return false;
  }
  s->started = true;
  return true;
}

void
udp_server_stop(UdpServer *s)
{
  if (!s) {
    return;
  }
  if (s->started) {
    atomic_store_explicit(&s->stop, true, memory_order_release);
    pthread_join(s->thread, NULL);
    s->started = false;
    udp_server_flush_reports(s);
  }
  if (s->udp_fd >= 0) {
    close(s->udp_fd);
    s->udp_fd = -1;
  }
  if (s->osc_fd >= 0) {
    close(s->osc_fd);
    s->osc_fd = -1;
  }
}

void
udp_server_free(UdpServer *s)
{
  if (!s) {
    return;
  }
  udp_server_stop(s);
  udp_parser_free(&s->parser);
  if (s->c_locale) {
    freelocale(s->c_locale);
  }
  pthread_mutex_destroy(&s->report_lock);
  free(s->held);
  free(s->names);
  free(s->reply);
  free(s->buf);
  free(s);
}
