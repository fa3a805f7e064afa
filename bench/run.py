#!/usr/bin/env python3
"""lookback benchmarks, side by side with ffmpeg in the same run.

    bench/run.sh              full run (about 10 minutes on 2 cores): 10 min 720p
                              corpus, warm-up + 5 alternating runs per job, API
                              load, lookup scaling, memory; writes BENCHMARKS.md
    bench/run.sh --smoke      seconds: a tiny corpus, one run per job, every
                              output checked; writes nothing (meson test runs it)
    bench/run.sh --only year  a year of index alone (about 3 minutes, 1.5 GB of
                              disk in the work folder)
    bench/run.sh --only delivery
                              uploads to the test peers (s3rver, the tus server)
                              through a dropping link, an outage, webhook faults
                              (about 4 minutes)
    bench/run.sh --only cluster --update
                              three nodes sharing one PostgreSQL 15 (about a
                              minute); --update rewrites that part's section
                              of BENCHMARKS.md and keeps the rest
    bench/run.sh --only recorder --update
                              recording cost: lookbackd against ffmpeg segment
                              copy on the same looping RTSP test cameras, 4 and
                              16 cameras (about 6 minutes)
    bench/run.sh --only jobs-h265 --update
                              the jobs on the H.265 corpus (10 min of 1080p; its
                              first generation takes about 15 CPU-minutes of
                              x265, then it is cached) and their section of
                              BENCHMARKS.md replaced
    bench/run.sh --only sub-stream --update
                              the low-res clip remuxed from a recorded 640x360
                              sub-stream of the H.264 corpus (imported with
                              `lookback import --sub-stream`) against ffmpeg's
                              transcode of the main stream; its section replaced

Every figure is a ratio lookback / ffmpeg measured in this run, on the same
files (BENCH.md in the shared folder explains the targets).  Each output is
checked (duration, resolution, and for lookback the stamped frame times read
back with lbclockcheck), so a fast wrong answer cannot win.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("LB_BUILD_ROOT", os.path.join(ROOT, "build"))
LOOKBACKD = os.path.join(BUILD, "lookbackd")
LOOKBACK = os.path.join(BUILD, "lookback")
CAMERA = os.path.join(BUILD, "tests", "tools", "lb-test-camera")
LOOKUP_BENCH = os.path.join(BUILD, "bench", "lb-bench-lookup")
YEAR_BENCH = os.path.join(BUILD, "bench", "lb-bench-year")
DELIVERY_BENCH = os.path.join(BUILD, "bench", "lb-bench-delivery")
PG_BINDIR = "/usr/lib/postgresql/15/bin"  # Debian's postgresql-15
# realpath: a worktree may link bench/cache to a shared cache, whose
# corpus.json names the files by their real path
CACHE = os.path.realpath(os.environ.get("LB_BENCH_CACHE") or os.path.join(ROOT, "bench", "cache"))

# Wall-clock time of the corpus' first frame: the corpus is stamped with
# PTS + this epoch and imported at this time, so stamps are wall-clock times.
EPOCH_NS = 1767607200 * 10**9  # 2026-01-05T10:00:00Z
NS = 10**9

# Every child process and every wait is bounded: a step that takes longer
# than this ends the run with a message naming it (--smoke: 120 s; a full run:
# 30 min).  Set by main().
STEP_TIMEOUT_S = 1800


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def rfc3339(ns):
    secs, rem = divmod(ns, NS)
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    ms = rem // 10**6
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (".%03dZ" % ms if ms else "Z")


def gst_env():
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = os.path.join(BUILD, "plugins")
    env.setdefault("GST_REGISTRY_1_0", os.path.join(BUILD, "bench-registry.dat"))
    return env


def tail(text, lines=20):
    return "\n".join((text or "").splitlines()[-lines:])


def run(cmd, timeout=None, **kw):
    """Runs @cmd to its end, within @timeout s (STEP_TIMEOUT_S by default)."""
    timeout = timeout or STEP_TIMEOUT_S
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        raise SystemExit("bench: %s did not finish within %d s (killed): %s\n%s" % (
            os.path.basename(cmd[0]), timeout, " ".join(cmd), tail(err)))
    except subprocess.CalledProcessError as e:
        raise SystemExit("bench: %s failed (exit %d): %s\n%s" % (
            os.path.basename(cmd[0]), e.returncode, " ".join(cmd), tail(e.stderr)))


# --------------------------------------------------------------------------
# Corpus


class Corpus:
    """Segments of stamped test video.  H.264 (the anchor): 1280x720 High;
    H.265: 1920x1080 Main, the camera of BENCH.md's next targets.  Both 30 fps,
    one keyframe a second, no B-frames, 4 Mbit/s, ten 60 s segments (the
    smoke run: two 10 s segments of 320x180)."""

    def __init__(self, smoke, codec="h264", sub=False):
        self.codec = codec
        h265 = codec == "h265"
        if smoke:
            self.name, self.width, self.height = "smoke", 320, 180
            self.segments, self.seg_s, self.bitrate = 2, 10, 300
        else:
            self.name = "full"
            self.width, self.height = (1920, 1080) if h265 else (1280, 720)
            self.segments, self.seg_s, self.bitrate = 10, 60, 4000
        if h265:
            self.name += "-h265"
        if sub:
            # a camera's sub-stream: the same frames (and stamps) at half
            # the size, at a low-res bitrate (the smoke corpus' is already
            # as low as the stamps survive)
            self.name += "-sub"
            self.width, self.height = self.width // 2, self.height // 2
            self.bitrate = self.bitrate if smoke else self.bitrate // 8
        self.fps = 30
        self.made = None  # (wall s, CPU s) of its generation, once made
        # the corpora live side by side in one store, one input each
        self.input = "dashcamDriverFacing" if h265 else "dashcamRoadFacing"
        self.dir = os.path.join(CACHE, self.name)
        self.files = [os.path.join(self.dir, "seg%03d.mp4" % i) for i in range(self.segments)]

    @property
    def duration_s(self):
        return self.segments * self.seg_s

    @property
    def label(self):
        return "%dx%d %s" % (self.width, self.height, "H.265 Main" if self.codec == "h265" else "H.264 High")

    def encoder(self):
        """x264enc or x265enc, 8-bit 4:2:0, one keyframe a second, no scene
        cuts, no B-frames (x265: closed GOPs)."""
        if self.codec == "h265":
            return ["x265enc", "speed-preset=ultrafast", "key-int-max=%d" % self.fps, "bitrate=%d" % self.bitrate,
                    "option-string=scenecut=0:open-gop=0:bframes=0",
                    "!", "video/x-h265,profile=main", "!", "h265parse"]
        return ["x264enc", "speed-preset=superfast", "bframes=0", "key-int-max=%d" % self.fps,
                "bitrate=%d" % self.bitrate, "option-string=scenecut=0",
                "!", "video/x-h264,profile=high", "!", "h264parse"]

    def command(self, i):
        """The pipeline that makes segment @i: its frames are stamped with
        their wall-clock time, continuing the segment before.

        One pipeline per file, not one splitmuxsink: gst-launch-1.0 with
        splitmuxsink (1.22.0) never exits in about half of the runs on a busy
        machine (the files are complete, every streaming thread is idle, the
        pipeline's EOS message never comes; with or without -e, with a fresh
        or a warm registry), while mp4mux ! filesink ended 10 runs of 10."""
        return [
            "gst-launch-1.0", "-q",
            "videotestsrc", "pattern=smpte", "horizontal-speed=7", "num-buffers=%d" % (self.seg_s * self.fps),
            "!", "video/x-raw,width=%d,height=%d,framerate=%d/1" % (self.width, self.height, self.fps),
            "!", "videoconvert", "!", "video/x-raw,format=I420",
            "!", "lbclockstamp", "source=pts", "offset=%d" % (EPOCH_NS + i * self.seg_s * NS),
            "!"] + self.encoder() + [
            "!", "mp4mux", "!", "filesink", "location=%s" % self.files[i],
        ]

    def ensure(self):
        stamp = os.path.join(self.dir, "corpus.json")
        want = {"commands": [self.command(i) for i in range(self.segments)]}
        if os.path.exists(stamp) and all(os.path.exists(f) for f in self.files):
            with open(stamp) as f:
                have = json.load(f)
            self.made = have.pop("made", None)
            if have == want:
                return
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        log("generating the %s corpus (%d s of %s) ..." % (self.name, self.duration_s, self.label))
        t, cpu = time.monotonic(), children_cpu()
        for i in range(self.segments):
            run(self.command(i), env=gst_env())
        self.made = (time.monotonic() - t, children_cpu() - cpu)
        log("corpus made in %.1f s (%.1f CPU-s)" % self.made)
        keyframes = probe_keyframes(self.files[0])
        if keyframes != self.seg_s:
            raise SystemExit("corpus check: %s has %d keyframes, expected %d" % (self.files[0], keyframes, self.seg_s))
        with open(stamp, "w") as f:
            json.dump(dict(want, made=self.made), f)


def children_cpu():
    ru = os.times()
    return ru.children_user + ru.children_system


def probe_keyframes(path):
    out = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=flags",
               "-of", "csv", path]).stdout
    return sum(1 for line in out.splitlines() if "K" in line)


def probe(path):
    out = run(["ffprobe", "-v", "error", "-show_entries",
               "stream=codec_name,width,height,nb_frames:format=duration,format_name", "-of", "json", path]).stdout
    j = json.loads(out)
    s = j["streams"][0]
    return {
        "codec": s.get("codec_name"), "width": s.get("width"), "height": s.get("height"),
        "frames": int(s.get("nb_frames") or 0), "duration": float(j["format"].get("duration") or 0),
        "format": j["format"].get("format_name"),
    }


def read_stamps(path):
    """Decodes @path and returns the stamp of every frame (None if unreadable)."""
    demux = "jpegdec" if path.endswith(".jpg") else "qtdemux ! decodebin"
    desc = "filesrc location=%s ! %s ! videoconvert ! video/x-raw,format=I420 ! lbclockcheck ! fakesink" % (path, demux)
    out = run(["gst-launch-1.0", "-m"] + desc.replace("!", " ! ").split(), env=gst_env()).stdout
    stamps = []
    for line in out.splitlines():
        if "lbclockcheck," not in line:
            continue
        m = re.search(r"stamp=\(gint64\)(-?\d+)", line)
        stamps.append(int(m.group(1)) if m else None)
    return stamps


# --------------------------------------------------------------------------
# Processes and measurements


class Usage:
    def __init__(self, wall, cpu, peak_kib):
        self.wall, self.cpu, self.peak_kib = wall, cpu, peak_kib


def run_ffmpeg(args, cwd):
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + args
    t = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL)
    # wait4 for the child's own CPU time and peak memory; a timer bounds it
    killed = threading.Event()
    timer = threading.Timer(STEP_TIMEOUT_S, lambda: (killed.set(), p.kill()))
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.monotonic() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if killed.is_set():
        raise SystemExit("bench: ffmpeg did not finish within %d s (killed): %s" % (STEP_TIMEOUT_S, " ".join(cmd)))
    if p.returncode != 0:
        raise SystemExit("ffmpeg failed: %s" % " ".join(cmd))
    return Usage(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass


class Daemon:
    """A lookbackd on a fresh store, uploads off, rate limits raised."""

    def __init__(self, workdir, inputs=None, recorder=False, listen="127.0.0.1:0", extra=()):
        self.dir = workdir
        self.conf = os.path.join(workdir, "lookback.conf")
        lines = [
            "[server]", "listen=" + listen,
            "[store]", "dir=store",
            "[recorder]", "enabled=%s" % ("true" if recorder else "false"),
            "[api]", "create-per-minute=100000000", "reads-per-second=100000000",
            "[quota]", "allowance=1000000000000",
            # the corpus is dated 2026-01-05: retention's default max-age
            # (30 d) would delete it at its first run, 60 s in
            "[retention]", "max-age=0",
            "[limits]", "hyperlapse-max=40min",
        ]
        # (the recorder is off: the inputs get the corpora's imports)
        for vehicle, name, source in inputs or [("bench", "dashcamRoadFacing", "videotestsrc"),
                                                ("bench", "dashcamDriverFacing", "videotestsrc")]:
            lines += ["[input %s %s]" % (vehicle, name), "source=%s" % source]
        lines += list(extra)
        os.makedirs(workdir, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def cli(self, *args):
        return run([LOOKBACK, "--config", self.conf] + list(args), env=gst_env()).stdout

    def start(self):
        self.log = open(os.path.join(self.dir, "lookbackd.log"), "w+")
        self.proc = subprocess.Popen([LOOKBACKD, "--config", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=gst_env())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = re.search(r"API on (http://[0-9.:]+)", self.log.read())
            if m:
                self.url = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise SystemExit("lookbackd did not start:\n" + self.log.read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=min(120, STEP_TIMEOUT_S)) as r:
            return json.loads(r.read())

    def session(self):
        """A keep-alive connection for a run of calls (as the vendor's SDK
        keeps one): a poll then costs both sides one request, not a TCP
        connection and a thread in urllib each."""
        return Session(self)

    def retrieve(self, vehicle, input_, media_type, start_ns, end_ns, poll_s=0.002, timeout_s=None):
        timeout_s = timeout_s or STEP_TIMEOUT_S
        api = self.session()
        t = time.monotonic()
        created = api.call("POST", "/cameras/media/retrieval", {
            "vehicleId": vehicle, "inputs": [input_], "mediaType": media_type,
            "startTime": rfc3339(start_ns), "endTime": rfc3339(end_ns)})
        rid = created["data"]["retrievalId"]
        while True:
            media = api.call("GET", "/cameras/media/retrieval?retrievalId=" + rid)["data"]["media"][0]
            if media["status"] != "pending":
                break
            if time.monotonic() - t > timeout_s:
                raise SystemExit("retrieval %s still pending after %d s" % (rid, timeout_s))
            time.sleep(poll_s)
        wall = time.monotonic() - t
        api.close()
        if media["status"] != "available":
            raise SystemExit("retrieval %s ended %s: %s" % (rid, media["status"], media.get("failureReason")))
        return wall, media, rid

    def download(self, url, path):
        with urllib.request.urlopen(url, timeout=min(120, STEP_TIMEOUT_S)) as r, open(path, "wb") as f:
            shutil.copyfileobj(r, f)


class Session:
    """Api.call() on one HTTP/1.1 connection, kept open between calls."""

    def __init__(self, api):
        u = urllib.parse.urlsplit(api.url)
        self.headers = {"Authorization": "Bearer " + api.token, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=min(120, STEP_TIMEOUT_S))

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 400:
            raise SystemExit("bench: %s %s answered %d: %s" % (method, path, r.status, text[:200]))
        return json.loads(text)

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------
# The jobs


class Job:
    def __init__(self, key, title, media_type, start_ns, end_ns, ffmpeg_args, target, target_of=None):
        self.key, self.title, self.media_type = key, title, media_type
        self.start_ns, self.end_ns = start_ns, end_ns
        self.ffmpeg_args = ffmpeg_args  # function(workdir, lookback_probe) -> [args]
        self.target = target            # maximum ratio lookback/ffmpeg
        self.target_of = target_of or [key]


def jobs_for(c):
    seg = c.seg_s
    frame_ns = NS // c.fps
    # The still: the last frame of a GOP in the middle of segment 5 (or 1).
    still_seg = min(5, c.segments - 1)
    still_off = seg / 2 - 1 / c.fps
    still_ns = EPOCH_NS + still_seg * seg * NS + round(still_off * NS)
    # 30 s (smoke: 6 s) across the boundary of segments 3|4 (smoke: 0|1).
    clip_s = 30 if seg >= 60 else 6
    a = min(3, c.segments - 2)
    clip_start = EPOCH_NS + ((a + 1) * seg - clip_s // 2) * NS
    clip_end = clip_start + clip_s * NS

    def concat(workdir, names, listname):
        path = os.path.join(workdir, listname)
        with open(path, "w") as f:
            for n in names:
                f.write("file '%s'\n" % n)
        return path

    def still_args(w, p):
        return ["-ss", "%.3f" % still_off, "-i", c.files[still_seg], "-frames:v", "1", "-q:v", "2", "ff-still.jpg"]

    def hi_args(w, p):
        lst = concat(w, c.files[a:a + 2], "two.txt")
        return ["-f", "concat", "-safe", "0", "-i", lst, "-ss", str(seg - clip_s // 2), "-t", str(clip_s),
                "-c", "copy", "ff-hi.mp4"]

    def lo_args(w, p):
        lst = concat(w, c.files[a:a + 2], "two.txt")
        return ["-f", "concat", "-safe", "0", "-i", lst, "-ss", str(seg - clip_s // 2), "-t", str(clip_s),
                "-vf", "scale=%d:%d" % (p["width"], p["height"]), "-c:v", "libx264", "-preset", "veryfast",
                "-b:v", "500k", "ff-lo.mp4"]

    def scale(p):
        if (p["width"], p["height"]) == (c.width, c.height):
            return ""
        return ",scale=%d:%d" % (p["width"], p["height"])

    def hl_naive_args(w, p):
        lst = concat(w, c.files, "all.txt")
        return ["-f", "concat", "-safe", "0", "-i", lst,
                "-vf", "select='not(mod(n\\,%d))',setpts=N/30/TB%s" % (c.fps, scale(p)),
                "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast", "ff-hl-naive.mp4"]

    def hl_key_args(w, p):
        lst = concat(w, c.files, "all.txt")
        return ["-skip_frame", "nokey", "-f", "concat", "-safe", "0", "-i", lst,
                "-vf", "setpts=N/30/TB%s" % scale(p), "-fps_mode", "passthrough",
                "-c:v", "libx264", "-preset", "veryfast", "ff-hl-key.mp4"]

    hl_start, hl_end = EPOCH_NS, EPOCH_NS + c.duration_s * NS
    return [
        Job("still", "still at the last frame of a GOP", "image", still_ns, still_ns, still_args, 0.5),
        Job("hi", "%d s high-res clip across a segment boundary" % clip_s, "videoHighRes",
            clip_start, clip_end, hi_args, 1.0),
        Job("lo", "same %d s as a low-res clip" % clip_s, "videoLowRes", clip_start, clip_end, lo_args, 0.8),
        Job("hl-key", "%d min hyperlapse vs ffmpeg keyframes-only" % (c.duration_s // 60 or 1), "hyperlapse",
            hl_start, hl_end, hl_key_args, 0.5),
        Job("hl-naive", "%d min hyperlapse vs ffmpeg naive select" % (c.duration_s // 60 or 1), "hyperlapse",
            hl_start, hl_end, hl_naive_args, 0.2),
    ]


def check_output(job, c, path, stamps=True):
    """Returns a list of problems with lookback's output @path (empty: fine)."""
    problems = []
    frame_ns = NS / c.fps
    if job.media_type == "image":
        st = read_stamps(path) if stamps else []
        if stamps and (not st or st[0] is None):
            problems.append("the still has no readable stamp")
        elif stamps and abs(st[0] - job.start_ns) > frame_ns / 2:
            problems.append("the still shows %s, not the frame nearest %s" % (rfc3339(st[0]), rfc3339(job.start_ns)))
        return problems
    p = probe(path)
    want = (job.end_ns - job.start_ns) / NS
    if job.media_type == "hyperlapse":
        frames = round((job.end_ns - job.start_ns) / NS)  # 1 frame per source second
        if abs(p["frames"] - frames) > 1:
            problems.append("hyperlapse has %d frames, expected %d" % (p["frames"], frames))
        return problems
    if abs(p["duration"] - want) > 1 / c.fps + 1e-3:
        problems.append("duration %.3f s, requested %.3f s" % (p["duration"], want))
    if job.media_type == "videoLowRes" and (p["width"] > 640 or p["height"] > 360):
        problems.append("low-res output is %dx%d" % (p["width"], p["height"]))
    if job.media_type == "videoHighRes" and (p["width"], p["height"]) != (c.width, c.height):
        problems.append("high-res output is %dx%d" % (p["width"], p["height"]))
    if stamps:
        st = [s for s in read_stamps(path) if s is not None]
        if not st:
            problems.append("no readable stamps")
        else:
            if abs(st[0] - job.start_ns) > frame_ns / 2:
                problems.append("first frame %s, requested %s" % (rfc3339(st[0]), rfc3339(job.start_ns)))
            if abs(st[-1] - (job.end_ns - frame_ns)) > frame_ns / 2 + 1:
                problems.append("last frame %s, requested end %s" % (rfc3339(st[-1]), rfc3339(job.end_ns)))
    return problems


