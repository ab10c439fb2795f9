#!/usr/bin/env python3
"""Fill a running receiver with a big, varied data set over HTTP envelopes.

Usage: gen.py BASE_URL KEY1 KEY2 KEY3 [--scale 1.0] [--threads 3] [--only KIND,...]

Stdlib only. Deterministic (seeded). Kinds, in order:
  events (300k errors over 5000 issues), transactions (50k with ~8 spans each,
  grouped in traces), spans (streamed span items), sessions, logs, checkins,
  feedback, attachments, reports.
Writes meta.json (event ids sample, trace ids, ...) for the timing script.
"""
import sys, json, time, random, threading, http.client, uuid, math, datetime, urllib.parse

args = sys.argv[1:]
BASE = args[0]
KEYS = args[1:4]
SCALE = 1.0
THREADS = 3
ONLY = None
i = 4
while i < len(args):
    if args[i] == "--scale":
        SCALE = float(args[i + 1]); i += 2
    elif args[i] == "--threads":
        THREADS = int(args[i + 1]); i += 2
    elif args[i] == "--only":
        ONLY = set(args[i + 1].split(",")); i += 2
    else:
        raise SystemExit("unknown arg " + args[i])

u = urllib.parse.urlparse(BASE)
HOST, PORT = u.hostname, u.port
NOW = time.time()
DAYS = 25
N_EVENTS = int(300_000 * SCALE)
N_ISSUES = int(5_000 * max(SCALE, 0.02))
N_TX = int(50_000 * SCALE)
N_USERS = 3000
PROJECTS = [1, 2, 3]
RELEASES = {p: ["%s@1.%d.0" % (n, k) for k in range(8)] for p, n in zip(PROJECTS, ["default", "web", "backend"])}
ENVS = [("production", 70), ("staging", 20), ("development", 9.5), ("canary", 0.5)]
LEVELS = [("error", 70), ("warning", 15), ("info", 9), ("fatal", 3), ("debug", 3)]
EXC = ["ValueError", "KeyError", "TypeError", "RuntimeError", "IOError", "TimeoutError", "ZeroDivisionError",
       "AttributeError", "IndexError", "ConnectionError", "PermissionError", "NotImplementedError",
       "DatabaseError", "IntegrityError", "OperationalError", "HTTPError", "SSLError", "JSONDecodeError",
       "UnicodeDecodeError", "AssertionError"]
TX_NAMES = ["GET /api/v1/resource%d" % k for k in range(100)] + ["POST /api/v1/resource%d" % k for k in range(40)] + \
           ["task.worker.job%d" % k for k in range(20)]
SPAN_OPS = ["db.query", "http.client", "cache.get", "template.render", "serialize", "db.query", "db.query"]

def wchoice(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.random() * tot
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]

def issue_project(k):
    r = (k * 2654435761) % 100
    return 2 if r < 50 else (3 if r < 85 else 1)

def issue_level(k):
    return wchoice(random.Random(k * 7 + 1), LEVELS)

# Zipf weights over issues (plus one guaranteed event each).
def issue_for(rng, idx, cum):
    if idx < N_ISSUES:
        return idx
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo

cum = []
acc = 0.0
for k in range(N_ISSUES):
    acc += 1.0 / (k + 1) ** 1.1
    cum.append(acc)

def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def envelope(items, event_id=None):
    head = {"sdk": {"name": "perf.gen", "version": "1"}}
    if event_id:
        head["event_id"] = event_id
    parts = [json.dumps(head).encode()]
    for hdr, payload in items:
        if not isinstance(payload, bytes):
            payload = json.dumps(payload, separators=(",", ":")).encode()
        hdr = dict(hdr)
        hdr["length"] = len(payload)
        parts.append(json.dumps(hdr).encode())
        parts.append(payload)
    return b"\n".join(parts) + b"\n"

