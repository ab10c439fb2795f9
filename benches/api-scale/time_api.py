#!/usr/bin/env python3
"""Time every GET endpoint of docs/receiver-api.md against a running receiver.

Usage: time_api.py BASE_URL TOKEN [filter-substring] > results.tsv
First page and, where the answer has one, the next page (Link rel=next or a
JSON `cursor`). Keep-alive connection; 1 warm-up + up to 5 timed runs, median.
"""
import sys, json, time, http.client, urllib.parse, re, statistics

BASE, TOKEN = sys.argv[1], sys.argv[2]
FILTER = sys.argv[3] if len(sys.argv) > 3 else None
u = urllib.parse.urlparse(BASE)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)

def get(path):
    global conn
    for _ in range(2):
        try:
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
            r = conn.getresponse()
            body = r.read()
            return time.perf_counter() - t0, r.status, dict((k.lower(), v) for k, v in r.getheaders()), body
        except (OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    raise SystemExit("failed " + path)

def next_cursor(hdrs, body):
    link = hdrs.get("link")
    if link:
        for part in link.split(", <"):
            if 'rel="next"' in part and 'results="true"' in part:
                m = re.search(r'cursor="([^"]*)"', part)
                if m:
                    return m.group(1)
        return None
    try:
        j = json.loads(body)
    except Exception:
        return None
    if isinstance(j, dict) and j.get("cursor") not in (None, ""):
        return j["cursor"]
    return None

def count_items(body):
    try:
        j = json.loads(body)
    except Exception:
        return "-"
    if isinstance(j, list):
        return len(j)
    if isinstance(j, dict):
        for k in ("logs", "events", "data", "rows"):
            if isinstance(j.get(k), list):
                return len(j[k])
        return "obj"
    return "-"

def timeit(path):
    dt, st, h, b = get(path)  # warm-up
    runs = [dt]
    if dt < 3:
        runs = []
        for _ in range(5):
            dt, st, h, b = get(path)
            runs.append(dt)
    return statistics.median(runs) * 1000, min(runs) * 1000, st, h, b

def with_cursor(path, cur):
    if isinstance(cur, int):
        # stream: after=
        return re.sub(r"tail=\d+", "after=%d" % cur, path) if "tail=" in path else path + "&after=%d" % cur
    sep = "&" if "?" in path else "?"
    return path + sep + "cursor=" + urllib.parse.quote(str(cur), safe=":")

def run(label, path, page2=True):
    if FILTER and FILTER not in label and FILTER not in path:
        return
    med, mn, st, h, b = timeit(path)
    hits = h.get("x-hits", "")
    n = count_items(b)
    print("%s\t%s\tp1\t%d\t%.1f\t%.1f\t%s\t%s\t%d" % (label, path, st, med, mn, n, hits, len(b)), flush=True)
    if page2 and st == 200:
        cur = next_cursor(h, b)
        if cur is not None and not ("stream" in path):
            p2 = with_cursor(path, cur)
            med, mn, st, h2, b2 = timeit(p2)
            print("%s\t%s\tp2\t%d\t%.1f\t%.1f\t%s\t%s\t%d" % (label, p2, st, med, mn, count_items(b2), h2.get("x-hits", ""), len(b2)), flush=True)

M = json.load(open("meta.json"))
EV2 = M["event_ids"]["2"][5]
EV2_OLD = M["event_ids"]["2"][0]
TR = M["trace_ids"][3]
TR_ERR = "00005eed000000076a99b4b1f77dd0fc"
BIG, MED, SMALL = 2, 56, 1688
P = "/api/0"
ISS = P + "/organizations/local/issues/"
PISS = P + "/projects/local/web/issues/"

print("label\tpath\tpage\tstatus\tmedian_ms\tmin_ms\titems\tx-hits\tbytes")
# basics
for lbl, pth in [("root", P + "/"), ("orgs", P + "/organizations/"), ("org", P + "/organizations/local/"),
                 ("projects", P + "/projects/"), ("org projects", P + "/organizations/local/projects/"),
                 ("project", P + "/projects/local/web/"), ("keys", P + "/projects/local/web/keys/"),
                 ("quotas", P + "/projects/local/web/quotas/"),
                 ("ui index", "/ui/"), ("ui js", "/ui/app.js")]:
    run(lbl, pth, False)
# web page initial issue list (what the page sends)
run("web: issues default", ISS + "?query=&status=unresolved&sort=date&limit=25")
run("web: issues project=2", ISS + "?query=&project=2&status=unresolved&sort=date&limit=25")
# issue list variants
for lbl, q in [
    ("issues no query (is:unresolved)", ""),
    ("issues query= (all)", "?query="),
    ("issues sort=new", "?query=&sort=new"),
    ("issues sort=freq", "?query=&sort=freq"),
    ("issues sort=user", "?query=&sort=user"),
    ("issues status=resolved", "?status=resolved"),
    ("issues status=ignored", "?status=ignored"),
    ("issues status=all", "?status=all"),
    ("issues level=error", "?query=&level=error"),
    ("issues level=fatal", "?query=&level=fatal"),
    ("issues level=fatal sort=freq", "?query=&level=fatal&sort=freq"),
    ("issues env=production", "?query=&environment=production"),
    ("issues env=canary", "?query=&environment=canary"),
    ("issues env=canary sort=freq", "?query=&environment=canary&sort=freq"),
    ("issues release=web@1.7.0", "?query=&release=web@1.7.0"),
    ("issues release=web@1.0.0 sort=user", "?query=&release=web@1.0.0&sort=user"),
    ("issues release=nomatch", "?query=&release=nomatch"),
    ("issues q=is:unresolved level:error environment:production", "?query=is:unresolved%20level:error%20environment:production"),
    ("issues q=text handle_issue_123", "?query=handle_issue_123"),
    ("issues q=text ValueError", "?query=ValueError"),
    ("issues q=text nomatchatall", "?query=nomatchatall"),
    ("issues q=message:", "?query=message:resource1"),
    ("issues q=title:", "?query=title:KeyError"),
    ("issues q=is:assigned", "?query=is:assigned"),
    ("issues q=assigned:none", "?query=assigned:none"),
    ("issues q=assigned:jane", "?query=assigned:jane@example.com"),
    ("issues q=is:regressed", "?query=is:regressed"),
    ("issues q=is:new", "?query=is:new"),
    ("issues q=issue:ID", "?query=issue:%d" % MED),
    ("issues statsPeriod=24h", "?query=&statsPeriod=24h"),
    ("issues statsPeriod=24h sort=freq", "?query=&statsPeriod=24h&sort=freq"),
    ("issues statsPeriod=14d", "?query=&statsPeriod=14d"),
    ("issues project=-1", "?query=&project=-1"),
    ("issues project=1", "?query=&project=1"),
    ("issues limit=100 sort=freq", "?query=&limit=100&sort=freq"),
]:
    run(lbl, ISS + q)
run("project issues default", PISS)
run("project issues sort=freq env=staging", PISS + "?query=&sort=freq&environment=staging")
# issue detail and friends
for name, iid in [("big", BIG), ("medium", MED), ("small", SMALL)]:
    run("issue detail %s" % name, P + "/issues/%d/" % iid, False)
    run("issue events %s" % name, P + "/issues/%d/events/" % iid)
    run("issue events full=1 %s" % name, P + "/issues/%d/events/?full=1" % iid)
    run("issue events env=canary %s" % name, P + "/issues/%d/events/?environment=canary" % iid)
    run("issue events level=debug %s" % name, P + "/issues/%d/events/?level=debug" % iid)
    run("issue events statsPeriod=1h %s" % name, P + "/issues/%d/events/?statsPeriod=1h" % iid)
    for w in ("latest", "oldest", "recommended"):
        run("issue event %s %s" % (w, name), P + "/issues/%d/events/%s/" % (iid, w), False)
    run("issue tags %s" % name, P + "/issues/%d/tags/" % iid, False)
    run("issue tag environment %s" % name, P + "/issues/%d/tags/environment/" % iid, False)
    run("issue hashes %s" % name, P + "/issues/%d/hashes/" % iid, False)
    run("issue user-reports %s" % name, P + "/issues/%d/user-reports/" % iid)
    run("org issue user-reports %s" % name, P + "/organizations/local/issues/%d/user-reports/" % iid)
run("issue by short id", P + "/issues/WEB-2/", False)
run("shortids", P + "/organizations/local/shortids/WEB-2/", False)
# project events
run("project events", P + "/projects/local/web/events/")
run("project events full=1", P + "/projects/local/web/events/?full=1")
run("project events env=canary", P + "/projects/local/web/events/?environment=canary")
run("project events level=fatal", P + "/projects/local/web/events/?level=fatal")
run("project events level=debug env=canary", P + "/projects/local/web/events/?level=debug&environment=canary")
run("project events statsPeriod=1h", P + "/projects/local/web/events/?statsPeriod=1h")
run("project events end=old", P + "/projects/local/web/events/?end=%d" % (time.time() - 24 * 86400))
run("event detail", P + "/projects/local/web/events/%s/" % EV2, False)
run("event detail raw", P + "/projects/local/web/events/%s/?raw=1" % EV2, False)
run("event detail sent", P + "/projects/local/web/events/%s/?sent=1" % EV2, False)
run("event detail unknown", P + "/projects/local/web/events/%s/" % ("0" * 31 + "1"), False)
run("issue event by id", P + "/issues/%d/events/%s/" % (BIG, EV2), False)
run("event attachments", P + "/projects/local/web/events/%s/attachments/" % EV2, False)
run("user-feedback", P + "/projects/local/web/user-feedback/")
# releases
run("org releases", P + "/organizations/local/releases/")
run("org releases per_page=5", P + "/organizations/local/releases/?per_page=5")
run("org releases project=2", P + "/organizations/local/releases/?project=2")
run("org releases query", P + "/organizations/local/releases/?query=1.7")
run("release detail", P + "/organizations/local/releases/web@1.7.0/", False)
run("release deploys", P + "/organizations/local/releases/web@1.7.0/deploys/", False)
run("project releases", P + "/projects/local/web/releases/")
run("project release detail", P + "/projects/local/web/releases/web@1.7.0/", False)
# health
run("health", P + "/local/health/", False)
run("health project=2", P + "/local/health/?project=2", False)
run("health groupBy=project", P + "/local/health/?groupBy=project", False)
run("health release", P + "/local/health/?release=web@1.7.0", False)
run("health statsPeriod=24h", P + "/local/health/?statsPeriod=24h", False)
run("web: releases page health+list", P + "/organizations/local/releases/?per_page=100", False)
# transactions
T = P + "/local/transactions/"
for lbl, q in [("tx default", ""), ("tx web limit=50", "?limit=50"), ("tx sort=timestamp", "?sort=timestamp"),
               ("tx sort=-duration", "?sort=-duration"), ("tx sort=duration", "?sort=duration"),
               ("tx transaction=name", "?transaction=GET%20/api/v1/resource7"),
               ("tx transaction=name sort=-duration", "?transaction=GET%20/api/v1/resource7&sort=-duration"),
               ("tx query=resource1", "?query=resource1"), ("tx query=nomatch", "?query=nomatch"),
               ("tx op=ui.load", "?op=ui.load"), ("tx op=task", "?op=task"),
               ("tx status=deadline_exceeded", "?status=deadline_exceeded"), ("tx env=canary", "?environment=canary"),
               ("tx release=web@1.0.0", "?release=web@1.0.0"), ("tx min_duration=2000", "?min_duration=2000"),
               ("tx min_duration=2000 sort=-duration", "?min_duration=2000&sort=-duration"),
               ("tx project=2", "?project=2"), ("tx project=1", "?project=1"),
               ("tx statsPeriod=1h", "?statsPeriod=1h")]:
    run(lbl, T + q)
run("trace with errors", P + "/local/traces/%s/" % TR_ERR, False)
run("trace", P + "/local/traces/%s/" % TR, False)
run("trace unknown", P + "/local/traces/%s/" % ("ab" * 16), False)
# spans
S = P + "/local/spans/"
for lbl, q in [("spans default", ""), ("spans web limit=50", "?limit=50"), ("spans sort=timestamp", "?sort=timestamp"),
               ("spans sort=-duration", "?sort=-duration"), ("spans sort=duration", "?sort=duration"),
               ("spans trace=", "?trace=" + TR), ("spans op=db.query", "?op=db.query"),
               ("spans op=nomatch", "?op=nomatch"), ("spans status=internal_error", "?status=internal_error"),
               ("spans query=table_5", "?query=table_5%20"), ("spans query=nomatch", "?query=nomatch"),
               ("spans transaction=name", "?transaction=GET%20/api/v1/resource7"),
               ("spans transaction=task", "?transaction=task.worker.job3"),
               ("spans segment=1", "?segment=1"), ("spans segment=0", "?segment=0"),
               ("spans source=stream", "?source=stream"), ("spans source=transaction", "?source=transaction"),
               ("spans min_duration=1000", "?min_duration=1000"), ("spans min_duration=1000 sort=-duration", "?min_duration=1000&sort=-duration"),
               ("spans project=2", "?project=2"), ("spans project=1", "?project=1"),
               ("spans statsPeriod=1h", "?statsPeriod=1h"), ("spans end=old", "?end=%d" % (time.time() - 24 * 86400))]:
    run(lbl, S + q)
# logs
L = P + "/local/logs/"
for lbl, q in [("logs default", ""), ("logs web limit=100", "?limit=100"), ("logs limit=1000", "?limit=1000"),
               ("logs level=fatal", "?level=fatal"), ("logs query=worker 3", "?query=worker%203"),
               ("logs query=nomatch", "?query=nomatchatall"), ("logs trace=nomatch", "?trace=" + "cd" * 16),
               ("logs env=canary", "?environment=canary"), ("logs project=1", "?project=1"),
               ("logs statsPeriod=1h", "?statsPeriod=1h")]:
    run(lbl, L + q)
# monitors
run("monitors", P + "/local/monitors/", False)
run("monitors project=2", P + "/local/monitors/?project=2", False)
run("check-ins", P + "/local/check-ins/")
run("check-ins web limit=50 monitor", P + "/local/check-ins/?limit=50&monitor=job-4&project=2")
run("check-ins status=error", P + "/local/check-ins/?status=error")
run("check-ins monitor=job-1", P + "/local/check-ins/?monitor=job-1")
run("check-ins env=nomatch", P + "/local/check-ins/?environment=nomatch")
run("client-reports", P + "/local/client-reports/", False)
run("client-reports 24h", P + "/local/client-reports/?statsPeriod=24h", False)
# stats
ST = P + "/local/stats/"
for lbl, q in [("stats all fields", ""), ("stats fields=events", "?fields=events"), ("stats fields=issues", "?fields=issues"),
               ("stats fields=transactions", "?fields=transactions"), ("stats fields=sessions", "?fields=sessions"),
               ("stats events level=error", "?fields=events&level=error"),
               ("stats events level=fatal", "?fields=events&level=fatal"),
               ("stats events env=production", "?fields=events&environment=production"),
               ("stats events release", "?fields=events&release=web@1.7.0"),
               ("stats events project=2", "?fields=events&project=2"),
               ("stats events statsPeriod=1h", "?fields=events&statsPeriod=1h"),
               ("stats events title=", "?fields=events&title=KeyError"),
               ("stats events status=resolved", "?fields=events&status=resolved"),
               ("stats issues level=error env=production", "?fields=issues&level=error&environment=production"),
               ("stats transactions transaction=", "?fields=transactions&transaction=resource1"),
               ("stats tx env=production", "?fields=transactions&environment=production"),
               ("stats wait-style events+issues project", "?fields=events,issues&project=2&level=fatal")]:
    run(lbl, ST + q, False)
# stream
SR = P + "/local/stream/"
for lbl, q in [("stream tail=50 (web live)", "?tail=50"), ("stream tail=1000", "?tail=1000"),
               ("stream after=0", "?after=0"), ("stream after=0 limit=1000", "?after=0&limit=1000"),
               ("stream after=recent", "?after=300000&limit=200"),
               ("stream tail=50 level=fatal", "?tail=50&level=fatal"),
               ("stream after=recent level=fatal (web poll)", "?after=300250&level=fatal&limit=200"),
               ("stream tail=50 project=1", "?tail=50&project=1"),
               ("stream tail=50 project=1 level=debug", "?tail=50&project=1&level=debug")]:
    run(lbl, SR + q, False)