def stats(values):
    return min(values), statistics.median(values), max(values)


def sub_stream_job(c, sub):
    """The low-res clip of jobs_for(@c), from the vehicle that has the
    recorded sub-stream @sub too: a remux of it, against the same ffmpeg
    transcode of the main stream."""
    lo = next(j for j in jobs_for(c) if j.key == "lo")
    return Job("lo-sub", "%s, remuxed from a recorded %dx%d sub-stream" % (lo.title, sub.width, sub.height),
               lo.media_type, lo.start_ns, lo.end_ns, lo.ffmpeg_args, 0.1)


def bench_jobs(c, api, daemon, runs, workdir, smoke, keys=None, jobs=None, vehicle="bench"):
    results = []
    for job in jobs or jobs_for(c):
        if keys and job.key not in keys:
            continue
        log("job %s (%s): %s" % (job.key, c.name, job.title))
        lb, ff = [], []
        lb_probe = None
        problems = []
        for i in range(runs + 1):  # the first round is the warm-up
            pid = daemon.proc.pid
            reset_peak(pid)
            cpu0 = proc_cpu(pid)
            wall, media, rid = api.retrieve(vehicle, c.input, job.media_type, job.start_ns, job.end_ns)
            usage = Usage(wall, proc_cpu(pid) - cpu0, proc_status(pid, "VmHWM"))
            ext = ".jpg" if job.media_type == "image" else ".mp4"
            out = os.path.join(workdir, "lb-%s%s" % (job.key, ext))
            api.download(media["urlInfo"]["url"], out)
            if lb_probe is None:
                lb_probe = probe(out) if ext == ".mp4" else None
                problems = check_output(job, c, out)
            ff_args = job.ffmpeg_args(workdir, lb_probe or {})
            ffu = run_ffmpeg(ff_args, workdir)
            if i == 0 and ext == ".mp4":
                # Same output class: a fast answer that is several times
                # bigger (say, all-intra) is not the same job.
                sizes = (os.path.getsize(out), os.path.getsize(os.path.join(workdir, ff_args[-1])))
                if sizes[0] > 2 * sizes[1]:
                    problems.append("output is %.1f× the size of ffmpeg's (%.1f vs %.1f MB): "
                                    "not the same bitrate class" % (sizes[0] / sizes[1], sizes[0] / 1e6,
                                                                    sizes[1] / 1e6))
            if i > 0 or runs == 0:
                lb.append(usage)
                ff.append(ffu)
        ratio = statistics.median(u.wall for u in lb) / statistics.median(u.wall for u in ff)
        results.append({"job": job, "lb": lb, "ff": ff, "ratio": ratio, "problems": problems,
                        "ffmpeg": "ffmpeg " + " ".join(job.ffmpeg_args(workdir, lb_probe or {}))})
        log("  lookback %.3f s, ffmpeg %.3f s (median wall), ratio %.2f (target <= %.2f)%s" % (
            statistics.median(u.wall for u in lb), statistics.median(u.wall for u in ff), ratio, job.target,
            "; PROBLEMS: " + "; ".join(problems) if problems else ""))
    return results


