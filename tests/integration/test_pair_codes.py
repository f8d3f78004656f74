# SPDX-License-Identifier: MIT
"""Pair codes are bounded (issue 12 item 8): at most `max_pair_codes` (8) live
codes per session, the oldest unused one retired when another is issued;
issuing is limited to `pair_codes_per_session_per_min` (20) per session
(429 `rate_limited` + Retry-After); the cleanup pass deletes used and expired
codes from the database, and such a code still answers 404 pair_code_invalid."""
import sqlite3
import time

from sbtest import SLOW, V1, assert_error

CAP = 8          # max_pair_codes default
RATE = 20        # pair_codes_per_session_per_min default


def issue(d, sid, tok):
    return d.api("POST", f"{V1}/sessions/{sid}/pair-code", token=tok)


def pair_status(d, code, name="p"):
    return d.api("POST", f"{V1}/pair", json={"pair_code": code, "name": name})


def rows(d, sql, *args):
    """First column of the first row of a query on the daemon's database,
    opened read-only beside the running daemon (WAL)."""
    con = sqlite3.connect(f"file:{d.db_path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def live_codes(d, sid):
    return rows(d, "SELECT count(*) FROM pair_codes WHERE session_id = ? AND used = 0"
                   " AND expires_at > ?", sid, int(time.time() * 1000))


def wait_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_oldest_unused_code_is_retired_past_the_cap(daemon):
    """Default limits: 1 code at creation + 19 more (within the rate): only the
    newest CAP stay usable; the desktop's latest one (qr.svg) always is."""
    c = daemon.create_session()
    sid, tok = c["session"], c["desktop_token"]
    codes = [c["pair_code"]]
    for _ in range(RATE - 1):
        r = issue(daemon, sid, tok)
        assert r.status == 201, r.raw
        codes.append(r.body["pair_code"])
        assert live_codes(daemon, sid) <= CAP
    assert live_codes(daemon, sid) == CAP
    assert daemon.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok).status == 200
    for code in (codes[0], codes[1], codes[-CAP - 1]):
        assert_error(pair_status(daemon, code), 404, "pair_code_invalid")
    for i, code in enumerate(codes[-CAP:]):
        assert pair_status(daemon, code, f"phone-{i}").status == 200
    assert len(daemon.get_session(sid, tok)["scanners"]) == CAP


def test_300_requests_rate_limited_per_session(daemon):
    """The issue's reproduction: 300 POST pair-code. RATE get 201, the rest 429
    rate_limited with a Retry-After within the minute; live codes never pass
    CAP; another session is not affected, and the latest code still works."""
    c = daemon.create_session()
    sid, tok = c["session"], c["desktop_token"]
    ok, last = 0, None
    for _ in range(300):
        r = issue(daemon, sid, tok)
        if r.status == 201:
            ok += 1
            last = r.body["pair_code"]
            continue
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers
    assert ok == RATE
    assert live_codes(daemon, sid) == CAP
    assert rows(daemon, "SELECT count(*) FROM pair_codes WHERE session_id = ?", sid) == CAP
    other = daemon.create_session()
    assert issue(daemon, other["session"], other["desktop_token"]).status == 201
    assert daemon.api("GET", f"{V1}/sessions/{sid}/qr.svg", token=tok).status == 200
    assert daemon.pair(last, "latest")["session"] == sid


def test_cap_alone_bounds_300_codes(daemon_factory):
    """With the rate raised out of the way, 300 codes all get 201 and the cap
    alone keeps the session at CAP live codes (and CAP rows)."""
    d = daemon_factory("--pair-codes-per-session-per-min", "1000")
    c = d.create_session()
    sid, tok = c["session"], c["desktop_token"]
    codes = [issue(d, sid, tok) for _ in range(300)]
    assert all(r.status == 201 for r in codes), [r.status for r in codes if r.status != 201]
    assert rows(d, "SELECT count(*) FROM pair_codes WHERE session_id = ?", sid) == CAP
    assert_error(pair_status(d, codes[0].body["pair_code"]), 404, "pair_code_invalid")
    assert_error(pair_status(d, codes[-CAP - 1].body["pair_code"]), 404, "pair_code_invalid")
    assert pair_status(d, codes[-CAP].body["pair_code"]).status == 200


def test_cleanup_deletes_used_and_expired_codes(daemon_factory):
    """A used code's row goes at the next cleanup pass, an expired one's after
    its expiry; both answer 404 pair_code_invalid before and after. The
    session, its scanner and a still-live code are kept."""
    ttl = 5
    d = daemon_factory("--pair-code-ttl", str(ttl), "--cleanup-interval", "1")
    c = d.create_session()
    sid, tok = c["session"], c["desktop_token"]
    spare = d.new_pair_code(sid, tok)["pair_code"]
    t_issued = time.monotonic()
    p = d.pair(c["pair_code"], "phone")
    assert rows(d, "SELECT count(*) FROM pair_codes WHERE code = ?", c["pair_code"]) <= 1
    assert wait_until(lambda: rows(d, "SELECT count(*) FROM pair_codes WHERE used = 1") == 0,
                      3 * SLOW), "the used code is still in the database"
    assert_error(pair_status(d, c["pair_code"]), 404, "pair_code_invalid")
    if time.monotonic() - t_issued < ttl - 0.5:   # not yet expired: kept
        assert rows(d, "SELECT count(*) FROM pair_codes WHERE code = ?", spare) == 1
    assert wait_until(lambda: rows(d, "SELECT count(*) FROM pair_codes") == 0,
                      ttl + 3 * SLOW), "the expired code is still in the database"
    assert_error(pair_status(d, spare), 404, "pair_code_invalid")
    assert rows(d, "SELECT count(*) FROM scanners WHERE session_id = ?", sid) == 1
    assert d.get_session(sid, tok)["scanners"][0]["id"] == p["scanner"]