class Sender:
    def __init__(self):
        self.conn = None
        self.errors = 0
        self.sent = 0
    def post(self, project, body):
        key = KEYS[project - 1]
        path = "/api/%d/envelope/" % project
        hdrs = {"Content-Type": "application/x-sentry-envelope",
                "X-Sentry-Auth": "Sentry sentry_version=7, sentry_key=%s, sentry_client=perf.gen/1" % key}
        for attempt in range(5):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
                self.conn.request("POST", path, body, hdrs)
                r = self.conn.getresponse()
                data = r.read()
                if r.status == 200:
                    self.sent += 1
                    return
                if r.status in (429, 503):
                    time.sleep(0.2)
                    continue
                self.errors += 1
                if self.errors < 10:
                    print("HTTP", r.status, data[:300], file=sys.stderr)
                return
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                time.sleep(0.1)
        self.errors += 1

META = {"event_ids": {}, "trace_ids": [], "big_traces": [], "feedback_events": []}
meta_lock = threading.Lock()

def run_parallel(name, n, fn):
    t0 = time.time()
    senders = [Sender() for _ in range(THREADS)]
    def work(tid):
        rng = random.Random(hash((name, tid)) & 0xffffffff)
        s = senders[tid]
        for idx in range(tid, n, THREADS):
            fn(idx, rng, s)
    ths = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in ths: t.start()
    for t in ths: t.join()
    dt = time.time() - t0
    print("%-12s %7d requests in %6.1fs (%.0f/s), errors %d" % (
        name, sum(s.sent for s in senders), dt, n / max(dt, 1e-9), sum(s.errors for s in senders)), flush=True)

