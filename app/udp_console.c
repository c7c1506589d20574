/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --udp-console: see udp_console.h. */

#include "udp_console.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONSOLE_MAX_DATAGRAM 65507

struct UdpConsoleImpl {
  int fd;
  struct sockaddr_in to;
  _Atomic uint64_t sent;
  _Atomic uint64_t lost;
};

int
udp_parse_host_port(const char *host_port, char host[16], int *port)
{
  const char *colon = host_port ? strrchr(host_port, ':') : NULL;
  if (!colon || colon == host_port) {
    return 0;
  }
  const size_t n = (size_t)(colon - host_port);
  char copy[64];
  if (n >= sizeof(copy)) {
    return 0;
  }
  memcpy(copy, host_port, n);
  copy[n] = '\0';
  if (strcmp(copy, "localhost") == 0) {
    strcpy(copy, "127.0.0.1");
  }
  struct in_addr addr;
  if (inet_pton(AF_INET, copy, &addr) != 1) {
    return 0;
  }
  char *end = NULL;
  const long p = strtol(colon + 1, &end, 10);
  if (!end || *end || end == colon + 1 || p < 1 || p > 65535) {
    return 0;
  }
  inet_ntop(AF_INET, &addr, host, 16);
  *port = (int)p;
  return 1;
}

UdpConsole *
udp_console_open(const char *host_port, char *err, size_t err_size)
{
  char host[16];
  int port = 0;
  if (!udp_parse_host_port(host_port, host, &port)) {
    snprintf(err, err_size,
             "--udp-console takes HOST:PORT (an IPv4 address or localhost, and a port "
             "1-65535), not '%s'",
             host_port ? host_port : "");
    return NULL;
  }
  UdpConsole *c = calloc(1, sizeof(*c));
  if (!c) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    snprintf(err, err_size, "cannot make the --udp-console socket");
    free(c);
    return NULL;
  }
  c->to.sin_family = AF_INET;
  c->to.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, host, &c->to.sin_addr);
  atomic_init(&c->sent, 0);
  atomic_init(&c->lost, 0);
  return c;
}

void
udp_console_send(UdpConsole *c, const char *text)
{
  if (!c || !text) {
    return;
  }
  /* The text and its NUL, as Csound's udp_socksend sends strlen + 1
   * bytes; a text too long for one datagram is cut, still NUL-ended. */
  const size_t n = strnlen(text, CONSOLE_MAX_DATAGRAM - 1);
  ssize_t r;
  if (text[n] == '\0') {
    r = sendto(c->fd, text, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&c->to,
               sizeof(c->to));
  } else {
    char *cut = malloc(n + 1);
    if (!cut) {
      atomic_fetch_add_explicit(&c->lost, 1, memory_order_relaxed);
      return;
    }
    memcpy(cut, text, n);
    cut[n] = '\0';
    r = sendto(c->fd, cut, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&c->to,
               sizeof(c->to));
    free(cut);
  }
  atomic_fetch_add_explicit(r < 0 ? &c->lost : &c->sent, 1, memory_order_relaxed);
}

uint64_t
udp_console_sent(const UdpConsole *c)
{
  return c ? atomic_load_explicit(&((UdpConsole *)c)->sent, memory_order_relaxed) : 0;
}

uint64_t
udp_console_lost(const UdpConsole *c)
{
  return c ? atomic_load_explicit(&((UdpConsole *)c)->lost, memory_order_relaxed) : 0;
}

void
udp_console_close(UdpConsole *c)
{
  if (!c) {
    return;
  }
  close(c->fd);
  free(c);
}
