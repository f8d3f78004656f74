/* SPDX-License-Identifier: MIT */
/* Shared between the files of the simulator's WebSocket client, and nothing
 * else (owners use conn.h): conn.c (the loop, a connection's life, pacing and
 * backoff, what to send), conn_sock.c (its socket: connect, TLS, reads and
 * writes) and conn_ws.c (the WebSocket protocol on it: upgrade, received
 * frames, close). One connection's state is struct sim_conn, which all three
 * work on. */
#ifndef SIM_CONN_INTERNAL_H
#define SIM_CONN_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

/* Where a connection's socket is (c->phase). */
enum { PH_TCP, PH_TLS, PH_UPGRADE, PH_WS };

#define SCRATCH (64 * 1024)           /* one read: the loop's read buffer */

/* conn.c: a connection's life. */
/* Logs what happened to c (SIM_LWS_LOG only). */
void conn_log(const struct sim_conn *c, const char *what);
/* Asks for conn_flush at the end of this pass. */
void conn_mark_dirty(struct sim_conn *c);
/* Before the upgrade: a failed connection attempt. */
void conn_error(struct sim_conn *c, const char *why);
/* After the upgrade: the connection closed (close_code from the server's close
 * frame, 0 without one). */
void conn_closed(struct sim_conn *c);
/* conn_error or conn_closed, by phase. */
void conn_fail(struct sim_conn *c, const char *why);

/* conn_sock.c: the socket. */
/* Opens the socket and starts a non-blocking connect. 0 or -1 (nothing open). */
int conn_open_socket(struct sim_conn *c);
/* Closes the socket and forgets whatever was buffered on it. */
void conn_close_socket(struct sim_conn *c);
/* The deadline of the connect, the handshake or our close: when it passes,
 * the connection fails. */
void conn_deadline(struct sim_conn *c, int64_t us);
/* The TCP connect finished (or failed): TLS next, or the upgrade. */
void conn_tcp_step(struct sim_conn *c);
/* The TLS handshake goes on; the upgrade when it is done. */
void conn_tls_step(struct sim_conn *c);
/* Watches the socket for these epoll events. 0 or -1. */
int conn_set_events(struct sim_conn *c, uint32_t events);
/* Room for n more bytes (+1 for a NUL) in the receive buffer. */
bool conn_in_reserve(struct sim_conn *c, size_t n);
/* Queues n bytes behind what c->out already holds. 0 or -1 (out of memory). */
int conn_out_append(struct sim_conn *c, const void *p, size_t n);
/* >0 bytes read, 0 at the end of the stream, -1 on an error, -2 nothing now. */
ssize_t conn_sock_read(struct sim_conn *c, char *buf, size_t cap);
/* Writes what c->out holds, as far as the socket takes it; watches for
 * writability while something is left. 0, or -1 when the socket is dead. */
int conn_flush_out(struct sim_conn *c);
/* Sends p (frames built in the loop's write buffer) behind whatever c->out
 * holds; what the socket does not take now is queued. 0, or -1 when the
 * socket is dead (or out of memory). */
int conn_send(struct sim_conn *c, const char *p, size_t n);

/* conn_ws.c: the WebSocket protocol. */
/* Sends the upgrade request (the socket is connected, TLS done). */
void conn_upgrade_start(struct sim_conn *c);
/* Reads the upgrade answer; once upgraded, the frames behind it. */
void conn_upgrade_read(struct sim_conn *c);
/* Reads what the socket has (TLS: and what OpenSSL holds) and dispatches it;
 * then answers a close, or closes on a protocol error. */
void conn_ws_read(struct sim_conn *c);

#endif