# Traces shared between transactions and events: trace t has 1..4 transactions.
N_TRACES = max(1, N_TX * 2 // 5)
def trace_id_of(t):
    return uuid.UUID(int=(0x5eed << 96) ^ (t * 0x9E3779B97F4A7C15 & ((1 << 96) - 1))).hex

def tx_trace(idx):
    return idx % N_TRACES

def event_time(idx, n, rng):
    base = NOW - DAYS * 86400 + (idx / max(n, 1)) * DAYS * 86400
    return min(NOW - 1, base + rng.uniform(-600, 600))

FRAMES_BASE = ["framework/core.py", "framework/handlers.py", "app/middleware.py", "app/views.py", "app/services.py",
               "app/models.py", "lib/db.py", "lib/cache.py"]

def gen_event(idx, rng, s):
    k = issue_for(rng, idx, cum)
    p = issue_project(k)
    ts = event_time(idx, N_EVENTS, rng)
    frac = (ts - (NOW - DAYS * 86400)) / (DAYS * 86400)
    rel_i = min(7, max(0, int(frac * 8 + rng.uniform(-0.7, 0.3))))
    release = RELEASES[p][rel_i]
    env = wchoice(rng, ENVS)
    lvl = issue_level(k) if rng.random() < 0.9 else wchoice(rng, LEVELS)
    eid = uuid.UUID(int=rng.getrandbits(128)).hex
    exc = EXC[k % len(EXC)]
    frames = []
    for fi, fname in enumerate(FRAMES_BASE):
        frames.append({"filename": fname, "abs_path": "/srv/" + fname, "function": "func_%d_%d" % (k % 97, fi),
                       "lineno": 10 + fi * 7 + k % 13, "module": fname.replace("/", ".")[:-3],
                       "in_app": fname.startswith("app/"),
                       "context_line": "    result = do_something_%d(arg)" % fi,
                       "pre_context": ["    # step", "    x = compute()"], "post_context": ["    return result"],
                       "vars": {"arg": "'value-%d'" % rng.randint(0, 999), "n": str(rng.randint(0, 99))}})
    frames.append({"filename": "app/handler_%d.py" % k, "function": "handle_issue_%d" % k, "lineno": 42, "in_app": True})
    if rng.random() < 0.3 and N_TRACES:
        t = rng.randrange(N_TRACES)
        trace = trace_id_of(t)
    else:
        trace = uuid.UUID(int=rng.getrandbits(128)).hex
    span = "%016x" % rng.getrandbits(64)
    ev = {
        "event_id": eid, "timestamp": ts, "platform": "python", "level": lvl, "release": release,
        "environment": env, "server_name": "host-%d" % rng.randint(1, 12), "logger": "app.module%d" % (k % 30),
        "transaction": TX_NAMES[k % len(TX_NAMES)],
        "fingerprint": ["perf-issue-%d" % k],
        "exception": {"values": [{"type": exc, "value": "failure %d in handle_issue_%d: id=%d" % (k, k, rng.randint(1, 10**6)),
                                  "module": "app.errors", "mechanism": {"type": "generic", "handled": rng.random() < 0.8},
                                  "stacktrace": {"frames": frames}}]},
        "tags": {"customer_tier": rng.choice(["free", "pro", "enterprise"]), "region": rng.choice(["eu", "us", "ap"]),
                 "feature_flag": "ff-%d" % rng.randint(0, 20)},
        "contexts": {"trace": {"trace_id": trace, "span_id": span, "op": "http.server"},
                     "os": {"name": rng.choice(["Linux", "macOS", "Windows"])},
                     "runtime": {"name": "CPython", "version": "3.12.%d" % rng.randint(0, 5)},
                     "browser": {"name": rng.choice(["Chrome", "Firefox", "Safari"]), "version": str(rng.randint(100, 130))}},
        "request": {"url": "https://example.com/api/v1/resource%d" % (k % 100), "method": "GET",
                    "headers": {"User-Agent": "Mozilla/5.0"}},
        "breadcrumbs": {"values": [{"timestamp": ts - 5 + b, "category": "http", "message": "GET /thing/%d" % b,
                                    "level": "info"} for b in range(5)]},
        "extra": {"request_id": uuid.UUID(int=rng.getrandbits(128)).hex},
    }
    if rng.random() < 0.9:
        uid = rng.randrange(N_USERS)
        ev["user"] = {"id": "user-%d" % uid, "email": "user%d@example.com" % uid, "ip_address": "10.0.%d.%d" % (uid // 250, uid % 250)}
    s.post(p, envelope([({"type": "event"}, ev)], eid))
    if idx % 97 == 0:
        with meta_lock:
            META["event_ids"].setdefault(str(p), []).append(eid)

def gen_tx(idx, rng, s):
    t = tx_trace(idx)
    trace = trace_id_of(t)
    p = [2, 3, 1][idx % 3] if idx % 10 else 2
    name = TX_NAMES[rng.randrange(len(TX_NAMES))] if rng.random() < 0.95 else TX_NAMES[0]
    op = "task" if name.startswith("task") else rng.choice(["http.server"] * 8 + ["ui.load"] * 2)
    status = wchoice(rng, [("ok", 90), ("internal_error", 5), ("not_found", 3), ("deadline_exceeded", 2)])
    start = event_time(idx, N_TX, rng)
    dur = rng.lognormvariate(-2.5, 1.0)
    end = start + dur
    root = "%016x" % rng.getrandbits(64)
    frac = (start - (NOW - DAYS * 86400)) / (DAYS * 86400)
    release = RELEASES[p][min(7, max(0, int(frac * 8)))]
    spans = []
    nsp = rng.randint(4, 12)
    parent = root
    for si in range(nsp):
        ss = start + dur * (si / nsp)
        se = ss + dur / nsp * rng.uniform(0.3, 1.0)
        sid = "%016x" % rng.getrandbits(64)
        sop = rng.choice(SPAN_OPS)
        desc = ("SELECT * FROM table_%d WHERE id = %%s" % rng.randint(0, 60)) if sop == "db.query" else \
               ("GET https://svc%d.internal/x" % rng.randint(0, 20)) if sop == "http.client" else "%s %d" % (sop, rng.randint(0, 50))
        spans.append({"span_id": sid, "parent_span_id": parent if si % 3 else root, "trace_id": trace, "op": sop,
                      "description": desc, "start_timestamp": ss, "timestamp": se,
                      "status": "ok" if rng.random() < 0.97 else "internal_error"})
        if si % 3 == 0:
            parent = sid
    eid = uuid.UUID(int=rng.getrandbits(128)).hex
    tx = {"event_id": eid, "type": "transaction", "transaction": name, "start_timestamp": start, "timestamp": end,
          "platform": "python", "release": release, "environment": wchoice(rng, ENVS),
          "contexts": {"trace": {"trace_id": trace, "span_id": root, "op": op, "status": status}},
          "spans": spans, "tags": {"region": rng.choice(["eu", "us", "ap"])}}
    s.post(p, envelope([({"type": "transaction"}, tx)], eid))
    if idx % 211 == 0:
        with meta_lock:
            META["trace_ids"].append(trace)

def gen_streamed(idx, rng, s):
    # span v2 containers with 10 spans of a fresh trace (segment + children)
    trace = uuid.UUID(int=rng.getrandbits(128)).hex
    start = NOW - rng.uniform(60, DAYS * 86400)
    seg = "%016x" % rng.getrandbits(64)
    items = [{"trace_id": trace, "span_id": seg, "name": "GET /stream/%d" % (idx % 30), "start_timestamp": start,
              "end_timestamp": start + 0.5, "is_segment": True, "status": "ok",
              "attributes": {"sentry.op": {"type": "string", "value": "http.server"}}}]
    for j in range(9):
        items.append({"trace_id": trace, "span_id": "%016x" % rng.getrandbits(64), "parent_span_id": seg,
                      "name": "stream child %d" % j, "start_timestamp": start + j * 0.05,
                      "end_timestamp": start + j * 0.05 + 0.04, "status": "ok",
                      "attributes": {"sentry.op": {"type": "string", "value": "db.query"}}})
    body = envelope([({"type": "span", "content_type": "application/vnd.sentry.items.span.v2+json", "item_count": len(items)},
                      {"version": 2, "items": items})])
    s.post(2, body)

def gen_sessions(idx, rng, s):
    p = PROJECTS[idx % 3]
    items = []
    for j in range(50):
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        did = "user-%d" % rng.randrange(N_USERS)
        started = NOW - rng.uniform(120, 4.5 * 86400)
        rel = RELEASES[p][rng.randrange(5, 8)]
        env = wchoice(rng, ENVS)
        attrs = {"release": rel, "environment": env}
        items.append(({"type": "session"}, {"sid": sid, "did": did, "init": True, "started": iso(started),
                                            "timestamp": iso(started), "status": "ok", "errors": 0, "seq": 0, "attrs": attrs}))
        final = wchoice(rng, [("exited", 90), ("crashed", 3), ("abnormal", 1), ("errored", 6)])
        st = "exited" if final == "errored" else final
        items.append(({"type": "session"}, {"sid": sid, "did": did, "init": False, "started": iso(started),
                                            "timestamp": iso(started + 60), "status": st, "duration": 60.0,
                                            "errors": 1 if final in ("errored", "crashed") else 0, "seq": 1, "attrs": attrs}))
    s.post(p, envelope(items))

def gen_aggregates(idx, rng, s):
    p = PROJECTS[idx % 3]
    rel = RELEASES[p][rng.randrange(5, 8)]
    aggs = []
    for j in range(30):
        started = NOW - rng.uniform(120, 4.5 * 86400)
        aggs.append({"started": iso(started - started % 60), "did": "user-%d" % rng.randrange(N_USERS),
                     "exited": rng.randint(0, 5), "errored": rng.randint(0, 1), "crashed": 1 if rng.random() < 0.05 else 0})
    s.post(p, envelope([({"type": "sessions"}, {"aggregates": aggs, "attrs": {"release": rel, "environment": "production"}})]))

def gen_logs(idx, rng, s):
    p = PROJECTS[idx % 3]
    t0 = NOW - (1 - idx / max(1, N_LOGS)) * 3 * 86400
    lines = []
    for j in range(20):
        lvl = wchoice(rng, [("info", 60), ("debug", 20), ("warn", 12), ("error", 7), ("fatal", 1)])
        lines.append({"timestamp": t0 + j * 0.01, "level": lvl, "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                      "body": "request %d handled in %d ms by worker %d" % (rng.randint(0, 10**6), rng.randint(1, 900), rng.randint(1, 16)),
                      "attributes": {"sentry.release": {"type": "string", "value": RELEASES[p][7]},
                                     "sentry.environment": {"type": "string", "value": wchoice(rng, ENVS)},
                                     "worker": {"type": "integer", "value": rng.randint(1, 16)}}})
    s.post(p, envelope([({"type": "log", "content_type": "application/vnd.sentry.items.log+json", "item_count": len(lines)},
                         {"items": lines})]))

N_MON = 30
def gen_checkins(idx, rng, s):
    # one run: in_progress then its final update (one check_in item per envelope)
    m = idx % N_MON
    p = PROJECTS[m % 3]
    cid = uuid.UUID(int=rng.getrandbits(128)).hex
    slug = "job-%d" % m
    st = "ok" if rng.random() < 0.9 else rng.choice(["error", "timeout"])
    cfg = {"schedule": {"type": "crontab", "value": "*/5 * * * *"}, "checkin_margin": 5, "max_runtime": 30}
    s.post(p, envelope([({"type": "check_in"}, {"check_in_id": cid, "monitor_slug": slug, "status": "in_progress",
                                                "environment": "production", "monitor_config": cfg})]))
    if idx % 50 != 7:  # a few stay in progress
        s.post(p, envelope([({"type": "check_in"}, {"check_in_id": cid, "monitor_slug": slug, "status": st,
                                                    "duration": rng.uniform(1, 100), "environment": "production"})]))

def gen_feedback(idx, rng, s):
    pid = str(PROJECTS[idx % 3])
    ids = META["event_ids"].get(pid) or []
    assoc = ids[rng.randrange(len(ids))] if ids and rng.random() < 0.8 else None
    eid = uuid.UUID(int=rng.getrandbits(128)).hex
    fb = {"event_id": eid, "timestamp": NOW - rng.uniform(0, DAYS * 86400), "platform": "javascript", "level": "info",
          "contexts": {"feedback": {"message": "it broke again #%d" % idx, "contact_email": "u%d@example.com" % idx,
                                    "name": "User %d" % idx}}}
    if assoc:
        fb["contexts"]["feedback"]["associated_event_id"] = assoc
    s.post(int(pid), envelope([({"type": "feedback"}, fb)], eid))

def gen_userreport(idx, rng, s):
    pid = str(PROJECTS[idx % 3])
    ids = META["event_ids"].get(pid) or []
    if not ids:
        return
    assoc = ids[rng.randrange(len(ids))]
    s.post(int(pid), envelope([({"type": "user_report"}, {"event_id": assoc, "name": "R %d" % idx,
                                                          "email": "r%d@example.com" % idx, "comments": "report %d" % idx})]))

def gen_attachment(idx, rng, s):
    pid = str(PROJECTS[idx % 3])
    ids = META["event_ids"].get(pid) or []
    if not ids:
        return
    eid = ids[rng.randrange(len(ids))]
    data = ("log line %d\n" % idx).encode() * 50
    s.post(int(pid), envelope([({"type": "attachment", "filename": "log%d.txt" % idx, "content_type": "text/plain"}, data)], eid))

def gen_report(idx, rng, s):
    p = PROJECTS[idx % 3]
    rep = {"timestamp": NOW - rng.uniform(0, DAYS * 86400),
           "discarded_events": [{"reason": rng.choice(["queue_overflow", "ratelimit_backoff", "sample_rate"]),
                                 "category": rng.choice(["error", "transaction", "span"]), "quantity": rng.randint(1, 50)}]}
    s.post(p, envelope([({"type": "client_report"}, rep)]))

N_LOGS = int(5000 * SCALE)
PLAN = [
    ("events", N_EVENTS, gen_event),
    ("transactions", N_TX, gen_tx),
    ("spans", int(2000 * SCALE), gen_streamed),
    ("sessions", int(600 * SCALE), gen_sessions),
    ("aggregates", int(300 * SCALE), gen_aggregates),
    ("logs", N_LOGS, gen_logs),
    ("checkins", int(15000 * SCALE), gen_checkins),
    ("feedback", int(3000 * SCALE), gen_feedback),
    ("userreports", int(500 * SCALE), gen_userreport),
    ("attachments", int(300 * SCALE), gen_attachment),
    ("reports", int(300 * SCALE), gen_report),
]

if __name__ == "__main__":
    T0 = time.time()
    for name, n, fn in PLAN:
        if ONLY and name not in ONLY:
            continue
        run_parallel(name, n, fn)
    META["trace_ids"] = META["trace_ids"][:200]
    with open("meta.json", "w") as f:
        json.dump(META, f)
    print("total %.1fs" % (time.time() - T0))