# --------------------------------------------------------------------------
# API load, lookup scaling, memory


WRK_CREATE = r"""
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"vehicleId":"bench","inputs":["dashcamRoadFacing"],"mediaType":"image","startTime":"%s","endTime":"%s"}', START, START)
  return wrk.format("POST", "/cameras/media/retrieval", {["Content-Type"]="application/json", ["Authorization"]="Bearer " .. TOKEN}, body)
end
delay = function() return DELAY end
"""


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * {"us": 1e-3, "ms": 1, "s": 1000}[unit]
    return rps, lat


def bench_api(api, workdir, seconds):
    if not shutil.which("wrk"):
        return None
    _, _, rid = api.retrieve("bench", "dashcamRoadFacing", "image", EPOCH_NS + 2 * NS, EPOCH_NS + 2 * NS)
    get = run(["wrk", "-t2", "-c32", "-d%ds" % seconds, "--latency", "-H", "Authorization: Bearer " + api.token,
               api.url + "/cameras/media/retrieval?retrievalId=" + rid]).stdout
    get_rps, get_lat = parse_wrk(get)
    script = os.path.join(workdir, "create.lua")
    # 12 connections, each pausing 22 ms between requests: about 500 creates/s
    # at ~2 ms a create (the achieved rate is reported).
    with open(script, "w") as f:
        f.write(WRK_CREATE.replace("START", '"%s"' % rfc3339(EPOCH_NS + NS)).replace("TOKEN", '"%s"' % api.token)
                .replace("DELAY", "22"))
    create = run(["wrk", "-t2", "-c12", "-d%ds" % seconds, "--latency", "-s", script, api.url]).stdout
    create_rps, create_lat = parse_wrk(create)
    return {"get_rps": get_rps, "get_lat": get_lat, "create_rps": create_rps, "create_lat": create_lat,
            "get_cmd": "wrk -t2 -c32 -d%ds --latency -H 'Authorization: Bearer …' %s/cameras/media/retrieval?retrievalId=…" % (seconds, api.url),
            "create_cmd": "wrk -t2 -c12 -d%ds --latency -s create.lua %s  (22 ms pause per connection ≈ 500 req/s)" % (seconds, api.url)}


def bench_lookup(smoke):
    if not os.path.exists(LOOKUP_BENCH):
        return None
    sizes = [1000, 10000] if smoke else [1000, 10000, 100000, 1000000]
    out = run([LOOKUP_BENCH] + [str(s) for s in sizes]).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"segments=(\d+) lookup_us=([\d.]+)", line)
        if m:
            res[int(m.group(1))] = float(m.group(2))
    return {"sizes": res, "cmd": " ".join([os.path.relpath(LOOKUP_BENCH, ROOT)] + [str(s) for s in sizes])}


YEAR_SEGMENTS = 525600  # 365 days of one-minute segments


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def year_gen(db, segments):
    out = run([YEAR_BENCH, "generate", db, str(segments)]).stdout
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}


def year_measure(db):
    out = run([YEAR_BENCH, "measure", db]).stdout
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", out)}


def timed_calls(fn, n):
    """Wall ms of @n calls of @fn: (p50, p99)."""
    ms = []
    for i in range(n):
        t = time.monotonic()
        fn(i)
        ms.append((time.monotonic() - t) * 1000)
    ms.sort()
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def first_answer(d, token, path):
    """Starts lookbackd on its store; seconds until @path answers 200."""
    t = time.monotonic()
    d.log = open(os.path.join(d.dir, "lookbackd.log"), "w+")
    d.proc = subprocess.Popen([LOOKBACKD, "--config", d.conf], stdout=subprocess.DEVNULL,
                              stderr=d.log, env=gst_env())
    api = Api(d.url, token)
    while time.monotonic() - t < 60:
        try:
            api.call("GET", path)
            return time.monotonic() - t
        except (urllib.error.URLError, ConnectionError):
            if d.proc.poll() is not None:
                break
            time.sleep(0.002)
    d.log.seek(0)
    raise SystemExit("lookbackd did not answer:\n" + d.log.read())


