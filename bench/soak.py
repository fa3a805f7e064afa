#!/usr/bin/env python3
"""lookback soak: a box that runs for weeks, compressed into minutes.

    bench/soak.py                  the default soak: 4 cameras, 20 minutes;
                                   writes SOAK.md (about 25 minutes in all)
    bench/soak.py --minutes 120    a longer one
    bench/soak.py --smoke          under a minute: 1 camera, every event once,
                                   every check; writes nothing (meson test)

What runs (README, "Endurance"): N RTSP test cameras (lb-test-camera, on
loopback) recorded by one lookbackd; a pool of clients creating a steady mix
of all four retrieval types, polled to their end; 500 idle connections held
open (half silent, half one byte into a request), 1 000 during one phase
measured with wrk; the upload receiver (nginx, PUT) stopped for 30 s every
2 minutes; lookbackd killed with -9 and restarted every 5 minutes; the store's
file system filled to its [store] min-free floor once by a ballast file.  The
store lives on a file system of its own (an ext4 image mounted on a loop
device, or a tmpfs: root is needed) so that the floor means something.

Every few seconds it samples lookbackd's RSS, open descriptors, the WAL and
database sizes, disk use and API latency; every few more it copies the
footage index (read-only), so that footage later deleted by retention is
still known.  At the end it checks and writes SOAK.md: every retrieval ended
exactly once (its final state never changes afterwards, nothing is left
pending) and was charged once (the quota books equal the sum of what was
delivered, at the configured weights); footage lost per kill at most one GOP
(each coverage gap against the kill inside it); no gap anywhere else (the
disk floor, the idle connections, the upload outages); the oldest footage
went first; PRAGMA integrity_check ok; and the targets of issue 10.
"""

import argparse
import collections
import ctypes
import datetime
import http.client
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the bench harness: processes, wrk, machine)

ROOT, CAMERA, LOOKBACKD, LOOKBACK = bench.ROOT, bench.CAMERA, bench.LOOKBACKD, bench.LOOKBACK
NS = bench.NS
MiB = 1024 * 1024

# The unit's LimitNOFILE (data/lookbackd.service.in): lookbackd runs with it.
FD_LIMIT = 8192
# lb-test-camera sends one keyframe a second; rtspsrc holds this much.
RTSP_LATENCY_MS = 100
INPUT_NAMES = ["dashcamRoadFacing", "dashcamDriverFacing", "analog1", "analog2", "analog3", "analog4"]
MEDIA_TYPES = ["image", "videoHighRes", "videoLowRes", "hyperlapse"]
FINAL = {"available", "failed", "unavailable", "invalid"}

# Targets of issue 10, checked against the samples
WAL_MAX = 64 * MiB
RSS_MAX = 160 * MiB
RSS_GROWTH_MAX = 0.05
FDS_SPREAD = 10
IDLE_GET_P99_MS = 50.0


def log(*args):
    print("soak: %s" % " ".join(str(a) for a in args), file=sys.stderr, flush=True)


def now_ns():
    return time.time_ns()


