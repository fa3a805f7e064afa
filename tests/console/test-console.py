#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium driven by Selenium).

A store holds two pieces of stamped footage made at test time (lbclockstamp)
and imported with `lookback import`, 20 s apart; lookbackd serves it on
127.0.0.1 (that input's camera is a dead port) and records a live test
camera on another input.  The test signs in with a token from `lookback
token add`, finds the footage and the gap on the timeline, clicks a moment
for a still, drags across a range, asks for a high-res clip of it, waits for
it and checks the delivered range the page shows; the recorders' health
(lost, live) and the organisation's quota are shown, and the day and week
zooms still find the footage.  The browser's console must hold no error
(SEVERE).  A screenshot of each step is kept in $LB_ARTIFACTS_DIR (the
build's meson-logs/console).

Everything talks to loopback only: lookbackd, chromedriver, and a Chromium
told not to reach out (no sync, no component updates, no background
networking).
"""

import datetime
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

VEHICLE = '1234'
INPUT = 'dashcamRoadFacing'     # imported footage; its camera a dead port
LIVE = 'dashcamDriverFacing'    # a live test camera, recorded
T0 = datetime.datetime(2026, 1, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)
PIECE_S = 20          # each piece of footage
GAP_S = 20            # between them
# Waits are bounds on failure only, never assertions on speed: a sanitized
# lookbackd is several times slower.
WAIT_S = 45


def rfc(t):
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


def dead_port():
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(argv, env=None):
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError('%s: exit %d\n%s%s' % (
            ' '.join(argv), p.returncode, p.stdout, p.stderr))
    return p.stdout


def make_footage(path, start):
    """PIECE_S seconds of 160x120 video at 30 fps, each frame stamped with
    its wall-clock time from @start, a keyframe every second."""
    env = dict(os.environ)
    # The plugin is built with the sanitizers in a sanitized build:
    # gst-launch-1.0 is not, and needs their runtime first (leaks off: not
    # ours).
    if os.environ.get('LB_ASAN_RUNTIME'):
        env['LD_PRELOAD'] = os.environ['LB_ASAN_RUNTIME']
        env['ASAN_OPTIONS'] = 'detect_leaks=0:abort_on_error=1'
    offset = int(start.timestamp()) * 1000000000
    run(['gst-launch-1.0', '-q',
         'videotestsrc', 'pattern=smpte', 'horizontal-speed=3',
         'num-buffers=%d' % (PIECE_S * 30), '!',
         'video/x-raw,width=160,height=120,framerate=30/1', '!',
         'lbclockstamp', 'source=pts', 'offset=%d' % offset, '!',
         'videoconvert', '!', 'video/x-raw,format=I420', '!',
         'x264enc', 'speed-preset=ultrafast', 'bframes=0', 'key-int-max=30',
         'option-string=scenecut=0', '!', 'h264parse', '!',
         'mp4mux', 'fragment-duration=1000', '!',
         'filesink', 'location=' + path], env)


class Daemon:
    """lookbackd --config CONF, its stderr kept; the API's URL once it
    listens."""

    def __init__(self, conf):
        self.proc = subprocess.Popen(
            [os.environ['LOOKBACKD'], '--config', conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.started = threading.Event()
        self.url = None
        threading.Thread(target=self._read, daemon=True).start()
        if not self.started.wait(WAIT_S) or self.url is None:
            self.stop()
            raise AssertionError('lookbackd did not start:\n' + self.output())

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r' started: API on (http://[^,\s]+)', line)
            if m:
                self.url = m.group(1)
                self.started.set()
        self.started.set()

    def output(self):
        return ''.join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def browser(profile):
    options = Options()
    options.binary_location = shutil.which('chromium') or '/usr/bin/chromium'
    for arg in ['--headless=new', '--disable-gpu', '--window-size=1280,1000',
                '--no-first-run', '--no-default-browser-check',
                '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--disable-default-apps',
                '--disable-extensions', '--disable-dev-shm-usage',
                '--user-data-dir=' + profile]:
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument('--no-sandbox')    # Chromium refuses root else
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    service = Service(shutil.which('chromedriver') or
                      '/usr/bin/chromedriver')
    return webdriver.Chrome(service=service, options=options)


class ConsoleTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='lb-console-')
        cls.artifacts = os.environ.get('LB_ARTIFACTS_DIR') or cls.dir
        os.makedirs(cls.artifacts, exist_ok=True)
        cls.conf = os.path.join(cls.dir, 'lookback.conf')
        with open(cls.conf, 'w') as f:
            f.write('[server]\nlisten=127.0.0.1:0\n'
                    '[store]\ndir=%s\n'
                    '[retention]\nmax-age=0\n'
                    '[jobs]\nworkers=1\n'
                    '[input %s %s]\nsource=rtspsrc location=rtsp://127.0.0.1:%d/x\n'
                    '[input %s %s]\nsource=videotestsrc is-live=true ! '
                    'video/x-raw,width=160,height=120,framerate=10/1\n'
                    % (os.path.join(cls.dir, 'store'), VEHICLE, INPUT,
                       dead_port(), VEHICLE, LIVE))
        lookback = [os.environ['LOOKBACK'], '--config', cls.conf]
        for i in range(2):
            start = T0 + datetime.timedelta(seconds=i * (PIECE_S + GAP_S))
            mp4 = os.path.join(cls.dir, 'footage%d.mp4' % i)
            make_footage(mp4, start)
            run(lookback + ['import', '--vehicle', VEHICLE, '--input', INPUT,
                            '--start', rfc(start), mp4])
        cls.token = run(lookback + ['token', 'add', '--org', 'acme']).strip()
        cls.daemon = Daemon(cls.conf)
        try:
            cls.driver = browser(os.path.join(cls.dir, 'chromium'))
        except Exception:
            cls.daemon.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        status = cls.daemon.stop()
        sys.stderr.write(cls.daemon.output())
        shutil.rmtree(cls.dir, ignore_errors=True)
        # a sanitizer's report ends lookbackd with an error
        assert status == 0, 'lookbackd ended with %s' % status

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.artifacts, name + '.png'))

    def wait_for(self, css, within=None):
        return WebDriverWait(within or self.driver, WAIT_S).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def css(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def check_browser_log(self):
        severe = [e for e in self.driver.get_log('browser')
                  if e['level'] == 'SEVERE']
        self.assertEqual(severe, [], 'errors in the browser console')

    def x_of(self, track, seconds):
        """The offset from the middle of @track of T0 + @seconds, from the
        recorded piece drawn at T0 (its left edge, its width)."""
        rec = track.find_element(By.CSS_SELECTOR, '.seg.rec[data-start="%s"]'
                                 % rfc(T0))
        x = rec.rect['x'] + rec.rect['width'] * seconds / PIECE_S
        return round(x - (track.rect['x'] + track.rect['width'] / 2))

    def test_console(self):
        d = self.driver
        d.get(self.daemon.url + '/')
        self.wait_for('#sign-in:not([hidden])')
        self.shot('1-sign-in')

        # a wrong token is refused, the right one signs in
        self.css('#token').send_keys('not-a-token')
        self.css('#sign-in-button').click()
        WebDriverWait(d, WAIT_S).until(EC.text_to_be_present_in_element(
            (By.ID, 'sign-in-error'), 'Sign-in refused'))
        # (Chromium logs the 401 as an error: that one only)
        self.assertEqual([e['message'] for e in d.get_log('browser')
                          if e['level'] == 'SEVERE'],
                         [self.daemon.url + '/cameras/media/quota - Failed to '
                          'load resource: the server responded with a status '
                          'of 401 (Unauthorized)'])
        self.css('#token').send_keys(self.token)
        self.css('#sign-in-button').click()
        self.wait_for('#console:not([hidden])')
        self.assertEqual(d.execute_script(
            'return sessionStorage.getItem("lookback.token")'), self.token)
        quota = self.wait_for('#quota:not([hidden]) #quota-text')
        self.assertIn('acme', quota.text)

        # the footage on the timeline: at ten minutes around it, both pieces
        # and the gap between them
        self.css('button.zoom[data-zoom="600000"]').click()
        self.css('#goto').send_keys('2026-01-01 10:00:30')
        self.css('#goto-form button[type="submit"]').click()
        track = '.track[data-vehicle="%s"][data-input="%s"]' % (VEHICLE, INPUT)
        gap_start = T0 + datetime.timedelta(seconds=PIECE_S)
        gap_end = gap_start + datetime.timedelta(seconds=GAP_S)
        self.wait_for(track + ' .seg.gap[data-start="%s"][data-end="%s"]'
                      % (rfc(gap_start), rfc(gap_end)))
        recs = d.find_elements(By.CSS_SELECTOR, track + ' .seg.rec')
        self.assertEqual(sorted(r.get_attribute('data-start') for r in recs),
                         [rfc(T0), rfc(gap_end)])
        # recorder health from /metrics: the camera is a dead port
        health = self.wait_for('.tl-row[data-input="%s"] .health.lost' % INPUT)
        self.assertIn('since', health.text)
        self.wait_for('.tl-row[data-input="%s"] .health.live' % LIVE)
        self.shot('2-timeline')

        # a click: a still of that moment
        el = self.css(track)
        ActionChains(d).move_to_element_with_offset(
            el, self.x_of(el, 10), 0).click().perform()
        img = self.wait_for('#preview figure img')
        WebDriverWait(d, WAIT_S).until(lambda _: d.execute_script(
            'return arguments[0].complete && arguments[0].naturalWidth',
            img) == 160)

        # a drag across 2 s to 12 s: the form holds the range, to the second
        el = self.css(track)
        ActionChains(d).move_to_element_with_offset(el, self.x_of(el, 2), 0) \
            .click_and_hold().move_by_offset(20, 0) \
            .move_to_element_with_offset(el, self.x_of(el, 12), 0) \
            .release().perform()
        self.wait_for(track + ' .sel')
        start = self.css('#req-start').get_attribute('value')
        end = self.css('#req-end').get_attribute('value')
        a = datetime.datetime.fromisoformat(start.replace('Z', '+00:00'))
        b = datetime.datetime.fromisoformat(end.replace('Z', '+00:00'))
        self.assertLessEqual(abs((a - T0).total_seconds() - 2), 1.5)
        self.assertLessEqual(abs((b - T0).total_seconds() - 12), 1.5)
        self.assertEqual(self.css('#req-type').get_attribute('value'),
                         'videoHighRes')
        self.shot('3-selection')

        # asked for, made, delivered: the range shown is the one asked for
        self.css('#req-submit').click()
        WebDriverWait(d, WAIT_S).until(EC.text_to_be_present_in_element(
            (By.ID, 'req-message'), 'Asked: retrieval '))
        rid = re.search(r'retrieval ([0-9a-f-]+)',
                        self.css('#req-message').text).group(1)
        card = self.wait_for('.retrieval[data-retrieval-id="%s"]'
                             '[data-status="available"] .media-item' % rid)
        delivered = card.find_element(By.CSS_SELECTOR, 'dd.delivered')
        self.assertEqual(delivered.get_attribute('data-start'), start)
        self.assertEqual(delivered.get_attribute('data-end'), end)
        self.assertIn(start[11:19], delivered.text)
        self.assertIn(end[11:19], delivered.text)
        self.assertEqual(card.find_element(By.CSS_SELECTOR, 'dd.gaps').text,
                         'none')
        video = card.find_element(By.CSS_SELECTOR, '.player video')
        WebDriverWait(d, WAIT_S).until(lambda _: d.execute_script(
            'return arguments[0].readyState', video) >= 1)
        self.assertAlmostEqual(d.execute_script(
            'return arguments[0].duration', video),
            (b - a).total_seconds(), delta=0.2)
        link = card.find_element(By.CSS_SELECTOR, '.player a[download]')
        self.assertTrue(link.get_attribute('href').startswith(
            self.daemon.url + '/media/'))
        # the quota counts the clip
        WebDriverWait(d, WAIT_S).until(lambda _: float(re.search(
            r'quota ([0-9.]+) s', self.css('#quota-text').text).group(1))
            >= (b - a).total_seconds())
        d.execute_script('arguments[0].scrollIntoView()', card)
        self.shot('4-retrieval')
        # the whole page (README's docs/console.png)
        d.set_window_size(1280, 1500)
        d.execute_script('window.scrollTo(0, 0)')
        self.shot('5-console')

        # a day and a week: the window read again holds the footage
        for zoom, days in (('86400000', 1), ('604800000', 7)):
            label = self.css('#window-label').text
            self.css('button.zoom[data-zoom="%s"]' % zoom).click()
            WebDriverWait(d, WAIT_S).until(
                lambda _: self.css('#window-label').text != label)
            self.wait_for(track + ' .seg.rec[data-start="%s"]' % rfc(T0))
            a, b = re.findall(r'\d{4}-\d\d-\d\d', self.css('#window-label').text)
            self.assertEqual((datetime.date.fromisoformat(b) -
                              datetime.date.fromisoformat(a)).days, days)
        self.shot('6-week')
        self.check_browser_log()


if __name__ == '__main__':
    unittest.main(verbosity=2)