def bench_year(workdir, smoke):
    """A year of index for one camera: time to the first API answer after
    start, lookup against its time at 1 000 segments, a day's coverage, the
    media list, create and GET."""
    if not os.path.exists(YEAR_BENCH):
        return None
    segments = 1440 if smoke else YEAR_SEGMENTS
    base = os.path.join(workdir, "year-base", "lookback.db")
    port = free_port()
    os.makedirs(os.path.join(workdir, "year"))
    d = Daemon(os.path.join(workdir, "year"), listen="127.0.0.1:%d" % port)
    d.url = "http://127.0.0.1:%d" % port
    db = os.path.join(d.dir, "store", "lookback.db")
    year_gen(base, 1000)
    run(["gst-inspect-1.0", "lbrecordingsrc"], env=gst_env())  # a warm registry, as at any boot
    log("a year of index: generating %d segments ..." % segments)
    gen = year_gen(db, segments)
    log("  %d segments, %d keyframe rows in %.1f s" % (gen["segments"], gen["keyframes"], gen["generate_s"]))
    rounds = {"base": [], "year": []}
    for _ in range(1 if smoke else 5):  # alternating: the machine's load drifts
        rounds["base"].append(year_measure(base))
        rounds["year"].append(year_measure(db))
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in rounds.items()}
    token = d.cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
    end_ns = int(gen["end_ns"])
    day = lambda i: end_ns - (1 + (i * 37) % max(1, segments // 1440)) * 86400 * NS
    list_path = lambda i: "/cameras/media?vehicleIds=bench&startTime=%s&endTime=%s" % (
        rfc3339(day(i)), rfc3339(day(i) + 86400 * NS))
    try:
        start_s = first_answer(d, token, list_path(0))
        api = Api(d.url, token)
        n = 20 if smoke else 200
        lst = timed_calls(lambda i: api.call("GET", list_path(i)), n)
        rids = []

        def create(i):
            at = rfc3339(day(i) + (i * 7919 % 86400) * NS)
            rids.append(api.call("POST", "/cameras/media/retrieval", {
                "vehicleId": "bench", "inputs": ["dashcamRoadFacing"], "mediaType": "image",
                "startTime": at, "endTime": at})["data"]["retrievalId"])
        crt = timed_calls(create, n)
        get = timed_calls(lambda i: api.call("GET", "/cameras/media/retrieval?retrievalId=" + rids[i % len(rids)]),
                          n)
    finally:
        d.stop()
    shutil.rmtree(d.dir, ignore_errors=True)
    shutil.rmtree(os.path.dirname(base), ignore_errors=True)
    return {"gen": gen, "base": med["base"], "year": med["year"], "start_s": start_s, "list": lst,
            "create": crt, "get": get, "n": n,
            "cmd": "%s generate DB %d; %s measure DB" % (os.path.relpath(YEAR_BENCH, ROOT), segments,
                                                          os.path.relpath(YEAR_BENCH, ROOT))}


def readline_within(p, seconds, what):
    ready, _, _ = select.select([p.stdout], [], [], seconds)
    if not ready:
        raise SystemExit("bench: no %s within %d s" % (what, seconds))
    return p.stdout.readline().strip()


def bench_memory(c, workdir, seconds, smoke):
    """RSS of lookbackd idle with 4 H.264 cameras recording, then peak during
    2 concurrent low-res jobs."""
    if not os.path.exists(CAMERA):
        return None
    cams = []
    try:
        for i in range(4):
            p = subprocess.Popen([CAMERA, "--width", "1280", "--height", "720", "--fps", "15"],
                                 stdout=subprocess.PIPE, text=True, env=gst_env())
            cams.append((p, readline_within(p, 30, "lb-test-camera's URL")))
        names = ["dashcamRoadFacing", "dashcamDriverFacing", "analog1", "analog2"]
        inputs = [("mem", names[i], "rtspsrc location=%s latency=100" % url) for i, (_, url) in enumerate(cams)]
        inputs.append(("bench", "dashcamRoadFacing", "videotestsrc"))
        d = Daemon(tempfile.mkdtemp(dir=workdir), inputs=inputs, recorder=True)
        d.start()
        try:
            # The bench vehicle's input is a videotestsrc: only the 4 cameras
            # matter, so import the corpus for the jobs below.
            d.cli("import", "--vehicle", "bench", "--input", "dashcamRoadFacing", "--start",
                  rfc3339(EPOCH_NS), *c.files)
            time.sleep(seconds)
            idle = proc_status(d.proc.pid, "VmRSS")
            token = d.cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
            api = Api(d.url, token)
            reset_peak(d.proc.pid)
            job = [j for j in jobs_for(c) if j.key == "lo"][0]
            threads = [threading.Thread(target=api.retrieve, args=("bench", "dashcamRoadFacing", "videoLowRes",
                                                                     job.start_ns, job.end_ns)) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            peak = proc_status(d.proc.pid, "VmHWM")
        finally:
            d.stop()
        return {"idle_kib": idle, "peak_kib": peak}
    finally:
        for p, _ in cams:
            p.terminate()
            p.wait()


# --------------------------------------------------------------------------
# Recorder: what recording costs per camera


RECORDER_INPUTS = ["dashcamRoadFacing", "dashcamDriverFacing", "analog1", "analog2"]


def recorder_loop(smoke):
    """The file the test cameras loop (cached): 720p, 15 fps, 2 Mbit/s
    H.264 High, one keyframe a second, 30 s (smoke: 320x180, 5 s)."""
    w, h, secs, rate = (320, 180, 5, 300) if smoke else (1280, 720, 30, 2000)
    path = os.path.join(CACHE, "recorder", "loop-%dx%d-%ds-%dk.mp4" % (w, h, secs, rate))
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        log("generating the recorder's camera loop %s ..." % path)
        run(["gst-launch-1.0", "-q", "videotestsrc", "pattern=smpte", "horizontal-speed=7",
             "num-buffers=%d" % (secs * 15), "!", "video/x-raw,width=%d,height=%d,framerate=15/1" % (w, h),
             "!", "x264enc", "speed-preset=superfast", "bframes=0", "key-int-max=15", "bitrate=%d" % rate,
             "option-string=scenecut=0", "!", "video/x-h264,profile=high", "!", "h264parse",
             "!", "mp4mux", "!", "filesink", "location=" + path + ".part"], env=gst_env())
        os.rename(path + ".part", path)
    return path


def cpu_over(pids, warm_s, seconds):
    """CPU-seconds the processes @pids spend in @seconds, after @warm_s."""
    time.sleep(warm_s)
    c0 = sum(proc_cpu(p) for p in pids)
    time.sleep(seconds)
    return sum(proc_cpu(p) for p in pids) - c0


def recorder_lookbackd(urls, source, workdir, warm_s, seconds):
    """lookbackd recording @urls through @source: CPU-s per camera per minute
    and its RSS at the end."""
    inputs = [("rec%d" % (i // 4), RECORDER_INPUTS[i % 4], "%s location=%s" % (source, u))
              for i, u in enumerate(urls)]
    d = Daemon(tempfile.mkdtemp(dir=workdir), inputs=inputs, recorder=True)
    d.start()
    try:
        cpu = cpu_over([d.proc.pid], warm_s, seconds)
        rss = proc_status(d.proc.pid, "VmRSS")
        d.log.seek(0)
        connected = d.log.read().count("camera connected")
    finally:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)
    if connected < len(urls):
        raise SystemExit("bench: lookbackd recorded %d cameras of %d" % (connected, len(urls)))
    return cpu / seconds * 60 / len(urls), rss


def recorder_ffmpeg(urls, workdir, warm_s, seconds):
    """One `ffmpeg -c copy -f segment` per camera: CPU-s per camera per minute."""
    out = tempfile.mkdtemp(dir=workdir)
    procs = []
    try:
        for i, u in enumerate(urls):
            os.makedirs(os.path.join(out, str(i)))
            procs.append(subprocess.Popen(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", u, "-c", "copy",
                 "-f", "segment", "-segment_time", "60", os.path.join(out, str(i), "%05d.mp4")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cpu = cpu_over([p.pid for p in procs], warm_s, seconds)
        if any(p.poll() is not None for p in procs):
            raise SystemExit("bench: an ffmpeg recorder ended early")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(out, ignore_errors=True)
    return cpu / seconds * 60 / len(urls)


def bench_recorder(workdir, smoke):
    """lookbackd (lbrtspsrc; rtspsrc for reference at 4 cameras) against
    ffmpeg segment copy on the same looping cameras, one after the other."""
    loop = recorder_loop(smoke)
    counts, warm_s, seconds = ((2,), 3, 3) if smoke else ((4, 16), 8, 40)
    rows = []
    for n in counts:
        cams = []
        try:
            for _ in range(n):
                p = subprocess.Popen([CAMERA, "--loop", loop], stdout=subprocess.PIPE, text=True, env=gst_env())
                cams.append((p, readline_within(p, 60, "lb-test-camera's URL")))
            urls = [u for _, u in cams]
            cam_cpu0 = sum(proc_cpu(p.pid) for p, _ in cams)
            t0 = time.monotonic()
            lb, rss = recorder_lookbackd(urls, "lbrtspsrc", workdir, warm_s, seconds)
            ff = recorder_ffmpeg(urls, workdir, warm_s, seconds)
            ref = recorder_lookbackd(urls, "rtspsrc protocols=tcp latency=100", workdir, warm_s, seconds)[0] \
                if n == counts[0] else None
            cam = (sum(proc_cpu(p.pid) for p, _ in cams) - cam_cpu0) / (time.monotonic() - t0) * 60 / n
            log("  recorder, %d cameras: lookbackd %.3f, ffmpeg %.3f CPU-s per camera per minute, RSS %.1f MiB"
                % (n, lb, ff, rss / 1024))
            rows.append({"n": n, "lb": lb, "ff": ff, "rss_kib": rss, "rtspsrc": ref, "camera": cam})
        finally:
            for p, _ in cams:
                p.terminate()
                p.wait()
    return {"rows": rows, "seconds": seconds, "warm": warm_s, "loop": os.path.basename(loop)}


def recorder_lines(res):
    lines = ["", "## Recorder", "",
             "Recording cost per camera: lookbackd (`source=lbrtspsrc location=URL`) against one "
             "`ffmpeg -rtsp_transport tcp -i URL -c copy -f segment -segment_time 60` per camera, on the same "
             "`lb-test-camera --loop %s` streams (H.264 High at 15 fps, one keyframe a second) on "
             "loopback, one after the other in this run: CPU-seconds of the recorder's process(es) over %d s "
             "after a %d s warm-up, per camera per minute. The row with rtspsrc (`rtspsrc protocols=tcp "
             "latency=100`) is for reference." % (res["loop"], res["seconds"], res["warm"]), "",
             "| cameras | lookbackd | ffmpeg segment copy | ratio | target | met | lookbackd RSS |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    ok = True
    # ffmpeg's CPU is read in clock ticks: over a smoke run's few seconds a
    # tiny stream can cost it none at all
    per = lambda a, b: a / b if b > 0 else float("inf")
    for r in res["rows"]:
        ratio = per(r["lb"], r["ff"])
        met = ratio <= 1.0 and (r["n"] < 16 or r["rss_kib"] <= 65536)
        ok &= met
        lines.append("| %d | %.3f CPU-s/min | %.3f CPU-s/min | %.2f | ≤ 1.0%s | %s | %.1f MiB |" % (
            r["n"], r["lb"], r["ff"], ratio, ", RSS ≤ 64 MiB" if r["n"] >= 16 else "",
            "yes" if met else "**no**", r["rss_kib"] / 1024))
        if r["rtspsrc"] is not None:
            lines.append("| %d, rtspsrc | %.3f CPU-s/min | | %.2f | (reference) | | |" % (
                r["n"], r["rtspsrc"], per(r["rtspsrc"], r["ff"])))
    lines += ["", "The test cameras themselves: %s CPU-s per camera per minute (not counted)." %
              ", ".join("%.3f" % r["camera"] for r in res["rows"])]
    if not ok:
        lines += ["", gap_note("recorder")]
    return lines, ok


# --------------------------------------------------------------------------
# Burst: many stills created at once


BURST_INPUTS = ["dashcamRoadFacing", "dashcamDriverFacing", "analog1", "analog2"]


def burst_plan(c, n):
    """@n stills over the 4 inputs: each input holds two consecutive segments
    of the corpus (its own two when there are enough), and its stills fall
    on frames spread over them, at every position in the GOP.  Returns
    (first segment of each input, [(input index, segment, offset s,
    wall-clock ns)])."""
    firsts = [(2 * i) % max(1, c.segments - 1) for i in range(len(BURST_INPUTS))]
    frames = c.seg_s * c.fps
    stills = []
    for j in range(n):
        i = j % len(BURST_INPUTS)
        seg = firsts[i] + (j // len(BURST_INPUTS)) % 2
        frame = (j * 7919 + 13) % frames
        ms = frame * 1000 // c.fps   # at or just before the frame: both sides pick it
        stills.append((i, seg, ms / 1000, EPOCH_NS + (seg * c.seg_s * 1000 + ms) * 10**6))
    return firsts, stills


def jobs_finished(api):
    """Retrievals lookbackd's workers have finished since it started (from
    /healthz with a token: a counter in memory, cheap to poll)."""
    return api.call("GET", "/healthz")["jobs"]["finished"]


def burst_lookback(api, daemon, stills):
    """Creates every still at once (8 clients), then watches lookbackd's
    count of finished jobs until all are (burst_check() then checks that
    each is available).  Returns (Usage, retrieval ids)."""
    pid = daemon.proc.pid
    cpu0 = proc_cpu(pid)
    done0 = jobs_finished(api)
    t = time.monotonic()
    rids = [None] * len(stills)

    def create(k):
        for j in range(k, len(stills), 8):
            i, _, _, at = stills[j]
            rids[j] = api.call("POST", "/cameras/media/retrieval", {
                "vehicleId": "bench", "inputs": [BURST_INPUTS[i]], "mediaType": "image",
                "startTime": rfc3339(at), "endTime": rfc3339(at)})["data"]["retrievalId"]
    threads = [threading.Thread(target=create, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    while jobs_finished(api) - done0 < len(stills):
        if time.monotonic() - t > STEP_TIMEOUT_S:
            raise SystemExit("bench: the burst did not end within %d s" % STEP_TIMEOUT_S)
        time.sleep(0.02)
    return Usage(time.monotonic() - t, proc_cpu(pid) - cpu0, proc_status(pid, "VmHWM")), rids


def burst_ffmpeg(c, stills, workdir):
    """The same stills, one ffmpeg each, two at a time."""
    args = os.path.join(workdir, "burst-args.txt")
    with open(args, "w") as f:
        for j, (_, seg, off, _) in enumerate(stills):
            f.write("-ss %.3f -i %s -frames:v 1 -q:v 2 ff-burst-%03d.jpg\n" % (off, c.files[seg], j))
    cmd = ["xargs", "-P2", "-L1", "ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    t = time.monotonic()
    with open(args) as f:
        p = subprocess.Popen(cmd, cwd=workdir, stdin=f)
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("bench: %s < %s failed" % (" ".join(cmd), args))
    return Usage(time.monotonic() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss), " ".join(cmd) + " < burst-args.txt"


def burst_check(api, c, stills, rids, workdir, sample):
    """Every retrieval is available; the stills of @sample show their frame."""
    problems = []
    for j, rid in enumerate(rids):
        media = api.call("GET", "/cameras/media/retrieval?retrievalId=" + rid)["data"]["media"][0]
        if media["status"] != "available":
            problems.append("still %d is %s: %s" % (j, media["status"], media.get("failureReason")))
        elif j in sample:
            out = os.path.join(workdir, "lb-burst.jpg")
            api.download(media["urlInfo"]["url"], out)
            job = Job("burst", "", "image", stills[j][3], stills[j][3], None, 0)
            problems += ["still %d: %s" % (j, p) for p in check_output(job, c, out)]
    return problems


def bench_burst(c, workdir, smoke, runs):
    """100 stills (smoke: 20) over 4 inputs created at once, against the
    same stills cut by ffmpeg two at a time, in alternating rounds."""
    n = 20 if smoke else 100
    firsts, stills = burst_plan(c, n)
    d = Daemon(tempfile.mkdtemp(dir=workdir), inputs=[("bench", name, "videotestsrc") for name in BURST_INPUTS])
    for i, name in enumerate(BURST_INPUTS):
        d.cli("import", "--vehicle", "bench", "--input", name, "--start",
              rfc3339(EPOCH_NS + firsts[i] * c.seg_s * NS), *c.files[firsts[i]:firsts[i] + 2])
    token = d.cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
    d.start()
    try:
        api = Api(d.url, token)
        lb, ff, problems = [], [], []
        workers = json.loads(urllib.request.urlopen(urllib.request.Request(
            d.url + "/healthz", headers={"Authorization": "Bearer " + token}), timeout=30).read())
        for r in range(runs + 1):   # the first round is the warm-up
            usage, rids = burst_lookback(api, d, stills)
            ffu, ffcmd = burst_ffmpeg(c, stills, workdir)
            if r == 0:
                problems = burst_check(api, c, stills, rids, workdir,
                                       set(range(n)) if smoke else set(range(0, n, 10)))
            if r > 0 or runs == 0:
                lb.append(usage)
                ff.append(ffu)
            log("  burst round %d: lookback %.2f s, ffmpeg -P2 %.2f s" % (r, usage.wall, ffu.wall))
    finally:
        d.stop()
    ratio = statistics.median(u.wall for u in lb) / statistics.median(u.wall for u in ff)
    return {"n": n, "lb": lb, "ff": ff, "ratio": ratio, "problems": problems, "ffmpeg": ffcmd,
            "size": "%dx%d" % (c.width, c.height), "seg_s": c.seg_s,
            "workers": "%s job workers + %s for images only" % (
                (workers.get("jobs") or {}).get("workers"), (workers.get("jobs") or {}).get("imageWorkers"))}


def burst_lines(b):
    met = b["ratio"] <= 0.5 and not b["problems"]
    lines = ["", "## Burst", "",
             "%d image retrievals over 4 inputs (%s, two %d s segments each, frames at every position in the GOP), "
             "created at once by 8 clients, timed from the first POST until lookbackd has finished them all "
             "(`/healthz`, polled every 20 ms; each is then checked `available`; lookbackd: %s, uploads "
             "off), against the same %d stills cut by ffmpeg two at "
             "a time; a warm-up round, then %d rounds alternating." % (b["n"], b["size"], b["seg_s"], b["workers"], b["n"],
                                                         len(b["lb"])),
             "", "| burst | lookback wall min/med/max | CPU | ffmpeg -P2 wall min/med/max | CPU | ratio | target | met |"
             " output check |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
             "| %d stills | %s | %s | %s | %s | %.2f | ≤ 0.5 | %s | %s |" % (
                 (b["n"],) + fmt_usage(b["lb"])[:2] + fmt_usage(b["ff"])[:2] +
                 (b["ratio"], "yes" if met else "**no**", "; ".join(b["problems"][:3]) or "ok")),
             "", "ffmpeg: `%s`, each line `-ss OFFSET -i SEGMENT -frames:v 1 -q:v 2 OUT.jpg`." % b["ffmpeg"]]
    if not met:
        lines += ["", gap_note("burst")]
    return lines


# Cluster mode: three nodes sharing one PostgreSQL


def plain_env():
    """The environment without the sanitized build's preload: PostgreSQL
    under the ASan runtime hangs in initdb (bench-smoke, sanitized)."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.endswith("SAN_OPTIONS")}


class Postgres:
    """PostgreSQL 15 in a new folder under /tmp (the postgres user cannot
    reach /root), run as postgres when root, on a free loopback port."""

    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(prefix="lookback-bench-pg-", dir="/tmp")
        self.user = "postgres" if os.getuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
        self.port = free_port()
        self.uri = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port
        self.proc = None
        run([os.path.join(PG_BINDIR, "initdb"), "-D", os.path.join(self.dir, "data"), "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--no-sync"], user=self.user, cwd="/tmp", env=plain_env())

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([os.path.join(PG_BINDIR, "postgres"), "-D", os.path.join(self.dir, "data"),
                                      "-p", str(self.port), "-k", self.dir, "-c", "listen_addresses=127.0.0.1"],
                                     stdout=self.log, stderr=subprocess.STDOUT, user=self.user, cwd="/tmp",
                                     env=plain_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if subprocess.run([os.path.join(PG_BINDIR, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                               str(self.port)], env=plain_env()).returncode == 0:
                return
            time.sleep(0.05)
        raise SystemExit("bench: PostgreSQL did not start (see %s/server.log)" % self.dir)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        shutil.rmtree(self.dir, ignore_errors=True)


WRK_CLUSTER_CREATE = r"""
counter = 0
vehicles = {VEHICLES}
request = function()
  counter = counter + 1
  local v = vehicles[counter % #vehicles + 1]
  local body = string.format('{"vehicleId":"%s","inputs":["dashcamRoadFacing"],"mediaType":"image","startTime":"%s","endTime":"%s"}', v, START, START)
  return wrk.format("POST", "/cameras/media/retrieval", {["Content-Type"]="application/json", ["Authorization"]="Bearer " .. TOKEN}, body)
end
delay = function() return 22 end
"""


def cluster_nodes(workdir, pg):
    nodes = []
    for i in range(3):
        port = free_port()
        nodes.append(Daemon(os.path.join(workdir, "node%d" % i), listen="127.0.0.1:%d" % port,
                            inputs=[("bench%d" % i, "dashcamRoadFacing", "videotestsrc")],
                            extra=["[cluster]", "database=" + pg.uri, "node=node%d" % i,
                                   "advertise=http://127.0.0.1:%d" % port]))
    return nodes


def wrk_creates(targets, token, workdir, seconds, connections):
    """One wrk per (daemon, vehicles) target, all at once, each connection
    pausing 22 ms between requests.  Images long before any footage: each
    row ends (unavailable) on the node that records its vehicle at once."""
    procs = []
    for i, (d, vehicles) in enumerate(targets):
        script = os.path.join(workdir, "create-%d.lua" % i)
        with open(script, "w") as f:
            f.write(WRK_CLUSTER_CREATE.replace("{VEHICLES}", "{%s}" % ", ".join('"%s"' % v for v in vehicles))
                    .replace("START", '"%s"' % rfc3339(EPOCH_NS + NS)).replace("TOKEN", '"%s"' % token))
        procs.append(subprocess.Popen(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s",
                                       script, d.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return [parse_wrk(p.communicate(timeout=seconds + STEP_TIMEOUT_S)[0]) for p in procs]


def wrk_get(d, token, rid, seconds):
    return parse_wrk(run(["wrk", "-t2", "-c32", "-d%ds" % seconds, "--latency", "-H",
                          "Authorization: Bearer " + token,
                          d.url + "/cameras/media/retrieval?retrievalId=" + rid]).stdout)


def first_row(d, token, vehicle):
    """A row for the GETs to read (an image no node can make)."""
    return Api(d.url, token).call("POST", "/cameras/media/retrieval", {
        "vehicleId": vehicle, "inputs": ["dashcamRoadFacing"], "mediaType": "image",
        "startTime": rfc3339(EPOCH_NS), "endTime": rfc3339(EPOCH_NS)})["data"]["retrievalId"]


def one_box(workdir, seconds):
    """The same load on one box (SQLite), in the same run: the reference
    the cluster's figures are read against on a machine whose load drifts."""
    d = Daemon(os.path.join(workdir, "one-box"), listen="127.0.0.1:%d" % free_port())
    try:
        d.start()
        token = d.cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
        rid = first_row(d, token, "bench")
        creates = wrk_creates([(d, ["bench"])], token, workdir, seconds, 12)
        return {"creates": creates, "get": wrk_get(d, token, rid, seconds)}
    finally:
        d.stop()


def bench_cluster(workdir, seconds):
    """Three lookbackd nodes sharing one PostgreSQL on this machine: create
    latency at about 500 req/s spread over the nodes, then GET throughput of
    each node in turn (wrk, the same run)."""
    if not shutil.which("wrk") or not os.path.exists(os.path.join(PG_BINDIR, "postgres")):
        return None
    pg = Postgres(workdir)
    nodes = []
    load = os.getloadavg()[0]
    try:
        pg.start()
        nodes = cluster_nodes(workdir, pg)
        for d in nodes:
            d.start()
        token = nodes[0].cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
        rid = first_row(nodes[0], token, "bench1")
        # each node creates for the vehicles the other two record
        creates = wrk_creates([(d, ["bench%d" % j for j in range(3) if j != i]) for i, d in enumerate(nodes)],
                              token, workdir, seconds, 4)
        gets = [wrk_get(d, token, rid, seconds) for d in nodes]
    finally:
        for d in nodes:
            d.stop()
        pg.stop()
    return {"creates": creates, "gets": gets, "one_box": one_box(workdir, seconds),
            "load": (load, os.getloadavg()[0]),
            "create_cmd": "wrk -t1 -c4 -d%ds --latency -s create-N.lua http://NODE_N (one per node, at once; "
                          "22 ms pause per connection)" % seconds,
            "get_cmd": "wrk -t2 -c32 -d%ds --latency -H 'Authorization: Bearer …' "
                       "http://NODE_N/cameras/media/retrieval?retrievalId=… (each node in turn)" % seconds}


def cluster_lines(res):
    met = lambda ok: "yes" if ok else "**no**"
    one = res["one_box"]
    p99 = max(c[1].get("99", 1e9) for c in res["creates"])
    p50 = max(c[1].get("50", 0) for c in res["creates"])
    rate = sum(c[0] for c in res["creates"])
    worst_get = min(g[0] for g in res["gets"])
    gets = " / ".join("%.0f" % g[0] for g in res["gets"])
    get_p99 = " / ".join("%.2f" % g[1].get("99", 0) for g in res["gets"])
    return ["", "## Cluster", "",
            "Measured on %s by `bench/run.sh --only cluster --update`: three lookbackd nodes on this machine "
            "sharing one PostgreSQL 15 (Debian's, default settings, started by the harness in a folder under "
            "/tmp), each with one camera input in the registry (recording off, as for the API rows above) and "
            "`[cluster]` set, nothing else tuned. Each created row is run by the node that owns it (an image "
            "long before any footage: unavailable, through the shared books) while the load goes on. The "
            "machine's 1-minute load average (other work included): %.1f at the start, %.1f at the end." % (
                (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),) + res["load"]), "",
            "| measure | result | target | met |", "| --- | --- | --- | --- |",
            "| create latency, ~500 req/s spread over 3 nodes (each for vehicles the others record) | "
            "p99 %.2f ms (worst node; p50 %.2f ms; %.0f req/s achieved in all) | p99 ≤ 20 ms | %s |" % (
                p99, p50, rate, met(p99 <= 20)),
            "| `GET /cameras/media/retrieval` throughput per node | %s req/s (p99 %s ms) | ≥ 5 000 req/s each | %s |" % (
                gets, get_p99, met(worst_get >= 5000)),
            "| the same on one box (SQLite), same run, for reference | create p99 %.2f ms (p50 %.2f ms, %.0f req/s, "
            "12 connections); GET %.0f req/s | | |" % (
                one["creates"][0][1].get("99", 0), one["creates"][0][1].get("50", 0), one["creates"][0][0],
                one["get"][0]),
            "", "Commands: `%s`; `%s`." % (res["create_cmd"], res["get_cmd"])]


# --------------------------------------------------------------------------
# Report


def fmt_usage(us):
    w = stats([u.wall for u in us])
    cpu = statistics.median(u.cpu for u in us)
    mem = max(u.peak_kib for u in us) / 1024
    return "%.3f / %.3f / %.3f s" % w, "%.2f s" % cpu, "%.0f MiB" % mem


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ff = run(["ffmpeg", "-version"]).stdout.splitlines()[0]
    gst = run(["gst-launch-1.0", "--version"]).stdout.splitlines()[1]
    return "%s, %d cores, %.0f GiB, %s %s; %s; %s" % (cpu, os.cpu_count(), mem, platform.system(),
                                                    platform.release(), ff, gst)


def gap_note(key):
    """The analysis of an unmet target, kept by hand in bench/gaps/<key>.md
    next to the code it is about (the figures themselves are always measured)."""
    path = os.path.join(ROOT, "bench", "gaps", key + ".md")
    if not os.path.exists(path):
        return "No analysis written yet (bench/gaps/%s.md)." % key
    with open(path) as f:
        return " ".join(f.read().split())


def year_lines(y):
    lookup_ratio = y["year"]["lookup_us"] / y["base"]["lookup_us"]
    met = lambda ok: "yes" if ok else "**no**"
    g = y["gen"]
    return ["", "## A year of index", "",
            "One camera, %d one-minute segments with a keyframe row a second (%d rows, generated in "
            "%.1f s in one transaction); the rows point to no files, so only the index is measured. "
            "In-process figures are medians of alternating runs against a store of 1 000 such "
            "segments; HTTP figures are single requests from Python (urllib) on loopback, %d each." % (
                g["segments"], g["keyframes"], g["generate_s"], y["n"]), "",
            "| measure | a year | 1 000 segments | target | met |", "| --- | --- | --- | --- | --- |",
            "| lookbackd start → first API answer (reconcile included) | %.2f s | | ≤ 2 s | %s |" % (
                y["start_s"], met(y["start_s"] <= 2)),
            "| lookup, 30 s window | %.1f µs | %.1f µs | ≤ 2× (%.2f×) | %s |" % (
                y["year"]["lookup_us"], y["base"]["lookup_us"], lookup_ratio, met(lookup_ratio <= 2)),
            "| lookup, one instant (image) | %.1f µs | %.1f µs | | |" % (
                y["year"]["image_us"], y["base"]["image_us"]),
            "| a day's coverage (mean / worst of 30 days) | %.2f / %.2f ms | | ≤ 50 ms | %s |" % (
                y["year"]["coverage_ms"], y["year"]["coverage_max_ms"], met(y["year"]["coverage_max_ms"] <= 50)),
            "| `GET /cameras/media` for a day, p50 / p99 | %.2f / %.2f ms | | | |" % y["list"],
            "| `POST /cameras/media/retrieval` (image), p50 / p99 | %.2f / %.2f ms | | | |" % y["create"],
            "| `GET /cameras/media/retrieval`, p50 / p99 | %.2f / %.2f ms | | | |" % y["get"],
            "", "Command: `%s`, then lookbackd on that store (bench/run.py `bench_year`)." % y["cmd"]]


def jobs_lines(c, results, gaps_prefix=""):
    """The table of @results (jobs on corpus @c), the analysis of unmet
    targets (bench/gaps/<prefix><key>.md) and the ffmpeg commands; TRUE when
    every target is met."""
    ok = True
    lines = ["| job | lookback wall min/med/max | CPU | peak RSS | ffmpeg wall min/med/max | CPU | peak RSS | ratio | target | met | output check |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        j = r["job"]
        met = r["ratio"] <= j.target and not r["problems"]
        ok &= met
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %.2f | ≤ %.1f | %s | %s |" % (
            (j.title,) + fmt_usage(r["lb"]) + fmt_usage(r["ff"]) + (r["ratio"], j.target, "yes" if met else "**no**",
                                                                   "; ".join(r["problems"]) or "ok")))
    unmet = [r for r in results if r["ratio"] > r["job"].target or r["problems"]]
    if unmet:
        lines += ["", "### Targets not met: by how much, why, and what would close it", ""]
        for r in unmet:
            j = r["job"]
            lines.append("- **%s**: ratio %.2f against a target of %.1f (%.0f%% over)%s. %s" % (
                j.title, r["ratio"], j.target, 100 * (r["ratio"] / j.target - 1),
                "; output problems: " + "; ".join(r["problems"]) if r["problems"] else "",
                gap_note(gaps_prefix + j.key)))
    lines += ["", "ffmpeg commands (run in the corpus' work folder):", ""]
    lines += ["- %s: `%s`" % (r["job"].key, r["ffmpeg"]) for r in results]
    return lines, ok


def corpus_line(c):
    made = (" Generated in %.0f s (%.0f CPU-s) on this machine, then cached in `%s`." % (
        c.made[0], c.made[1], os.path.relpath(c.dir, ROOT)) if c.made else "")
    return ("Corpus: %d × %d s segments of %s, %d fps, one keyframe per second, no B-frames, %d kbit/s, "
            "stamped with `lbclockstamp`, one pipeline per segment, the first being `%s`.%s" % (
                c.segments, c.seg_s, c.label, c.fps, c.bitrate, " ".join(c.command(0)), made))


def sub_stream_lines(sub, results, runs):
    table, ok = jobs_lines(sub, results, "sub-")
    return ["", "## Low-res from a recorded sub-stream", "",
            "Measured on %s by `bench/run.py %s`, on the machine above (%d runs after a warm-up). The "
            "vehicle `bench-sub` has the H.264 corpus as its main stream and, as its sub-stream "
            "(`lookback import --sub-stream`), the same frames at %dx%d: a low-res clip the "
            "sub-stream covers is its remux, frame-exact (edit list), against ffmpeg's transcode of "
            "the main stream to the same size." % (
                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                " ".join(sys.argv[1:]), runs, sub.width, sub.height), "",
            corpus_line(sub), ""] + table, ok


def report(c, results, api_res, lookup_res, mem_res, runs, year_res=None, h265=None, cluster_res=None,
           burst_res=None, sub=None):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Everything measured sits under a "## " heading, so that --update
    # replaces it (splice); the head says when the whole report was written.
    lines = ["# Benchmarks", "",
             "Written by `bench/run.sh` on %s. Do not edit by hand: run it again (`--only PART --update` "
             "rewrites one section, which then says when it was measured)." % now, "",
             "Machine: %s." % machine()]
    ok = True
    if results:
        table, ok = jobs_lines(c, results)
        lines += ["", "## H.264 camera footage", "",
                  "Measured on %s by `bench/run.py %s`, on the machine above. Each job: a warm-up, then %d "
                  "runs alternating lookback and ffmpeg. lookback is timed from the POST over HTTP to the "
                  "poll that sees `available` (polled every 2 ms on the POST's keep-alive connection; "
                  "uploads off); its CPU is lookbackd's CPU time over the "
                  "request, its memory lookbackd's peak RSS (VmHWM reset before each run). ffmpeg is timed "
                  "as a whole process. Ratio = median wall lookback / median wall ffmpeg." % (
                      now, " ".join(sys.argv[1:]), runs), "",
                  corpus_line(c), ""] + table
    if h265:
        c5, results5 = h265
        table5, ok5 = jobs_lines(c5, results5, "h265-")
        ok &= ok5
        lines += ["", "## H.265 camera footage", "",
                  "Measured on %s by `bench/run.py %s`, on the machine above. The same jobs, the same way "
                  "(%d runs each after a warm-up), on footage of an H.265 camera recorded as it comes: "
                  "high-res clips and keyframe hyperlapses stay HEVC (remuxed), stills and low-res clips "
                  "decode it; ffmpeg works on the same files." % (now, " ".join(sys.argv[1:]), runs), "",
                  corpus_line(c5), ""] + table5
    if sub:
        sub_table, sub_ok = sub_stream_lines(sub[0], sub[1], runs)
        lines += sub_table
        ok &= sub_ok
    if api_res:
        lines += ["", "## API", "",
                  "| measure | result | target | met |", "| --- | --- | --- | --- |",
                  "| `GET /cameras/media/retrieval` throughput | %.0f req/s (p50 %.2f ms, p99 %.2f ms) | ≥ 10 000 req/s | %s |" % (
                      api_res["get_rps"], api_res["get_lat"].get("50", 0), api_res["get_lat"].get("99", 0),
                      "yes" if api_res["get_rps"] >= 10000 else "**no**"),
                  "| create latency at ~500 req/s | p99 %.2f ms (p50 %.2f ms, %.0f req/s achieved) | p99 ≤ 10 ms | %s |" % (
                      api_res["create_lat"].get("99", 0), api_res["create_lat"].get("50", 0), api_res["create_rps"],
                      "yes" if api_res["create_lat"].get("99", 1e9) <= 10 else "**no**"),
                  "", "Commands: `%s`; `%s`." % (api_res["get_cmd"], api_res["create_cmd"])]
    if lookup_res:
        s = lookup_res["sizes"]
        lines += ["", "## Nearest-media lookup", "", "| segments in the store | lookup |", "| --- | --- |"]
        lines += ["| %d | %.1f µs |" % (k, v) for k, v in sorted(s.items())]
        if 1000 in s and max(s) > 1000:
            r = s[max(s)] / s[1000]
            lines += ["", "Time at %d ÷ time at 1000: %.2f (target ≤ 2): %s. Command: `%s`." % (
                max(s), r, "met" if r <= 2 else "**not met**", lookup_res["cmd"])]
    if year_res:
        lines += year_lines(year_res)
    if burst_res:
        lines += burst_lines(burst_res)
        ok &= burst_res["ratio"] <= 0.5 and not burst_res["problems"]
    if cluster_res:
        lines += cluster_lines(cluster_res)
    if mem_res:
        lines += ["", "## Memory", "",
                  "lookbackd RSS idle with 4 H.264 RTSP cameras (720p, 15 fps, `lb-test-camera`) recording: "
                  "**%.1f MiB** (target ≤ 64 MiB: %s); peak during 2 concurrent low-res jobs: %.1f MiB." % (
                      mem_res["idle_kib"] / 1024, "met" if mem_res["idle_kib"] <= 65536 else "**not met**",
                      mem_res["peak_kib"] / 1024)]
    return "\n".join(lines) + "\n", ok


def bench_delivery(smoke):
    """lb-bench-delivery against the peers of the upload tests: its own
    Markdown rows, and whether every target was met."""
    args = ["--size-mb", "24", "--drop-mb", "11", "--retrievals", "20", "--outage-s", "2",
            "--events", "20", "--rate-mb", "1", "--rate-s", "3"] if smoke else []
    env = dict(os.environ, LB_PEERS_DIR=os.path.join(ROOT, "tests", "peers"))
    log("delivery: %s %s" % (DELIVERY_BENCH, " ".join(args)))
    p = subprocess.run([DELIVERY_BENCH] + args, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=STEP_TIMEOUT_S)
    cmd = "LB_PEERS_DIR=tests/peers build/bench/lb-bench-delivery" + (" " + " ".join(args) if args else "")
    return {"table": p.stdout.strip(), "ok": p.returncode == 0, "cmd": cmd}


def delivery_lines(res):
    return ["", "## Delivery", "",
            "Uploads and webhooks against the upload tests' peers on 127.0.0.1 (s3rver behind a "
            "SigV4 check, the tus reference server, a relay that drops the link, a webhook "
            "receiver that fails). Targets: at most one part (8 MiB) re-sent per drop, the "
            "object intact; every queued retrieval stored once, in priority order, after the "
            "outage; no webhook event lost, duplicates only retries of an event id; "
            "`[upload] max-rate` never exceeded (the rate achieved, hashing included, "
            "÷ the cap; the bound allows for the one-second bucket the uploader starts "
            "with).", "",
            res["table"], "", "All targets met: %s. Command: `%s`." % (
                "yes" if res["ok"] else "**no**", res["cmd"])]


def splice(path, text):
    """Replaces in the report at @path the sections ("## " headings) that
    @text has, or appends them; the rest of the file stays as it was."""
    def sections(t):
        out, cur = {}, None
        for line in t.splitlines():
            if line.startswith("## "):
                cur = line
                out[cur] = []
            if cur:
                out[cur].append(line)
        return out
    new = sections(text)
    with open(path) as f:
        old_lines = f.read().splitlines()
    lines, skip = [], False
    for line in old_lines:
        if line.startswith("## "):
            skip = line in new
            if skip:
                lines += new.pop(line)
        if not skip:
            lines.append(line)
    for title, body in new.items():
        lines += [""] + body
    spaced = []
    for line in lines:
        if line.startswith("## ") and spaced and spaced[-1] != "":
            spaced.append("")   # a section spliced in keeps its blank line
        spaced.append(line)
    lines = spaced
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny corpus, one run per job, no report file")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per job after the warm-up")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--only", choices=["jobs", "jobs-h265", "sub-stream", "api", "lookup", "year", "memory",
                                       "cluster", "delivery", "burst", "recorder"],
                    action="append", help="run only these parts (repeatable; default: all); writes no report "
                    "file unless --update")
    ap.add_argument("--update", action="store_true",
                    help="with --only: replace the report's sections these parts make (jobs: "
                    "'## H.264 camera footage'; jobs-h265: "
                    "'## H.265 camera footage'; sub-stream: '## Low-res from a recorded sub-stream'; "
                    "cluster: '## Cluster'; delivery: '## Delivery'; burst: '## Burst'; recorder: "
                    "'## Recorder') in --out, leaving the rest as it is")
    ap.add_argument("--job", choices=["still", "hi", "lo", "hl-key", "hl-naive"], action="append",
                    help="with --only jobs / jobs-h265: only these retrievals (repeatable)")
    args = ap.parse_args()
    runs = 1 if args.smoke else args.runs
    global STEP_TIMEOUT_S
    STEP_TIMEOUT_S = 120 if args.smoke else 1800

    want = lambda part: not args.only or part in args.only
    c = Corpus(args.smoke)
    c5 = Corpus(args.smoke, "h265")
    cs = Corpus(args.smoke, sub=True)
    workdir = tempfile.mkdtemp(prefix="lookback-bench-")
    daemon = Daemon(workdir, inputs=[("bench", "dashcamRoadFacing", "videotestsrc"),
                                     ("bench", "dashcamDriverFacing", "videotestsrc"),
                                     ("bench-sub", c.input, "videotestsrc")])
    try:
        results, results5, results_sub, api_res = [], [], [], None
        if want("jobs") or want("jobs-h265") or want("sub-stream") or want("api") or want("memory"):
            corpora = [x for x, part in ((c, "jobs"), (c5, "jobs-h265")) if want(part)
                       or (x is c and (want("api") or want("memory")))]
            for x in corpora:
                x.ensure()
                daemon.cli("import", "--vehicle", "bench", "--input", x.input, "--start", rfc3339(EPOCH_NS),
                           *x.files)
            if want("sub-stream"):
                for x, flags in ((c, []), (cs, ["--sub-stream"])):
                    x.ensure()
                    daemon.cli("import", "--vehicle", "bench-sub", "--input", c.input, *flags,
                               "--start", rfc3339(EPOCH_NS), *x.files)
            token = daemon.cli("token", "add", "--org", "bench", "--scopes", "media:read,media:write").strip()
            daemon.start()
            api = Api(daemon.url, token)
            results = bench_jobs(c, api, daemon, runs, workdir, args.smoke, args.job) if want("jobs") else []
            results5 = bench_jobs(c5, api, daemon, runs, workdir, args.smoke, args.job) \
                if want("jobs-h265") else []
            results_sub = bench_jobs(c, api, daemon, runs, workdir, args.smoke,
                                     jobs=[sub_stream_job(c, cs)], vehicle="bench-sub") \
                if want("sub-stream") else []
            api_res = bench_api(api, workdir, 2 if args.smoke else 10) if want("api") else None
            daemon.stop()
        lookup_res = bench_lookup(args.smoke) if want("lookup") else None
        year_res = bench_year(workdir, args.smoke) if want("year") else None
        cluster_res = bench_cluster(workdir, 1 if args.smoke else 10) if want("cluster") else None
        burst_res = None
        if want("burst"):
            c.ensure()
            burst_res = bench_burst(c, workdir, args.smoke, 1 if args.smoke else 3)
        mem_res = bench_memory(c, workdir, 20, args.smoke) if want("memory") and not args.smoke else None
        del_res = bench_delivery(args.smoke) if want("delivery") else None
        rec_res = bench_recorder(workdir, args.smoke) if want("recorder") else None
        text, ok = report(c, results, api_res, lookup_res, mem_res, runs, year_res,
                          (c5, results5) if results5 else None, cluster_res, burst_res,
                          (cs, results_sub) if results_sub else None)
        if del_res:
            text += "\n".join(delivery_lines(del_res)) + "\n"
            ok = ok and del_res["ok"]
        if rec_res:
            rec_text, rec_ok = recorder_lines(rec_res)
            text += "\n".join(rec_text) + "\n"
            ok = ok and (rec_ok or args.smoke)
        problems = [p for r in results + results5 + results_sub for p in r["problems"]] + (burst_res["problems"] if burst_res else [])
        if del_res and not del_res["ok"]:
            problems.append("delivery: a target was missed")
        if args.smoke or (args.only and not args.update):
            sys.stdout.write(text)
            if problems:
                raise SystemExit("bench smoke: wrong outputs: " + "; ".join(problems))
        elif args.only:
            splice(args.out, text)
            log("updated %s with %s" % (args.out, ", ".join(args.only)))
        else:
            with open(args.out, "w") as f:
                f.write(text)
            log("wrote %s (%s)" % (args.out, "all targets met" if ok else "some targets not met"))
    finally:
        daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
