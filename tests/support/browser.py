"""A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
no port, no library): load pages, and report what a reader would hit — console errors,
uncaught exceptions, failed or 4xx/5xx requests, anything fetched from another host."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Browser", "PageReport", "chromium_path", "open_browser"]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    # Nothing but loopback resolves: a page that reaches for a CDN fails loudly here.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    url: str
    problems: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # what the checks evaluated


class Browser:
    """One browser, one tab, pages loaded one after another."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int):
        self._process, self._out = process, to_browser
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = iter(range(1, 1_000_000))
        self._events: list[dict[str, Any]] = []  # events that arrived while awaiting a reply
        threading.Thread(target=self._read, args=(from_browser,), daemon=True).start()
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self._call(f"{domain}.enable", session=True)

    def _read(self, fd: int) -> None:
        buffer = b""
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._messages.put(json.loads(message))

    def _send(self, method: str, params: dict[str, Any] | None, session: bool) -> int:
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return number

    def _call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False):
        number = self._send(method, params, session)
        while True:
            message = self._messages.get(timeout=30)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    def load(self, url: str, checks: dict[str, str], settle_s: float = 0.4) -> PageReport:
        """Load ``url``, wait until it has loaded and nothing has happened for ``settle_s``
        (a worker's request never reports its end to the page: no count of requests in
        flight), then evaluate each of ``checks`` (JavaScript expressions) in the page."""
        report = PageReport(url)
        self._events.clear()
        self._call("Page.navigate", {"url": url}, session=True)
        loaded, quiet_since, deadline = False, time.monotonic(), time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                event = self._events.pop(0) if self._events else self._messages.get(timeout=0.05)
            except queue.Empty:
                if loaded and time.monotonic() - quiet_since > settle_s:
                    break
                continue
            method, params = event.get("method"), event.get("params", {})
            quiet_since = time.monotonic()
            if method == "Page.loadEventFired":
                loaded = True
            elif method == "Network.requestWillBeSent":
                request_url = params["request"]["url"]
                if not request_url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
                    report.problems.append(f"fetched from elsewhere: {request_url}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                report.problems.append(f"request failed: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                response = params["response"]
                report.problems.append(f"HTTP {response['status']}: {response['url']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                report.problems.append(f"console error: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                report.problems.append(f"uncaught: {text}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                report.problems.append(f"browser error: {params['entry']['text']}")
        else:
            report.problems.append("the page did not finish loading within 20 s")
        for name, expression in checks.items():
            result = self._call(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
            )
            report.values[name] = result["result"].get("value")
        return report

    def screenshot(self, path: str, width: int = 1280, height: int = 1000) -> None:
        import base64

        self._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        data = self._call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))


@contextmanager
def open_browser(executable: str) -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile folder), closed afterwards."""
    to_read, to_write = os.pipe()  # we write, the browser reads (its fd 3)
    from_read, from_write = os.pipe()  # the browser writes (its fd 4), we read
    # Above 4, so that handing them to fds 3 and 4 cannot overwrite one with the other.
    for fd in (to_read, from_write):
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        to_read, from_write = (high, from_write) if fd == to_read else (to_read, high)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    command = [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
    process = subprocess.Popen(
        ["bash", "-c", f'exec "$@" 3<&{to_read} 4>&{from_write}', "-", *command],
        pass_fds=(to_read, from_write),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes in a group of their own, ended with it
    )
    os.close(to_read)
    os.close(from_write)
    try:
        yield Browser(process, to_write, from_read)
    finally:
        os.close(to_write)
        # The whole group: Chromium's helpers (renderer, utility processes) outlived the browser
        # process and still wrote into the profile, so removing it failed ("Directory not
        # empty") one run in three under load. Not yet reaped, the group id is still ours.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        _remove(profile)


def _remove(profile: str) -> None:
    """Remove the profile, retrying briefly while the killed helpers' files settle."""
    for _ in range(50):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)