def _tie_to_parent():
    """Children die with the harness, however it ends (PR_SET_PDEATHSIG).
    Only the main thread starts long-lived children: the signal follows the
    thread that forked."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def _lookbackd_child():
    _tie_to_parent()
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


# --------------------------------------------------------------------------
# The plan: what happens when, in seconds from the start


class Plan:
    def __init__(self, args):
        self.cameras = args.cameras
        self.seconds = int(args.minutes * 60)
        self.width, self.height, self.fps = args.width, args.height, args.fps
        self.rate = args.rate
        self.clients = args.clients
        self.sample_every = args.sample_every
        self.idle, self.idle_phase = args.idle, args.idle_phase
        T = self.seconds
        if args.smoke:
            # every event once, in under a minute
            self.kills = [22.0]
            self.nginx_down = [(10.0, 16.0)]
            self.keep = "10s"     # outputs swept within the run
            self.ballast_at = 30.0
            self.control = (24.0, 31.0)
            self.phase = (34.0, 44.0)
            self.index_every = 4.0
            self.drain_s = 20
            self.segment_s = 5    # segments to delete at the floor within the minute
        else:
            k = args.kill_every * 60
            # a kill lands anywhere in the cameras' GOP: each gets a
            # sub-second offset of its own
            rng = random.Random(args.seed)
            self.kills = [t + rng.random() for t in range(int(k), T - 59, int(k))] if k > 0 else []
            n = args.nginx_every * 60
            self.nginx_down = [(float(t), float(t + args.nginx_down)) for t in range(int(n), T - 59, int(n))]
            # the ballast halfway between two kills, about a third in
            self.ballast_at = (int(T * 0.35 / k) + 0.5) * k if k > 0 else T * 0.35
            if args.ballast_at is not None:
                self.ballast_at = args.ballast_at * 60 or None
            # between the last kill and the end: wrk with the usual idle
            # connections (the control: what the machine's load alone
            # costs), then the same with 1 000
            start = (self.kills[-1] if self.kills else T * 0.6) + 60
            if start > T - 180:
                start = max(60.0, T - 180)
            self.control = (start, start + 70)
            self.phase = (start + 75, min(start + 155, T - 20))
            self.index_every = 15.0
            self.drain_s = 300
            self.segment_s = args.segment
            self.keep = "2min"


# --------------------------------------------------------------------------
# Peers: the store's file system, cameras, nginx, lookbackd


class StoreFs:
    """A file system of its own for the store, so that its floor is met
    by the footage and the ballast alone (other work on the machine's disk
    cannot move it)."""

    def __init__(self, workdir, kind, size):
        self.mnt = os.path.join(workdir, "fs")
        self.image = os.path.join(workdir, "store.ext4")
        self.kind, self.size, self.mounted = kind, size, False
        os.makedirs(self.mnt)
        kinds = ["ext4", "tmpfs"] if kind == "auto" else [kind]
        errors = []
        for k in kinds:
            try:
                getattr(self, "_mount_" + k)()
                self.kind, self.mounted = k, True
                return
            except (subprocess.CalledProcessError, OSError) as e:
                errors.append("%s: %s" % (k, (getattr(e, "stderr", None) or str(e)).strip()))
        raise SystemExit("soak: cannot give the store a file system of its own (root is needed): " +
                         "; ".join(errors))

    def _mount_ext4(self):
        with open(self.image, "wb") as f:
            f.truncate(self.size)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image], check=True, capture_output=True,
                       text=True)
        subprocess.run(["mount", "-o", "loop", self.image, self.mnt], check=True, capture_output=True, text=True)

    def _mount_tmpfs(self):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % self.size, "tmpfs", self.mnt], check=True,
                       capture_output=True, text=True)

    def describe(self):
        what = "an ext4 image on a loop device" if self.kind == "ext4" else "a tmpfs"
        return "%s of %d MiB" % (what, self.size // MiB)

    def free(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def used(self):
        st = os.statvfs(self.mnt)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], capture_output=True)
            self.mounted = False
        if os.path.exists(self.image):
            os.unlink(self.image)


class Nginx:
    """The upload receiver, started as tests/upload/lb-test-nginx.c does."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "nginx")
        self.root = os.path.join(self.dir, "root")
        self.port = bench.free_port()
        self.proc = None
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.dir, "body-tmp"))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("daemon off;\nmaster_process off;\nuser root;\npid %(d)s/nginx.pid;\n"
                    "error_log %(d)s/error.log info;\nevents { worker_connections 256; }\n"
                    "http {\n  log_format up '$msec $request_method $uri $status $request_length';\n"
                    "  access_log %(d)s/access.log up;\n  client_body_temp_path %(d)s/body-tmp;\n"
                    "  client_max_body_size 0;\n  server {\n    listen 127.0.0.1:%(p)d;\n    root %(r)s;\n"
                    "    location /up/ { dav_methods PUT; create_full_put_path on; "
                    "dav_access user:rw group:r all:r; }\n  }\n}\n" % {"d": self.dir, "p": self.port, "r": self.root})

    def start(self):
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([binary, "-c", self.conf, "-p", self.dir, "-e", "stderr"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=_tie_to_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        raise SystemExit("soak: nginx did not start (see %s/error.log)" % self.dir)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def puts(self):
        """PUTs per object path, from the access log."""
        n = collections.Counter()
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 4 and parts[1] == "PUT" and parts[3] in ("201", "204"):
                        n[parts[2]] += 1
        except OSError:
            pass
        return n


class Cameras:
    def __init__(self, plan):
        self.procs, self.urls = [], []
        for _ in range(plan.cameras):
            p = subprocess.Popen([CAMERA, "--width", str(plan.width), "--height", str(plan.height),
                                  "--fps", str(plan.fps)], stdout=subprocess.PIPE, text=True,
                                 env=bench.gst_env(), preexec_fn=_tie_to_parent)
            self.procs.append(p)
            self.urls.append(bench.readline_within(p, 30, "lb-test-camera's URL"))

    def inputs(self):
        """(vehicle, input) of each camera: six inputs per vehicle."""
        return [("soak%d" % (i // len(INPUT_NAMES)), INPUT_NAMES[i % len(INPUT_NAMES)])
                for i in range(len(self.urls))]

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)


class Lookbackd:
    """lookbackd on the soak's configuration; its lives (start to kill or
    stop) are numbered from 1."""

    def __init__(self, workdir, fs, cameras, nginx, min_free, plan):
        self.dir = workdir
        self.port = bench.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.store = os.path.join(fs.mnt, "store")
        self.db = os.path.join(self.store, "lookback.db")
        self.conf = os.path.join(workdir, "lookback.conf")
        lines = [
            "[server]", "listen=127.0.0.1:%d" % self.port,
            "[store]", "dir=%s" % self.store, "min-free=%d" % min_free,
            "[recorder]", "time-source=trust", "segment-duration=%ds" % plan.segment_s,
            "[api]", "create-per-minute=100000000", "reads-per-second=100000000",
            "[upload]", "url-template=http://127.0.0.1:%d/up/{vehicleId}/{retrievalId}/{input}.{ext}" % nginx.port,
            "backoff-min=1s", "backoff-max=10s", "keep=" + plan.keep,
        ]
        for (vehicle, name), url in zip(cameras.inputs(), cameras.urls):
            lines += ["[input %s %s]" % (vehicle, name),
                      "source=rtspsrc location=%s latency=%d" % (url, RTSP_LATENCY_MS)]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.lives = []   # {"life", "pid", "start", "ready", "end", "how"} (monotonic s from t0)

    def cli(self, *args):
        return bench.run([LOOKBACK, "--config", self.conf] + list(args), env=bench.gst_env()).stdout

    def start(self, t):
        n = len(self.lives) + 1
        logf = open(os.path.join(self.dir, "lookbackd-%d.log" % n), "w")
        # the unit's environment (data/lookbackd.service.in)
        env = dict(bench.gst_env(), G_SLICE="always-malloc")
        self.proc = subprocess.Popen([LOOKBACKD, "--config", self.conf], stdout=subprocess.DEVNULL, stderr=logf,
                                     env=env, preexec_fn=_lookbackd_child)
        logf.close()
        life = {"life": n, "pid": self.proc.pid, "start": t(), "ready": None, "end": None, "how": None}
        self.lives.append(life)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    pass
                life["ready"] = t()
                return
            except urllib.error.HTTPError:
                life["ready"] = t()
                return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise SystemExit("soak: lookbackd did not start (see %s)" % logf.name)

    @property
    def pid(self):
        p = self.proc
        return p.pid if p is not None and p.returncode is None else None

    def kill(self, t):
        """kill -9; the wall-clock time of the kill in ns."""
        at = now_ns()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.lives[-1].update(end=t(), how="kill -9")
        self.proc = None
        return at

    def stop(self, t):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
            how = "SIGTERM (exit %d)" % self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            how = "SIGTERM, then killed after 60 s"
        self.lives[-1].update(end=t(), how=how)
        self.proc = None

    def logs(self):
        out = []
        for life in self.lives:
            try:
                with open(os.path.join(self.dir, "lookbackd-%d.log" % life["life"]), errors="replace") as f:
                    out.append((life["life"], f.read()))
            except OSError:
                pass
        return out


# --------------------------------------------------------------------------
# Load: API clients, idle connections


class Http:
    """One keep-alive connection to lookbackd; any error closes it."""

    def __init__(self, port, token, timeout=15):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = None

    def call(self, method, path, body=None, auth=True):
        """(status, parsed body or None); raises OSError when lookbackd does not answer."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Authorization": "Bearer " + self.token} if auth else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise OSError(str(e) or type(e).__name__)
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Retrievals:
    """What the clients created, and what the poller saw of each media."""

    def __init__(self):
        self.lock = threading.Lock()
        self.created = {}        # retrievalId → {"type", "inputs", "vehicle", "at", "future"}
        self.final = {}          # (retrievalId, input) → first final media seen
        self.open = set()        # retrievalIds with a media not final yet
        self.errors = collections.Counter()  # what went wrong, by kind
        self.ambiguous = 0       # creates whose answer was lost (lookbackd killed)
        self.last_quota = None

    def add(self, rid, meta):
        with self.lock:
            self.created[rid] = meta
            self.open.add(rid)

    def error(self, kind):
        with self.lock:
            self.errors[kind] += 1


def make_request(rng, vehicle, inputs, media_type):
    """A create body for recent footage (a fifth of them reaching a little
    into the future: they wait, and are woken by the footage)."""
    now = now_ns()
    future = rng.random() < 0.2
    if media_type == "image":
        at = now + int(rng.uniform(1, 4) * NS) if future else now - int(rng.uniform(5, 60) * NS)
        start = end = at
    elif media_type == "hyperlapse":
        end = now + 3 * NS if future else now - int(rng.uniform(3, 20) * NS)
        start = end - 180 * NS
    else:
        end = now + 4 * NS if future else now - int(rng.uniform(3, 30) * NS)
        start = end - 10 * NS
    return {"vehicleId": vehicle, "inputs": inputs, "mediaType": media_type,
            "startTime": bench.rfc3339(start), "endTime": bench.rfc3339(end)}, future


def client_main(i, port, token, cameras, plan, rets, stop, seed):
    """One client of the pool: a create every clients/rate seconds, the
    four media types in turn (shuffled), one or two inputs."""
    rng = random.Random(seed * 1000 + i)
    api = Http(port, token)
    by_vehicle = collections.defaultdict(list)
    for vehicle, name in cameras.inputs():
        by_vehicle[vehicle].append(name)
    period = plan.clients / plan.rate
    stop.wait(rng.uniform(0, period))
    types = []
    while not stop.is_set():
        if not types:
            types = list(MEDIA_TYPES)
            rng.shuffle(types)
        media_type = types.pop()
        vehicle = rng.choice(sorted(by_vehicle))
        names = by_vehicle[vehicle]
        inputs = rng.sample(names, 2 if len(names) > 1 and rng.random() < 0.25 else 1)
        body, future = make_request(rng, vehicle, inputs, media_type)
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                status, reply = api.call("POST", "/cameras/media/retrieval", body)
            except OSError:
                # lookbackd is down (killed): the create may or may not have
                # been committed; a client tries again
                with rets.lock:
                    rets.ambiguous += 1
                stop.wait(0.5)
                continue
            if status == 200 and reply and "data" in reply:
                rets.add(reply["data"]["retrievalId"], {"type": media_type, "inputs": inputs, "vehicle": vehicle,
                                                        "future": future, "body": body})
                with rets.lock:
                    rets.last_quota = reply["data"].get("quotaStatus")
            else:
                rets.error("create answered %s: %s" % (status, (reply or {}).get("message")))
            break
        stop.wait(max(0.0, period * rng.uniform(0.5, 1.5) - (time.monotonic() - t0)))
    api.close()


def poll_once(api, rets, rid):
    """GETs @rid; records each media's first final state.  TRUE when all are."""
    status, reply = api.call("GET", "/cameras/media/retrieval?retrievalId=" + rid)
    if status != 200:
        rets.error("GET answered %s: %s" % (status, (reply or {}).get("message")))
        return False
    media = reply["data"]["media"]
    done = bool(media)
    for m in media:
        if m["status"] not in FINAL:
            done = False
            continue
        key = (rid, m["input"])
        with rets.lock:
            if key not in rets.final:
                rets.final[key] = {k: m.get(k) for k in ("status", "startTime", "endTime", "failureReason",
                                                         "mediaType")}
    return done


def poller_main(port, token, rets, stop):
    api = Http(port, token)
    while not stop.is_set():
        with rets.lock:
            todo = sorted(rets.open)
        for rid in todo:
            try:
                if poll_once(api, rets, rid):
                    with rets.lock:
                        rets.open.discard(rid)
            except OSError:
                break   # lookbackd is down: next round
        stop.wait(1.0)
    api.close()


class IdlePool:
    """Idle connections held open: half never send a byte, half send the
    first byte of a request and nothing more.  Whatever lookbackd closes
    (its request and idle timeouts, a kill) is opened again."""

    def __init__(self, port):
        self.port = port
        self.target = 0
        self.socks = {}          # fd → socket
        self.lock = threading.Lock()
        self.opened = self.closed_by_server = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, name="idle", daemon=True)
        self.thread.start()

    def held(self):
        with self.lock:
            return len(self.socks)

    def _open(self, n):
        for _ in range(n):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError:
                s.close()
                return   # lookbackd is down: later
            if self.opened % 2:
                s.send(b"G")
            s.setblocking(False)
            with self.lock:
                self.socks[s.fileno()] = s
            self.opened += 1

    def _reap(self):
        p = select.poll()
        with self.lock:
            for fd in self.socks:
                p.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        for fd, _ in p.poll(0):
            with self.lock:
                s = self.socks.pop(fd, None)
            if s is not None:
                s.close()
                self.closed_by_server += 1

    def _trim(self):
        with self.lock:
            extra = len(self.socks) - self.target
            for fd in list(self.socks)[:max(0, extra)]:
                self.socks.pop(fd).close()

    def _main(self):
        while not self.stop.is_set():
            self._reap()
            self._trim()
            self._open(max(0, self.target - self.held()))
            self.stop.wait(0.5)
        with self.lock:
            for s in self.socks.values():
                s.close()
            self.socks.clear()

    def close(self):
        self.stop.set()
        self.thread.join()


WRK_GET = r"""
wrk.headers["Authorization"] = "Bearer TOKEN"
request = function() return wrk.format("GET", "PATH") end
delay = function() return 20 end
"""


def wrk_phase(url, token, path, seconds, workdir):
    """Authenticated GETs, 4 connections each pausing 20 ms (about 200 req/s),
    for @seconds: wrk's latency percentiles."""
    script = os.path.join(workdir, "get.lua")
    with open(script, "w") as f:
        f.write(WRK_GET.replace("TOKEN", token).replace("PATH", path))
    cmd = ["wrk", "-t1", "-c4", "-d%ds" % seconds, "--latency", "-s", script, url]
    out = bench.run(cmd, timeout=seconds + 60).stdout
    rps, lat = bench.parse_wrk(out)
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "lat": lat, "errors": errors.group(1) if errors else "",
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "cmd": "wrk -t1 -c4 -d%ds --latency -s get.lua %s (20 ms pause per connection)" % (seconds, url)}


# --------------------------------------------------------------------------
# Sampling


def fd_counts(pid):
    """(all, sockets) open descriptors of @pid."""
    total = sockets = 0
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        total += 1
        try:
            if os.readlink(os.path.join(d, name)).startswith("socket:"):
                sockets += 1
        except OSError:
            pass
    return total, sockets


def size_of(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def tree_size(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            total += size_of(os.path.join(dirpath, f))
    return total


class Index:
    """Every footage segment ever seen in the index (read-only copies taken
    during the run): what retention deleted stays known."""

    def __init__(self, db):
        self.db = db
        self.segments = {}   # path → [vehicle, input, start_ns, end_ns, first_seen_t, last_seen_t]
        self.snapshots = 0

    def snapshot(self, t):
        if not os.path.exists(self.db):
            return
        try:
            con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=2)
            try:
                rows = con.execute("SELECT vehicle, input, path, start_ns, end_ns FROM footage_segment").fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            return
        self.snapshots += 1
        for vehicle, input_, path, start, end in rows:
            s = self.segments.get(path)
            if s is None:
                self.segments[path] = [vehicle, input_, start, end, t, t]
            else:
                s[2], s[3] = min(s[2], start), max(s[3], end)
                s[5] = t


def sample(t, d, fs, idle, rets, probe):
    s = {"t": t, "life": len(d.lives), "load": os.getloadavg()[0], "idle": idle.held()}
    with rets.lock:
        s["open"] = len(rets.open)
    pid = d.pid
    if pid:
        try:
            s["rss"] = bench.proc_status(pid, "VmRSS") * 1024
            s["threads"] = bench.proc_status(pid, "Threads")
            s["fds"], s["socks"] = fd_counts(pid)
            s["age"] = t - d.lives[-1]["start"]
        except (OSError, ValueError):
            pass
        if not s.get("rss"):
            # read while the kernel tore the process down (a kill): no
            # memory, no descriptors; not a sample of lookbackd at work
            for k in ("rss", "threads", "fds", "socks", "age"):
                s.pop(k, None)
    s["wal"] = size_of(d.db + "-wal")
    s["db"] = size_of(d.db)
    s["free"] = fs.free()
    s["segments"] = tree_size(os.path.join(d.store, "segments"))
    s["outputs"] = tree_size(os.path.join(d.store, "outputs"))
    if pid:
        s.update(probe())
    return s


class CpuShare:
    """Where the machine's CPU went during the run, from /proc: lookbackd,
    the soak's other processes (cameras, nginx, wrk, the clients), and
    everything else on the machine, by program name (the 2 cores are shared
    with other work)."""

    def __init__(self, lookbackd_pids):
        self.lookbackd_pids = lookbackd_pids
        self.prev = {}                      # pid → (comm, ticks)
        self.by = collections.Counter()     # "lookbackd" | "soak" | comm → ticks
        self.hz = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _procs():
        out = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % name) as f:
                    raw = f.read()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            out[int(name)] = (comm.split("/")[0], int(fields[1]), int(fields[11]) + int(fields[12]))
        return out

    def sample(self):
        procs = self._procs()
        ours, todo = set(), [os.getpid()]
        children = collections.defaultdict(list)
        for pid, (_, ppid, _) in procs.items():
            children[ppid].append(pid)
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo += children.get(pid, [])
        lbd = set(self.lookbackd_pids())
        cur = {}
        for pid, (comm, _, ticks) in procs.items():
            cur[pid] = (comm, ticks)
            before = self.prev.get(pid)
            # a pid keeps counting across an exec (its comm changes); a
            # process new since the last sample counts whole
            delta = ticks - before[1] if before and ticks >= before[1] else ticks if self.prev else 0
            who = "lookbackd" if pid in lbd else "soak" if pid in ours else comm
            self.by[who] += max(0, delta)
        self.prev = cur

    def line(self, seconds):
        s = {k: v / self.hz for k, v in self.by.items()}
        others = sorted(((v, k) for k, v in s.items() if k not in ("lookbackd", "soak")), reverse=True)
        return ("CPU over the run (%.0f s × %d cores = %.0f core-seconds): lookbackd %.0f s, the soak's other "
                "processes (cameras, nginx, wrk, clients) %.0f s, other work on the machine %.0f s; the largest: "
                "%s." % (seconds, os.cpu_count(), seconds * os.cpu_count(), s.get("lookbackd", 0), s.get("soak", 0),
                         sum(v for v, _ in others), ", ".join("%s %.0f s" % (k, v) for v, k in others[:8])))


class Prober:
    """API latency at each sample: /healthz without a token, and three
    authenticated GETs of one retrieval."""

    def __init__(self, port, token, rid):
        self.api = Http(port, token, timeout=5)
        self.rid = rid

    def __call__(self):
        out = {}
        try:
            t0 = time.perf_counter()
            self.api.call("GET", "/healthz", auth=False)
            out["healthz_ms"] = (time.perf_counter() - t0) * 1000
            gets = []
            for _ in range(3):
                t0 = time.perf_counter()
                status, _ = self.api.call("GET", "/cameras/media/retrieval?retrievalId=" + self.rid)
                if status == 200:
                    gets.append((time.perf_counter() - t0) * 1000)
            out["get_ms"] = gets
        except OSError:
            pass
        return out


# --------------------------------------------------------------------------
# The run


class Soak:
    def __init__(self, args):
        self.args = args
        self.plan = Plan(args)
        self.workdir = tempfile.mkdtemp(prefix="lookback-soak-")
        self.t0 = None
        self.samples = []
        self.events = []          # (t, text)
        self.kills = []           # {"t", "wall_ns", "life"}
        self.ballast = None
        self.phase_res = self.control_res = None
        self.crashes = []
        self.load_start = os.getloadavg()
        self.cpu = CpuShare(lambda: [life["pid"] for life in self.d.lives])

    def t(self):
        return time.monotonic() - self.t0

    def event(self, text):
        self.events.append((self.t(), text))
        log("%6.1f s  %s" % (self.t(), text))

    def setup(self):
        a, p = self.args, self.plan
        size = a.store_size * MiB if a.store_size else (64 + 2 * p.cameras * max(1, int(a.minutes))) * MiB
        self.min_free = a.min_free * MiB
        self.fs = StoreFs(self.workdir, a.store_fs, size)
        self.nginx = Nginx(self.workdir)
        self.cameras = Cameras(p)
        self.d = Lookbackd(self.workdir, self.fs, self.cameras, self.nginx, self.min_free, p)
        self.tokens = [self.d.cli("token", "add", "--org", "soak", "--scopes", "media:read,media:write").strip()
                       for _ in range(p.clients + 1)]
        self.index = Index(self.d.db)
        self.rets = Retrievals()

    def first_retrieval(self):
        """The retrieval the latency probes read: an image 2 s into the run."""
        api = Http(self.d.port, self.tokens[-1])
        vehicle, name = self.cameras.inputs()[0]
        at = bench.rfc3339(now_ns() + 2 * NS)
        status, reply = api.call("POST", "/cameras/media/retrieval", {
            "vehicleId": vehicle, "inputs": [name], "mediaType": "image", "startTime": at, "endTime": at})
        api.close()
        if status != 200:
            raise SystemExit("soak: the first create answered %s: %s" % (status, reply))
        rid = reply["data"]["retrievalId"]
        self.rets.add(rid, {"type": "image", "inputs": [name], "vehicle": vehicle, "future": True,
                            "body": None})
        return rid

    def schedule(self):
        p = self.plan
        ev = [(t, "kill") for t in p.kills]
        for down, up in p.nginx_down:
            ev += [(down, "nginx-stop"), (up, "nginx-start")]
        ev += [(p.control[0], "control-start"), (p.control[1], "control-end"), (p.phase[0], "phase-start"),
               (p.phase[1], "phase-end"), (p.seconds, "end")]
        if p.ballast_at:
            ev.append((p.ballast_at, "ballast"))
        return sorted(ev)

    def do(self, what):
        if what == "kill":
            life = len(self.d.lives)
            wall = self.d.kill(self.t)
            self.kills.append({"t": self.t(), "wall_ns": wall, "life": life})
            self.event("lookbackd (life %d) killed with -9" % life)
            self.d.start(self.t)
            self.event("lookbackd restarted (life %d), answering after %.1f s" % (
                len(self.d.lives), self.d.lives[-1]["ready"] - self.kills[-1]["t"]))
        elif what == "nginx-stop":
            self.nginx.stop()
            self.event("nginx stopped")
        elif what == "nginx-start":
            self.nginx.start()
            self.event("nginx started")
        elif what == "ballast":
            self.fill_to_floor()
        elif what == "control-start":
            secs = max(3, int(self.plan.control[1] - self.plan.control[0]) - 3)
            self.phase_thread = threading.Thread(target=self.run_phase, args=(secs, 0, "control_res"), daemon=True)
            self.phase_thread.start()
            self.event("wrk for %d s with %d idle connections (the control)" % (secs, self.plan.idle))
        elif what == "control-end":
            self.phase_thread.join()
        elif what == "phase-start":
            self.idle.target = self.plan.idle_phase
            secs = max(3, int(self.plan.phase[1] - self.plan.phase[0]) - 8)
            self.phase_thread = threading.Thread(target=self.run_phase, args=(secs, 5, "phase_res"), daemon=True)
            self.phase_thread.start()
            self.event("%d idle connections; wrk for %d s" % (self.plan.idle_phase, secs))
        elif what == "phase-end":
            self.phase_thread.join()
            self.idle.target = self.plan.idle
            self.event("back to %d idle connections" % self.plan.idle)

    def run_phase(self, seconds, settle, attr):
        """wrk for @seconds, after @settle s for the pool to open its
        connections; the result in self.@attr.  The window of the gap
        check starts with the phase (the connections' opening included)."""
        opened = self.t()
        time.sleep(settle)
        t = self.t()
        res = wrk_phase(self.d.url, self.tokens[-1], "/cameras/media/retrieval?retrievalId=" + self.probe_rid,
                        seconds, self.workdir)
        res.update(start=t, opened=opened, end=self.t(),
                   held=[s["idle"] for s in self.samples if t <= s["t"] <= t + seconds])
        setattr(self, attr, res)

    def fill_to_floor(self):
        """The ballast: the file system's free space brought below the floor
        by a third of the footage recorded so far (at most half the floor)."""
        free = self.fs.free()
        footage = tree_size(os.path.join(self.d.store, "segments"))
        deficit = min(footage // 3, self.min_free // 2)
        size = max(0, free - self.min_free + deficit)
        path = os.path.join(self.fs.mnt, "ballast")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
        self.ballast = {"t": self.t(), "wall_ns": now_ns(), "size": size, "free_before": free,
                        "free_after": self.fs.free(), "footage": footage, "deficit": deficit}
        self.event("ballast of %.1f MiB: %.1f MiB free, the floor is %.1f MiB" % (
            size / MiB, self.ballast["free_after"] / MiB, self.min_free / MiB))

    def sampler_main(self, stop, probe):
        next_index = 0.0
        while not stop.is_set():
            t = self.t()
            if t >= next_index:
                self.index.snapshot(t)
                next_index = t + self.plan.index_every
            self.samples.append(sample(t, self.d, self.fs, self.idle, self.rets, probe))
            self.cpu.sample()
            if self.ballast and "floor_back" not in self.ballast and self.samples[-1]["free"] >= self.min_free:
                self.ballast["floor_back"] = t
            stop.wait(self.plan.sample_every)

    def run(self):
        p = self.plan
        self.setup()
        try:
            self.nginx.start()
            self.t0 = time.monotonic()
            self.wall0 = now_ns()
            self.d.start(self.t)
            self.event("lookbackd started with %d cameras (%dx%d, %d fps), answering after %.1f s" % (
                p.cameras, p.width, p.height, p.fps, self.d.lives[0]["ready"]))
            self.probe_rid = self.first_retrieval()
            self.idle = IdlePool(self.d.port)
            self.idle.target = p.idle
            stop_clients, stop_bg = threading.Event(), threading.Event()
            threads = [threading.Thread(target=client_main, daemon=True, name="client-%d" % i,
                                        args=(i, self.d.port, self.tokens[i], self.cameras, p, self.rets,
                                              stop_clients, self.args.seed))
                       for i in range(p.clients)]
            threads.append(threading.Thread(target=poller_main, daemon=True, name="poller",
                                            args=(self.d.port, self.tokens[-1], self.rets, stop_bg)))
            threads.append(threading.Thread(target=self.sampler_main, daemon=True, name="sampler",
                                            args=(stop_bg, Prober(self.d.port, self.tokens[-1], self.probe_rid))))
            for th in threads:
                th.start()
            for at, what in self.schedule():
                self.wait_until(at)
                if what != "end":
                    self.do(what)
            stop_clients.set()
            for th in threads[:p.clients]:
                th.join()
            self.event("clients stopped: %d retrievals created" % len(self.rets.created))
            self.drain()
            stop_bg.set()
            for th in threads[p.clients:]:
                th.join()
            self.idle.close()
            self.recheck()
            self.index.snapshot(self.t())
            self.d.stop(self.t)
            self.event("lookbackd stopped")
            self.end_wall = now_ns()
        finally:
            if self.d.proc is not None:
                self.d.proc.kill()
            self.nginx.stop()
            self.cameras.stop()
        return self.check()

    def wait_until(self, at):
        """Sleeps until @at; a lookbackd that died by itself is restarted
        (and counted: the soak fails)."""
        while self.t() < at:
            time.sleep(min(1.0, max(0.0, at - self.t())))
            if self.d.proc is not None and self.d.proc.poll() is not None:
                life = self.d.lives[-1]
                life.update(end=self.t(), how="died by itself (exit %d)" % self.d.proc.returncode)
                self.crashes.append(dict(life))
                self.event("lookbackd (life %d) died by itself: exit %d" % (life["life"], self.d.proc.returncode))
                self.d.proc = None
                self.d.start(self.t)
                self.event("lookbackd restarted (life %d)" % len(self.d.lives))

    def drain(self):
        """Waits (uploads on, no kills) until every retrieval has ended."""
        if self.nginx.proc is None:
            self.nginx.start()
        deadline = time.monotonic() + self.plan.drain_s
        while time.monotonic() < deadline:
            with self.rets.lock:
                n = len(self.rets.open)
            if n == 0:
                break
            time.sleep(1)
        self.event("drained: %d retrievals not ended" % len(self.rets.open))

    def recheck(self):
        """Reads every retrieval again: a final state never changes."""
        api = Http(self.d.port, self.tokens[-1])
        self.changed = []
        self.unseen = []
        for rid in sorted(self.rets.created):
            status, reply = api.call("GET", "/cameras/media/retrieval?retrievalId=" + rid)
            for m in (reply or {}).get("data", {}).get("media", []):
                first = self.rets.final.get((rid, m["input"]))
                now = {k: m.get(k) for k in ("status", "startTime", "endTime", "failureReason", "mediaType")}
                if first is None:
                    self.unseen.append((rid, m["input"], m["status"]))
                elif first != now:
                    self.changed.append((rid, m["input"], first, now))
        api.close()

    def check(self):
        return Checks(self).run()


# --------------------------------------------------------------------------
# Checks and report


def merge(ranges, tolerance):
    out = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + tolerance:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def fmt_s(ns):
    return "%.2f s" % (ns / NS)


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * q))] if v else float("nan")


