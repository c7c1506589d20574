/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connections of csjack's ports, remembered and restored: each one
 * made (by csjack or by anyone: qjackctl, a session's patchbay) is kept
 * until someone disconnects it while both ports exist. A peer port that
 * goes away (its client quit, a netjack2 driver re-created its ports, the
 * server itself went away) leaves its connections wanted, and each is made
 * again as soon as that port is back. JACK's notification thread reports
 * (port connect and registration callbacks); a control thread restores
 * (jack_links_service), since a JACK callback may not ask the server
 * anything. Never the JACK process thread.
 */

#ifndef CSJ_JACK_LINKS_H
#define CSJ_JACK_LINKS_H

#include "jack_backend.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct JackLinksImpl JackLinks;

JackLinks *jack_links_new(void);
void jack_links_free(JackLinks *l);

/* Listens to @p jb's connections (its callbacks: before activation). */
void jack_links_attach(JackLinks *l, JackBackend *jb);

/* The client went away with its server: every connection is wanted again,
 * for the next client attached. */
void jack_links_detach(JackLinks *l);

/* Settles what the callbacks noted: a disconnection while both ports
 * still exist is the user's (forgotten); a wanted connection whose peer
 * port exists is made again. Returns how many it made. A control thread,
 * a few times a second. Not real-time safe (asks the server). */
unsigned jack_links_service(JackLinks *l);

/* Connections remembered now, and made again since start. Any thread;
 * real-time safe (atomic loads). */
unsigned jack_links_count(JackLinks *l);
uint64_t jack_links_restored(const JackLinks *l);

#endif
