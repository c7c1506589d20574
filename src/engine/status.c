/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Status and end-reason strings: static text, so safe on any thread. */

#include "csjack.h"

const char *
csj_strerror(CsjStatus status)
{
  switch (status) {
  case CSJ_SUCCESS: return "success";
  case CSJ_ERR_BAD_ARG: return "invalid argument";
  case CSJ_ERR_NO_MEMORY: return "out of memory";
  case CSJ_ERR_FILE: return "file missing or unreadable";
  case CSJ_ERR_COMPILE: return "Csound could not compile the orchestra";
  case CSJ_ERR_CSOUND: return "Csound failed to start";
  case CSJ_ERR_NO_SERVER: return "no JACK server is running";
  case CSJ_ERR_NAME_TAKEN: return "JACK client name already in use";
  case CSJ_ERR_JACK: return "JACK error";
  case CSJ_ERR_RESERVED: return "reserved status (never returned)";
  case CSJ_ERR_NO_OUTPUTS: return "the orchestra has no output channels";
  case CSJ_ERR_STATE: return "not allowed in the engine's current state";
  case CSJ_ERR_TIMEOUT: return "timed out";
  case CSJ_ERR_RING_FULL: return "the command ring is full; nothing was queued";
  case CSJ_ERR_TOO_BIG: return "the command is too large";
  case CSJ_ERR_EVAL: return "Csound could not evaluate the code";
  case CSJ_ERR_NOT_FOUND: return "no such table or channel";
  case CSJ_ERR_NOT_RUN: return "the performance ended before the command ran";
  case CSJ_ERR_OPTION: return "Csound refused an option";
  case CSJ_ERR_RECORD: return "the recording failed";
  case CSJ_ERR_CHANNELS: return "too many channels";
  }
  return "unknown status";
}

const char *
csj_end_reason_name(CsjEndReason reason)
{
  switch (reason) {
  case CSJ_END_NONE: return "running";
  case CSJ_END_SCORE: return "score ended";
  case CSJ_END_EXITNOW: return "exitnow";
  case CSJ_END_STOPPED: return "stopped";
  case CSJ_END_CSOUND_ERROR: return "Csound error";
  case CSJ_END_SERVER_GONE: return "JACK server gone";
  case CSJ_END_CSOUND_HUNG: return "Csound hung";
  }
  return "unknown";
}
