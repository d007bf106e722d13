"""Headless Chromium driven over the DevTools protocol, for tests that look at a page as a person would.

Chromium comes from the Debian package (`make test` installs it when it is missing and runs as root);
``websockets`` (already installed with dagster-webserver's uvicorn) carries the protocol. No
WebDriver, no browser download. The page is a React app that keeps rendering after load, so every
check polls the rendered text (``document.body.innerText``) until it holds or a timeout passes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from itertools import count
from pathlib import Path
from types import TracebackType

from websockets.sync.client import connect

CHROMIUM_ENV = "HYMIREC_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """``$HYMIREC_CHROMIUM``, else the first Chromium-like browser on PATH, else None."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


class PageTimeout(AssertionError):
    """The page did not show what was waited for; the message quotes what it did show."""


class HeadlessChromium:
    """One headless Chromium with one tab: ``open(url)``, ``wait_for_text(...)``, ``screenshot(path)``."""

    def __init__(self, executable: str, *, width: int = 1600, height: int = 1000, start_timeout: float = 60.0) -> None:
        self._profile = tempfile.mkdtemp(prefix="hymirec-chromium-")
        self._process = subprocess.Popen(
            [
                executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                f"--window-size={width},{height}", f"--user-data-dir={self._profile}",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            port = self._devtools_port(start_timeout)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            page = next(target for target in targets if target.get("type") == "page")
            self._socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        except BaseException:
            self.close()
            raise
        self._ids = count(1)
        self.call("Page.enable")
        self.resize(width, height)

    def _devtools_port(self, timeout: float) -> int:
        # With --remote-debugging-port=0 Chromium picks a free port and writes it to this file.
        active = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Chromium exited with code {self._process.returncode} before opening its DevTools port")
            lines = active.read_text().splitlines() if active.is_file() else []
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError(f"Chromium did not open its DevTools port within {timeout:.0f} s")

    def call(self, method: str, **params: object) -> dict:
        """Send one DevTools command and return its result (events that arrive meanwhile are dropped)."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {result['errorText']}")

    def text(self) -> str:
        """What the page shows as text (``innerText``: rendered, visible text only)."""
        return self._evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, needles: Iterable[str], *, timeout: float = 60.0, absent: Iterable[str] = ()) -> str:
        """Poll until the page shows every one of ``needles`` (and none of ``absent``); return its text."""
        needles, absent = list(needles), list(absent)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            missing = [needle for needle in needles if needle not in text]
            present = [word for word in absent if word in text]
            if not missing and not present:
                return text
            if time.monotonic() > deadline:
                raise PageTimeout(
                    f"after {timeout:.0f} s the page still lacks {missing} and shows {present}; it shows:\n{text[-3000:]}"
                )
            time.sleep(0.25)

    def wait_for_elements(self, selector: str, until: Callable[[list[str]], bool], *, timeout: float = 60.0) -> list[str]:
        """Poll the rendered text of each element matching the CSS ``selector`` until ``until(texts)`` holds."""
        read = f"[...document.querySelectorAll({json.dumps(selector)})].map(element => element.innerText ?? element.textContent)"
        deadline = time.monotonic() + timeout
        while True:
            texts = self._evaluate(read) or []
            if until(texts):
                return texts
            if time.monotonic() > deadline:
                raise PageTimeout(f"after {timeout:.0f} s the elements {selector} still read {texts}")
            time.sleep(0.25)

    def type_into(self, selector: str, text: str, *, timeout: float = 60.0) -> None:
        """Wait for the input matching the CSS ``selector``, bring it to the top of the view, and type ``text``
        over what it holds."""
        found = json.dumps(selector)
        deadline = time.monotonic() + timeout
        while not self._evaluate(f"!!document.querySelector({found})"):
            if time.monotonic() > deadline:
                raise PageTimeout(f"after {timeout:.0f} s no element matches {selector}; the page shows:\n{self.text()[-3000:]}")
            time.sleep(0.25)
        self._evaluate(f"(() => {{ const element = document.querySelector({found}); element.scrollIntoView({{block: 'start'}}); element.focus(); element.select(); }})()")
        self.call("Input.insertText", text=text)

    def click_text(self, text: str, *, timeout: float = 60.0) -> None:
        """Click the first element whose own text is ``text`` (a link, a button), once there is one."""
        xpath = json.dumps(f"//*[normalize-space(text())={json.dumps(text)}]")
        clicked = f"(() => {{ const element = document.evaluate({xpath}, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue; if (element) element.click(); return !!element; }})()"
        deadline = time.monotonic() + timeout
        while not self._evaluate(clicked):
            if time.monotonic() > deadline:
                raise PageTimeout(f"after {timeout:.0f} s nothing reads {text!r}; the page shows:\n{self.text()[-3000:]}")
            time.sleep(0.25)

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:200]}: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """A PNG of what the window shows."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.close()
