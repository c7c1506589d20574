/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --udp-console: see udp_console.h. */

#include "udp_console.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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
};

/* "HOST:PORT" into a dotted IPv4 address and a port; localhost is
 * 127.0.0.1. */
static bool
parse_host_port(const char *host_port, char host[16], int *port)
{
  const char *colon = host_port ? strrchr(host_port, ':') : NULL;
  if (!colon || colon == host_port) {
    return false;
  }
  const size_t n = (size_t)(colon - host_port);
  char copy[64];
  if (n >= sizeof(copy)) {
    return false;
  }
  memcpy(copy, host_port, n);
  copy[n] = '\0';
  if (strcmp(copy, "localhost") == 0) {
    strcpy(copy, "127.0.0.1");
  }
  struct in_addr addr;
  if (inet_pton(AF_INET, copy, &addr) != 1) {
    return false;
  }
  char *end = NULL;
  const long p = strtol(colon + 1, &end, 10);
  if (!end || *end || end == colon + 1 || p < 1 || p > 65535) {
    return false;
  }
  inet_ntop(AF_INET, &addr, host, 16);
  *port = (int)p;
  return true;
}

UdpConsole *
udp_console_open(const char *host_port, char *err, size_t err_size)
{
  char host[16];
  int port = 0;
  if (!parse_host_port(host_port, host, &port)) {
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
  if (text[n] == '\0') {
    (void)sendto(c->fd, text, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&c->to,
                 sizeof(c->to));
  } else {
    char *cut = malloc(n + 1);
    if (!cut) {
      return;
    }
    memcpy(cut, text, n);
    cut[n] = '\0';
    (void)sendto(c->fd, cut, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&c->to,
                 sizeof(c->to));
    free(cut);
  }
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
