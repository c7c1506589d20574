/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connections of csjack's ports, remembered and restored (jack_links.h). */

#include "jack_links.h"

#include <jack/jack.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long after a disconnection csjack waits to see whether the peer
 * port goes away too (its client quitting disconnects it first, then
 * unregisters it, within milliseconds). */
#define SETTLE_NS (300ull * 1000 * 1000)

typedef struct {
  char ours[64];   /* our port's short name */
  char peer[320];  /* the other port's full name */
  bool ours_out;   /* ours is an output: ours -> peer */
  bool connected;  /* as far as the callbacks said */
  bool absent;     /* the peer port went away: wanted when it comes back */
  uint64_t cut_ns; /* a disconnection not yet settled; 0: none */
} Link;

struct JackLinksImpl {
  pthread_mutex_t lock;
  JackBackend *jb; /* NULL while detached */
  Link *links;
  unsigned n;
  unsigned capacity;
  _Atomic bool work;      /* something for jack_links_service */
  _Atomic uint32_t count; /* n, for readers that may not lock */
  _Atomic uint64_t restored;
};

static uint64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

JackLinks *
jack_links_new(void)
{
  JackLinks *l = calloc(1, sizeof *l);
  if (l) {
    pthread_mutex_init(&l->lock, NULL);
  }
  return l;
}

void
jack_links_free(JackLinks *l)
{
  if (!l) {
    return;
  }
  pthread_mutex_destroy(&l->lock);
  free(l->links);
  free(l);
}

/* The link of @p ours and @p peer, or NULL. Under the lock. */
static Link *
find(JackLinks *l, const char *ours, const char *peer)
{
  for (unsigned i = 0; i < l->n; ++i) {
    if (strcmp(l->links[i].ours, ours) == 0 && strcmp(l->links[i].peer, peer) == 0) {
      return &l->links[i];
    }
  }
  return NULL;
}

static Link *
add(JackLinks *l, const char *ours, const char *peer, bool ours_out)
{
  if (l->n == l->capacity) {
    const unsigned capacity = l->capacity ? l->capacity * 2 : 16;
    Link *grown = realloc(l->links, capacity * sizeof *grown);
    if (!grown) {
      return NULL;
    }
    l->links = grown;
    l->capacity = capacity;
  }
  Link *k = &l->links[l->n++];
  memset(k, 0, sizeof *k);
  strncpy(k->ours, ours, sizeof k->ours - 1);
  strncpy(k->peer, peer, sizeof k->peer - 1);
  k->ours_out = ours_out;
  return k;
}

/* JACK's notification thread: a connection made or broken anywhere. */
static void
on_connect(jack_port_id_t a, jack_port_id_t b, int connect, void *arg)
{
  JackLinks *l = arg;
  pthread_mutex_lock(&l->lock);
  jack_client_t *client = l->jb ? jack_backend_client(l->jb) : NULL;
  jack_port_t *pa = client ? jack_port_by_id(client, a) : NULL;
  jack_port_t *pb = client ? jack_port_by_id(client, b) : NULL;
  if (pa && pb) {
    const bool a_ours = jack_port_is_mine(client, pa);
    jack_port_t *ours = a_ours ? pa : pb;
    jack_port_t *peer = a_ours ? pb : pa;
    if (jack_port_is_mine(client, ours) && !jack_port_is_mine(client, peer)) {
      const char *ours_name = jack_port_short_name(ours);
      const char *peer_name = jack_port_name(peer);
      Link *k = find(l, ours_name, peer_name);
      if (connect) {
        if (!k) {
          k = add(l, ours_name, peer_name, (jack_port_flags(ours) & JackPortIsOutput) != 0);
        }
        if (k) {
          k->connected = true;
          k->absent = false;
          k->cut_ns = 0;
        }
      } else if (k) {
        k->connected = false;
        k->cut_ns = now_ns();
        atomic_store_explicit(&l->work, true, memory_order_release);
      }
    }
  }
  atomic_store_explicit(&l->count, l->n, memory_order_relaxed);
  pthread_mutex_unlock(&l->lock);
}

