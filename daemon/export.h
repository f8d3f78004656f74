/* SPDX-License-Identifier: MIT */
/* GET /api/v1/sessions/{sid}/scans.csv (export.c): the session's scans as a
 * cashier counts them, one row per code. */
#ifndef SB_EXPORT_H
#define SB_EXPORT_H
#include "rest.h"
#include "session.h"

/* Fills rs with the CSV (200, text/csv, an attachment) of s's scans:
 * `code,format,count,scanner,time`, one row per (code, format) in the order
 * first scanned; count = times scanned; scanner and time (ISO 8601 UTC, ms)
 * of the last of them. */
void export_scans_csv(struct sess *s, struct rest_resp *rs);

#endif