class Checks:
    def __init__(self, soak):
        self.s = soak
        self.rows = []           # (target, measured, met)
        self.notes = []

    def add(self, target, measured, met, perf=False):
        """A row of the report; @perf: a speed or size target (a smoke run,
        on any machine, checks the others only)."""
        self.rows.append((target, measured, met, perf))

    def run(self):
        self.add("lookbackd never died but when killed", "%d deaths: %s" % (len(self.s.crashes), "; ".join(
            "life %d, %s" % (c["life"], c["how"]) for c in self.s.crashes) or "-"), not self.s.crashes)
        self.db_checks()
        self.retrieval_checks()
        self.coverage_checks()
        self.floor_checks()
        self.sample_checks()
        return self

    # -- the store, read after lookbackd stopped
    def db_checks(self):
        con = sqlite3.connect("file:%s?mode=ro" % self.s.d.db, uri=True)
        try:
            self.integrity = con.execute("PRAGMA integrity_check").fetchall()
            self.rows_db = con.execute(
                "SELECT retrieval_id, input, media_type, status, cost_reserved, cost_committed, "
                "delivered_start_ns, delivered_end_ns, org, period FROM api_retrievals").fetchall()
            self.books = con.execute("SELECT org, period, used, reserved FROM api_quota_books").fetchall()
            self.journal = con.execute("SELECT retrieval_id, input, state, attempts, bytes, path "
                                       "FROM upload_journal").fetchall()
        finally:
            con.close()
        ok = self.integrity == [("ok",)]
        self.add("`PRAGMA integrity_check` after the last stop", "; ".join(r[0] for r in self.integrity)[:200], ok)

    def retrieval_checks(self):
        s, rets = self.s, self.s.rets
        weights = {"image": None, "videoHighRes": 1.0, "videoLowRes": 0.25, "hyperlapse": 0.05}
        by_status = collections.Counter(r[3] for r in self.rows_db)
        self.by_type = collections.Counter((r[2], r[3]) for r in self.rows_db)
        not_ended = [r for r in self.rows_db if r[3] in ("pending", "running")]
        created = {(rid, i) for rid, m in rets.created.items() for i in m["inputs"]}
        in_db = {(r[0], r[1]) for r in self.rows_db}
        self.extra_rows = len(in_db - created)
        missing = created - in_db
        # charged once: the books hold exactly what the rows say was
        # delivered, at the weights of the configuration
        wrong_cost = []
        for rid, input_, mtype, status, reserved, committed, ds, de, _, _ in self.rows_db:
            if status == "available":
                want = 0.1 if mtype == "image" else (de - ds) / NS * weights[mtype]
            else:
                want = 0.0
            if abs(committed - want) > 1e-6:
                wrong_cost.append((rid, input_, status, committed, want))
        used = sum(b[2] for b in self.books)
        reserved = sum(b[3] for b in self.books)
        committed = sum(r[5] for r in self.rows_db if r[3] == "available")
        journal = {(j[0], j[1]): j for j in self.journal}
        puts = s.nginx.puts()
        not_uploaded = [r for r in self.rows_db if r[3] == "available" and
                        (journal.get((r[0], r[1])) is None or journal[(r[0], r[1])][2] != 1)]
        self.uploads = {"objects": len(puts), "puts": sum(puts.values()), "repeated": sum(1 for v in puts.values()
                                                                                          if v > 1)}
        self.quota_line = rets.last_quota
        self.retrieval = {"created": len(rets.created), "media": len(created), "rows": len(self.rows_db),
                          "by_status": by_status, "ambiguous": rets.ambiguous, "errors": rets.errors,
                          "changed": s.changed, "unseen": s.unseen, "not_ended": not_ended,
                          "missing": missing, "wrong_cost": wrong_cost, "used": used, "reserved": reserved,
                          "committed": committed, "not_uploaded": not_uploaded}
        ok = not not_ended and not s.changed and not s.unseen and not missing and not rets.open
        self.add("every retrieval ended exactly once",
                 "%d media of %d retrievals (+%d rows from creates whose answer was lost): %s; %d not ended, "
                 "%d changed after their end, %d missing" % (
                     len(created), len(rets.created), self.extra_rows,
                     ", ".join("%d %s" % (v, k) for k, v in sorted(by_status.items())),
                     len(not_ended) + len(rets.open), len(s.changed), len(missing)), ok)
        ok = not wrong_cost and abs(used - committed) < 1e-6 and abs(reserved) < 1e-6 and not not_uploaded
        self.add("every retrieval charged once",
                 "books %.3f s used, %.3f s reserved; rows %.3f s delivered; %d rows charged wrongly; "
                 "%d available but not uploaded" % (used, reserved, committed, len(wrong_cost), len(not_uploaded)),
                 ok)

    # -- footage: gaps against kill times
    def coverage_checks(self):
        s = self.s
        fps = s.plan.fps
        tol = int(2 * NS / fps)
        gop = NS   # lb-test-camera: one keyframe a second
        self.loss_bound = gop + RTSP_LATENCY_MS * 10**6 + NS // fps
        per_input = collections.defaultdict(list)
        for vehicle, input_, start, end, _, _ in s.index.segments.values():
            per_input[(vehicle, input_)].append((start, end))
        self.kill_rows = []
        self.other_gaps = []
        self.coverage = {}
        for key, ranges in sorted(per_input.items()):
            merged = merge(ranges, tol)
            self.coverage[key] = (merged[0][0], merged[-1][1], sum(b - a for a, b in merged))
            for (a0, a1), (b0, b1) in zip(merged, merged[1:]):
                kill = next((k for k in s.kills if a1 - NS // 2 <= k["wall_ns"] <= b0), None)
                if kill is None:
                    self.other_gaps.append((key, a1, b0))
                else:
                    self.kill_rows.append((kill, key, kill["wall_ns"] - a1, b0 - kill["wall_ns"]))
        seen = {(id(k), key) for k, key, _, _ in self.kill_rows}
        for k in s.kills:
            for key in per_input:
                if (id(k), key) not in seen and self.covered(per_input[key], k["wall_ns"]):
                    self.notes.append("kill at %.0f s: %s/%s shows no gap (footage deleted since, or none lost)" % (
                        k["t"], key[0], key[1]))
        losses = [r[2] for r in self.kill_rows]
        worst = max(losses) if losses else 0
        self.add("footage lost per kill ≤ one GOP (1 s, + the %d ms rtspsrc holds + a frame)" % RTSP_LATENCY_MS,
                 "%d kills × %d inputs: worst %s, median %s" % (
                     len(s.kills), len(per_input), fmt_s(worst), fmt_s(statistics.median(losses)) if losses else "-"),
                 worst <= self.loss_bound and len(self.kill_rows) >= len(s.kills))
        self.add("no gap in recording but at the kills (disk floor, idle connections, upload outages)",
                 "%d other gaps%s" % (len(self.other_gaps), "".join(
                     "; %s/%s %s → %s (%s)" % (k[0], k[1], bench.rfc3339(a), bench.rfc3339(b), fmt_s(b - a))
                     for k, a, b in self.other_gaps[:5])), not self.other_gaps)

    @staticmethod
    def covered(ranges, ns):
        return any(a <= ns <= b for a, b in ranges)

    # -- the floor: free space, and what went first
    def floor_checks(self):
        s = self.s
        b = s.ballast
        if not b:
            return
        final = set()
        last = max((seg[5] for seg in s.index.segments.values()), default=0)
        kept, deleted = [], []
        for path, (vehicle, input_, start, end, first, seen) in s.index.segments.items():
            (kept if seen >= last else deleted).append((start, end, vehicle, input_, path))
            if seen >= last:
                final.add(path)
        newest_deleted = max((d[0] for d in deleted), default=None)
        oldest_kept = min((k[0] for k in kept), default=None)
        # oldest first, per input and over all inputs (a segment's length of
        # slack for the latter: inputs split their segments at their own times)
        out_of_order = []
        for d_ in deleted:
            newer_kept = [k for k in kept if k[2:4] == d_[2:4] and k[0] < d_[0]]
            if newer_kept:
                out_of_order.append(d_)
        cross = newest_deleted is not None and oldest_kept is not None and \
            newest_deleted > oldest_kept + s.plan.segment_s * NS
        after = [x for x in s.samples if "floor_back" in b and x["t"] >= b["floor_back"]]
        min_free = min((x["free"] for x in after), default=None)
        self.floor = {"deleted": len(deleted), "kept": len(kept), "newest_deleted": newest_deleted,
                      "oldest_kept": oldest_kept, "out_of_order": out_of_order, "min_free": min_free}
        self.add("store at its floor: the oldest footage goes first",
                 "%d segments deleted, %d kept; %d deleted while an older one of its input was kept; newest "
                 "deleted start %s, oldest kept start %s; free space back at the floor %s after the ballast, "
                 "then ≥ %.1f MiB at every sample (floor %.1f MiB)" % (
                     len(deleted), len(kept), len(out_of_order),
                     bench.rfc3339(newest_deleted) if newest_deleted else "-",
                     bench.rfc3339(oldest_kept) if oldest_kept else "-",
                     "%.0f s" % (b["floor_back"] - b["t"]) if "floor_back" in b else "never",
                     (min_free or 0) / MiB, s.min_free / MiB),
                 bool(deleted) and not out_of_order and not cross and "floor_back" in b)

    # -- the samples
    def sample_checks(self):
        s, smp = self.s, self.s.samples
        wal = max(x["wal"] for x in smp)
        self.add("WAL ≤ 64 MiB at every sample", "largest %.2f MiB (database %.1f MiB at the end)" % (
            wal / MiB, smp[-1]["db"] / MiB), wal <= WAL_MAX, perf=True)
        rss = [x for x in smp if "rss" in x]
        top = max(x["rss"] for x in rss)
        self.add("RSS ≤ 160 MiB at every sample", "largest %.1f MiB" % (top / MiB), top <= RSS_MAX, perf=True)
        self.rss_growth()
        self.fds()
        self.phase()

    def rss_at(self, t, window=60):
        """Median RSS of the samples in (t − window, t] of the life running
        just before @t (a kill at @t ends the window).  A whole minute: RSS
        is a sawtooth (jobs' pipelines, then lookbackd's trim every 30 s)."""
        v = [x["rss"] for x in self.s.samples if "rss" in x and t - window < x["t"] <= t]
        lives = [x["life"] for x in self.s.samples if "rss" in x and t - window < x["t"] <= t]
        if lives:
            v = [x["rss"] for x in self.s.samples if "rss" in x and t - window < x["t"] <= t
                 and x["life"] == lives[0]]
        return statistics.median(v) if v else None

    def rss_growth(self):
        s = self.s
        T = s.plan.seconds
        a, b = self.rss_at(T / 2), self.rss_at(T)
        if a is None or b is None or T < 600:
            return
        growth = b / a - 1
        age = lambda t: next((t - l["start"] for l in reversed(s.d.lives) if l["start"] <= t), 0)
        self.add("RSS growth between minutes %.0f and %.0f ≤ 5 %%" % (T / 120, T / 60),
                 "%.1f → %.1f MiB (%+.1f %%), medians of the minute before each, lookbackd %.1f and %.1f min old" % (
                     a / MiB, b / MiB, 100 * growth, age(T / 2 - 1) / 60, age(T - 1) / 60),
                 growth <= RSS_GROWTH_MAX, perf=True)

    def fds(self):
        steady = [x["fds"] - x["socks"] for x in self.s.samples if "fds" in x and x.get("age", 0) >= 60]
        if not steady:
            return
        med = statistics.median(steady)
        self.fd_range = (min(steady), med, max(steady))
        self.add("open descriptors flat (± 10), sockets aside", "%d … %d (median %d) from a minute after each start" % (
            min(steady), max(steady), med), max(steady) - med <= FDS_SPREAD and med - min(steady) <= FDS_SPREAD,
            perf=True)

    def phase(self):
        r = self.s.phase_res
        if not r:
            self.add("1 000 idle connections: authenticated GET p99 ≤ 50 ms", "the phase did not run", False, True)
            return
        p99 = r["lat"].get("99", float("inf"))
        held = r["held"]
        c = self.s.control_res
        control = "; the control just before, same wrk with %d idle connections: p99 %.2f ms, p50 %.2f ms" % (
            self.s.plan.idle, c["lat"].get("99", float("inf")), c["lat"].get("50", 0)) if c else ""
        self.add("%d idle connections held: authenticated GET p99 ≤ 50 ms" % self.s.plan.idle_phase,
                 "p99 %.2f ms, p50 %.2f ms at %.0f req/s; %d to %d connections held%s%s" % (
                     p99, r["lat"].get("50", 0), r["rps"], min(held or [0]), max(held or [0]),
                     "; errors: %s %s non-2xx" % (r["errors"], r["non2xx"]) if r["errors"] or r["non2xx"] else "",
                     control),
                 p99 <= IDLE_GET_P99_MS and not r["non2xx"], perf=True)
        t0 = self.s.wall0
        in_phase = [g for g in self.other_gaps
                    if g[2] >= t0 + r["opened"] * NS and g[1] <= t0 + r["end"] * NS]
        self.add("recording while %d idle connections are opened and held shows no gap" % self.s.plan.idle_phase,
                 "%d gaps between %.0f s and %.0f s" % (len(in_phase), r["opened"], r["end"]), not in_phase)

    @property
    def ok(self):
        return all(r[2] for r in self.rows)

    @property
    def correct(self):
        return all(r[2] for r in self.rows if not r[3])


def report(soak, checks, argv):
    s, p, c = soak, soak.plan, checks
    smp = s.samples
    loads = [x["load"] for x in smp]
    lines = ["# Soak", "",
             "Written by `bench/soak.py` on %s. Do not edit by hand: run it again." % datetime.datetime.now(
                 datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "",
             "Command: `%s`" % " ".join(["bench/soak.py"] + argv), "",
             "Machine: %s." % bench.machine(), "",
             "**Load average** (1 min) during the run: %.1f at the start, %.1f median, %.1f … %.1f over the run "
             "(2 cores, shared with other engineers' builds, tests and fuzzers)." % (
                 s.load_start[0], statistics.median(loads), min(loads), max(loads)), "",
             s.cpu.line(smp[-1]["t"] - smp[0]["t"]), "",
             "## What ran", "",
             "- %d RTSP test camera%s (`lb-test-camera`, %dx%d, %d fps, one keyframe a second) recorded by one "
             "lookbackd for %.1f minutes in %d s segments, `rtspsrc latency=%d`, descriptor limit %d (the unit's "
             "`LimitNOFILE`)." % (p.cameras, "s" if p.cameras > 1 else "", p.width, p.height, p.fps,
                                  p.seconds / 60, p.segment_s, RTSP_LATENCY_MS, FD_LIMIT),
             "- %d clients creating a retrieval every %.1f s between them, the four media types in turn, one or two "
             "inputs, recent footage (a fifth reaching a few seconds into the future); a poller reading each to "
             "its end." % (p.clients, 1 / p.rate),
             "- %d idle connections held open (half silent, half one byte into a request; reopened when "
             "lookbackd closes them: %d opened in all, %d closed by lookbackd), %d between %.0f s and %.0f s; "
             "authenticated GETs measured with wrk there and, as a control, between %.0f s and %.0f s." % (
                 p.idle, s.idle.opened, s.idle.closed_by_server, p.idle_phase, p.phase[0], p.phase[1],
                 p.control[0], p.control[1]),
             "- Uploads on: every output PUT to nginx, stopped %s." % ", ".join(
                 "%.0f–%.0f s" % d for d in p.nginx_down),
             "- lookbackd killed with -9 and restarted at %s." % ", ".join("%.0f s" % k["t"] for k in s.kills),
             "- The store on %s, `[store] min-free=%d` (%.0f MiB)%s." % (
                 s.fs.describe(), s.min_free, s.min_free / MiB,
                 "; a ballast file of %.1f MiB at %.0f s took the free space to %.1f MiB" % (
                     s.ballast["size"] / MiB, s.ballast["t"], s.ballast["free_after"] / MiB) if s.ballast else ""),
             "", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for target, measured, met, _ in c.rows:
        lines.append("| %s | %s | %s |" % (target, measured.replace("|", "\\|"), "yes" if met else "**no**"))
    if not c.ok:
        lines += ["", "### Targets not met", "", bench.gap_note("soak")]
    lines += kill_lines(s, c) + retrieval_lines(c) + life_lines(s) + minute_lines(s)
    if c.notes:
        lines += ["", "## Notes", ""] + ["- " + n for n in c.notes]
    lines += ["", "Events:", ""] + ["- %.1f s: %s" % e for e in s.events]
    return "\n".join(lines) + "\n"


def kill_lines(s, c):
    lines = ["", "## Kills", "",
             "Footage lost = kill time − end of the footage before the gap; down = kill time → first footage "
             "after it (restart, reconnect, first keyframe).", "",
             "| kill | input | footage lost | down |", "| --- | --- | --- | --- |"]
    for kill, key, lost, down in sorted(c.kill_rows, key=lambda r: (r[0]["t"], r[1])):
        lines.append("| %.0f s (life %d) | %s/%s | %s | %s |" % (kill["t"], kill["life"], key[0], key[1],
                                                               fmt_s(lost), fmt_s(down)))
    return lines


def retrieval_lines(c):
    r = c.retrieval
    lines = ["", "## Retrievals", "",
             "| media type | available | unavailable | failed | other |", "| --- | --- | --- | --- | --- |"]
    for t in MEDIA_TYPES:
        n = {st: c.by_type.get((t, st), 0) for st in ("available", "unavailable", "failed")}
        other = sum(v for (mt, st), v in c.by_type.items() if mt == t and st not in n)
        lines.append("| %s | %d | %d | %d | %d |" % (t, n["available"], n["unavailable"], n["failed"], other))
    lines += ["", "Creates retried after a kill cut their answer: %d. Uploads: %d objects, %d PUTs (%d objects "
              "PUT more than once: an upload cut by a kill or an nginx stop is made again). Last `quotaStatus`: "
              "%s" % (r["ambiguous"], c.uploads["objects"], c.uploads["puts"], c.uploads["repeated"],
                      c.quota_line)]
    if r["errors"]:
        lines += ["", "API answers the clients did not expect: " + "; ".join(
            "%d × %s" % (v, k) for k, v in r["errors"].most_common(10))]
    for what in ("changed", "unseen", "not_ended", "wrong_cost", "not_uploaded"):
        if r[what]:
            lines += ["", "%s: %s" % (what, r[what][:10])]
    return lines


def life_lines(s):
    lines = ["", "## lookbackd, life by life", "",
             "| life | from | to | ended by | RSS at 1 min | RSS at the end | largest RSS | threads | descriptors "
             "(sockets aside) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for life in s.d.lives:
        x = [v for v in s.samples if v.get("life") == life["life"] and "rss" in v]
        if not x:
            continue
        at1 = next((v for v in x if v["age"] >= 60), x[-1])
        fds = [v["fds"] - v["socks"] for v in x if v["age"] >= 60] or [x[-1]["fds"] - x[-1]["socks"]]
        lines.append("| %d | %.0f s | %.0f s | %s | %.1f MiB | %.1f MiB | %.1f MiB | %d | %d … %d |" % (
            life["life"], life["start"], life["end"] or 0, life["how"], at1["rss"] / MiB, x[-1]["rss"] / MiB,
            max(v["rss"] for v in x) / MiB, max(v["threads"] for v in x), min(fds), max(fds)))
    return lines


def minute_lines(s):
    lines = ["", "## Minute by minute (the last sample of each minute)", "",
             "| min | life | RSS | descriptors (sockets) | idle held | WAL | database | segments | outputs | free "
             "| /healthz | GET median / max | load |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    by_min = collections.OrderedDict()
    for x in s.samples:
        by_min[int(x["t"] // 60)] = x
    for m, x in by_min.items():
        get = x.get("get_ms") or []
        lines.append("| %d | %d | %s | %s | %d | %.2f MiB | %.2f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %s | %s | "
                     "%.1f |" % (
                         m + 1, x["life"], "%.1f MiB" % (x["rss"] / MiB) if "rss" in x else "-",
                         "%d (%d)" % (x["fds"], x["socks"]) if "fds" in x else "-", x["idle"], x["wal"] / MiB,
                         x["db"] / MiB, x["segments"] / MiB, x["outputs"] / MiB, x["free"] / MiB,
                         "%.1f ms" % x["healthz_ms"] if "healthz_ms" in x else "-",
                         "%.1f / %.1f ms" % (statistics.median(get), max(get)) if get else "-", x["load"]))
    gets = [g for x in s.samples for g in x.get("get_ms", [])]
    if gets:
        lines += ["", "Authenticated GET over the whole run (3 at each sample, %d in all): p50 %.1f ms, p99 %.1f ms, "
                  "largest %.1f ms." % (len(gets), pct(gets, 0.5), pct(gets, 0.99), max(gets))]
    return lines


def write_samples(soak):
    keys = ["t", "life", "age", "rss", "threads", "fds", "socks", "idle", "open", "wal", "db", "segments", "outputs",
            "free", "healthz_ms", "load"]
    path = os.path.join(soak.workdir, "samples.csv")
    with open(path, "w") as f:
        f.write(",".join(keys + ["get_ms"]) + "\n")
        for x in soak.samples:
            f.write(",".join(str(round(x[k], 3) if isinstance(x.get(k), float) else x.get(k, "")) for k in keys) +
                    "," + " ".join("%.2f" % g for g in x.get("get_ms", [])) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=20, help="length of the run (default 20)")
    ap.add_argument("--cameras", type=int, default=4, help="RTSP test cameras (default 4)")
    ap.add_argument("--smoke", action="store_true",
                    help="under a minute: 1 camera, each event once, every check; writes no report")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--clients", type=int, default=4, help="API clients creating retrievals")
    ap.add_argument("--rate", type=float, default=0.5, help="creates per second, all clients together")
    ap.add_argument("--idle", type=int, default=500, help="idle connections held open")
    ap.add_argument("--idle-phase", type=int, default=1000, help="idle connections held during the wrk phase")
    ap.add_argument("--kill-every", type=float, default=5, help="minutes between kill -9 (0: never)")
    ap.add_argument("--nginx-every", type=float, default=2, help="minutes between nginx stops")
    ap.add_argument("--nginx-down", type=float, default=30, help="seconds nginx stays stopped")
    ap.add_argument("--sample-every", type=float, default=5, help="seconds between samples")
    ap.add_argument("--store-fs", choices=["auto", "ext4", "tmpfs"], default="auto",
                    help="the store's own file system (auto: ext4 on a loop device, else tmpfs)")
    ap.add_argument("--store-size", type=int, default=0, help="its size in MiB (default: from cameras × minutes)")
    ap.add_argument("--min-free", type=int, default=32, help="[store] min-free in MiB (default 32)")
    ap.add_argument("--ballast-at", type=float, help="minute of the ballast (default: about a third in; 0: none)")
    ap.add_argument("--segment", type=int, default=60, help="[recorder] segment-duration in seconds (default 60)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(ROOT, "SOAK.md"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, samples.csv)")
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.cameras, args.idle, args.idle_phase = 50 / 60, 1, 50, 100
        args.rate, args.clients, args.sample_every, args.store_fs = 1.0, 2, 2, "tmpfs"
        args.store_size, args.min_free = 48, 16
    for exe in (LOOKBACKD, LOOKBACK, CAMERA):
        if not os.path.exists(exe):
            raise SystemExit("soak: %s is not built (ninja -C build)" % exe)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * (args.idle_phase + 256))), hard))

    soak = Soak(args)
    try:
        checks = soak.run()
        text = report(soak, checks, sys.argv[1:])
        csv = write_samples(soak)
        if args.smoke:
            sys.stdout.write(text)
            if not checks.correct:
                raise SystemExit("soak smoke: %s" % "; ".join(t for t, _, met, perf in checks.rows
                                                               if not met and not perf))
        else:
            with open(args.out, "w") as f:
                f.write(text)
            log("wrote %s (%s); samples in %s" % (args.out, "every target met" if checks.ok else
                                                  "some targets not met", csv))
    finally:
        if hasattr(soak, "fs"):
            if args.keep and soak.fs.mounted:
                shutil.copytree(os.path.join(soak.fs.mnt, "store"), os.path.join(soak.workdir, "store"),
                                dirs_exist_ok=True)
            soak.fs.close()
        if not args.keep:
            shutil.rmtree(soak.workdir, ignore_errors=True)
        else:
            log("work folder kept: %s" % soak.workdir)


if __name__ == "__main__":
    main()