/* JACK's notification thread: a port came or went. */
static void
on_registration(jack_port_id_t id, int registered, void *arg)
{
  JackLinks *l = arg;
  pthread_mutex_lock(&l->lock);
  jack_client_t *client = l->jb ? jack_backend_client(l->jb) : NULL;
  jack_port_t *port = client ? jack_port_by_id(client, id) : NULL;
  const char *name = port ? jack_port_name(port) : NULL;
  for (unsigned i = 0; name && i < l->n; ++i) {
    Link *k = &l->links[i];
    if (strcmp(k->peer, name) != 0) {
      continue;
    }
    if (registered) {
      atomic_store_explicit(&l->work, true, memory_order_release);
    } else {
      k->absent = true;
      k->connected = false;
      k->cut_ns = 0;
    }
  }
  pthread_mutex_unlock(&l->lock);
}

void
jack_links_attach(JackLinks *l, JackBackend *jb)
{
  pthread_mutex_lock(&l->lock);
  l->jb = jb;
  pthread_mutex_unlock(&l->lock);
  jack_client_t *client = jack_backend_client(jb);
  jack_set_port_connect_callback(client, on_connect, l);
  jack_set_port_registration_callback(client, on_registration, l);
  atomic_store_explicit(&l->work, true, memory_order_release);
}

void
jack_links_detach(JackLinks *l)
{
  pthread_mutex_lock(&l->lock);
  l->jb = NULL;
  for (unsigned i = 0; i < l->n; ++i) {
    l->links[i].connected = false;
    l->links[i].absent = true;
    l->links[i].cut_ns = 0;
  }
  pthread_mutex_unlock(&l->lock);
}

unsigned
jack_links_service(JackLinks *l)
{
  if (!atomic_exchange_explicit(&l->work, false, memory_order_acq_rel)) {
    return 0;
  }
  /* What to connect, copied out: jack_connect is a request to the server,
   * whose notifications come back to on_connect, which takes the lock. */
  enum { BATCH = 64 };
  char from[BATCH][400], to[BATCH][400];
  unsigned todo = 0;
  bool again = false;
  pthread_mutex_lock(&l->lock);
  jack_client_t *client = l->jb ? jack_backend_client(l->jb) : NULL;
  if (!client) {
    pthread_mutex_unlock(&l->lock);
    return 0;
  }
  const char *me = jack_get_client_name(client);
  const uint64_t now = now_ns();
  for (unsigned i = 0; i < l->n;) {
    Link *k = &l->links[i];
    const bool peer_here = jack_port_by_name(client, k->peer) != NULL;
    if (k->cut_ns && !k->absent) {
      if (now - k->cut_ns < SETTLE_NS) {
        again = true; /* not settled yet */
      } else if (peer_here) {
        /* Cut while both ports were there: the user's wish. */
        l->links[i] = l->links[--l->n];
        continue;
      } else {
        k->absent = true;
        k->cut_ns = 0;
      }
    }
    if (!k->connected && !k->cut_ns && peer_here && todo < BATCH) {
      char ours[400];
      snprintf(ours, sizeof ours, "%s:%s", me, k->ours);
      snprintf(from[todo], sizeof from[todo], "%s", k->ours_out ? ours : k->peer);
      snprintf(to[todo], sizeof to[todo], "%s", k->ours_out ? k->peer : ours);
      ++todo;
    } else if (!k->connected && !k->cut_ns && peer_here) {
      again = true;
    }
    ++i;
  }
  atomic_store_explicit(&l->count, l->n, memory_order_relaxed);
  pthread_mutex_unlock(&l->lock);
  unsigned made = 0;
  for (unsigned i = 0; i < todo; ++i) {
    const int rc = jack_connect(client, from[i], to[i]);
    if (rc == 0) {
      ++made;
    } else if (rc != EEXIST) {
      again = true; /* the port may be half there yet: next time */
    }
  }
  if (again) {
    atomic_store_explicit(&l->work, true, memory_order_release);
  }
  atomic_fetch_add_explicit(&l->restored, made, memory_order_relaxed);
  return made;
}

unsigned
jack_links_count(JackLinks *l)
{
  return atomic_load_explicit(&l->count, memory_order_relaxed);
}

uint64_t
jack_links_restored(const JackLinks *l)
{
  return atomic_load_explicit(&((JackLinks *)l)->restored, memory_order_relaxed);
}
