"""Real JupyterLab for the browser tier: a workbook of its own on the test sandbox, a server on
a free loopback port with a token, and the Playwright steps an SRE takes (open, Run All).

The server runs from the project venv (its kernel is the venv's ``python3``), with its
config, data, runtime, settings and workspaces in a temporary folder so nothing of the
user's Lab leaks in. Notebook windowing is off so that every output is rendered (an SRE
scrolls; the test checks every chart without scrolling); the app is exposed to the page
(``window.jupyterapp``) so that the steps use Lab's own commands and models.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.ci import ROOT
from support.net import free_port

__all__ = [
    "LabServer",
    "close_notebook",
    "lab_workbook",
    "notebook_state",
    "open_notebook",
    "run_all",
    "screenshot",
    "start_lab",
]

#: Lab's own settings for the test: render every cell, no news or update checks (offline).
_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def lab_workbook(folder: Path, env_file: Path) -> Path:
    """A workbook under ``folder``: the notebooks, the parameters, and the test sandbox as
    ``parameters/sandbox.yaml`` (the notebooks' default environment)."""
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    shutil.copytree(ROOT / "parameters", folder / "parameters")
    shutil.copy(env_file, folder / "parameters" / "sandbox.yaml")
    return folder


@dataclass
class LabServer:
    """A running JupyterLab: ``url`` (with its token) and the process behind it."""

    base: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path}?token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_lab(root: Path, home: Path, *, timeout_s: float = 120.0) -> LabServer:
    """JupyterLab on ``root/notebooks`` at a free port with a token, its state under ``home``."""
    port, token = free_port(), secrets.token_hex(16)
    settings = home / "settings"
    for name, values in _SETTINGS.items():
        plugin, file = name.rsplit("/", 1)
        (settings / plugin).mkdir(parents=True, exist_ok=True)
        (settings / plugin / file).write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    env.pop("SREWORKBOOK_HOME", None)
    log = home / "lab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.extension_manager=readonly",
        # as `make lab` runs it: notebooks open unmodified
        "--ServerApp.contents_manager_class=sreworkbook.labserver.WorkbookContentsManager",
        "--allow-root",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, process, log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer within {timeout_s:.0f} s")


def open_notebook(page: Any, server: LabServer, path: str, *, timeout_s: float = 90.0) -> None:
    """Open ``path`` (relative to ``notebooks/``) in Lab and wait for its kernel to be idle."""
    page.goto(server.url(f"lab/tree/{path}"))
    page.wait_for_function(
        """path => {
            const app = window.jupyterapp;
            const nb = app && app.shell.currentWidget;
            if (!nb || !nb.context || nb.context.path !== path || !nb.sessionContext) return false;
            const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
            return nb.context.isReady && kernel && kernel.status === 'idle';
        }""",
        arg=path,
        timeout=timeout_s * 1000,
    )


def run_all(page: Any, *, timeout_s: float = 300.0) -> float:
    """Run All (Lab's own command) and wait until every code cell ran and the kernel is idle;
    returns the seconds it took, as the SRE waits for it."""
    began = time.monotonic()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget;
            const kernel = nb.sessionContext.session.kernel;
            const cells = nb.content.widgets.filter(c => c.model.type === 'code');
            const done = cells.every(c => c.model.executionCount !== null
                && !(c.promptNode && c.promptNode.textContent.includes('*')));
            return done && kernel.status === 'idle';
        }""",
        timeout=timeout_s * 1000,
        polling=250,
    )
    return time.monotonic() - began


def notebook_state(page: Any) -> dict[str, Any]:
    """What the open notebook shows: its outputs per cell (as Lab's model holds them), whether
    Lab marks it modified, and each plotly chart's drawn traces and points."""
    state: dict[str, Any] = page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget;
            const cells = nb.content.widgets.map((c, i) => ({
                index: i,
                type: c.model.type,
                source: c.model.sharedModel.getSource(),
                outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [],
            }));
            const charts = [...nb.node.querySelectorAll('.js-plotly-plot')].map(el => {
                const data = el._fullData || [];
                const points = data.reduce((n, t) => n + (t.visible === false ? 0 :
                    t.type === 'indicator' ? (Number.isFinite(t.value) ? 1 : 0) :
                    Math.max((t.x || []).length, (t.y || []).length, (t.values || []).length,
                             (t.cells && t.cells.values ? t.cells.values.length : 0))), 0);
                const box = el.getBoundingClientRect();
                return {
                    title: (el.layout && el.layout.title && el.layout.title.text) || '',
                    traces: data.length,
                    types: [...new Set(data.map(t => t.type))],
                    points,
                    drawn: el.querySelectorAll(
                        '.scatterlayer .trace path, .barlayer .point, .pielayer .slice, '
                        + '.table .cell, .indicatorlayer .trace, .gl-container canvas').length,
                    width: box.width,
                    height: box.height,
                };
            });
            return {cells, charts, dirty: nb.context.model.dirty};
        }"""
    )
    return state


def screenshot(page: Any, path: Path) -> None:
    """The whole notebook as the SRE sees it after Run All (the page made as tall as it)."""
    height = page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget;
            const outer = nb.node.querySelector('.jp-WindowedPanel-outer') || nb.content.node;
            return outer.scrollHeight;
        }"""
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 160, 16_000)})
    page.evaluate(
        """() => {
            const nb = window.jupyterapp.shell.currentWidget;
            const outer = nb.node.querySelector('.jp-WindowedPanel-outer') || nb.content.node;
            outer.scrollTop = 0;
        }"""
    )
    page.wait_for_timeout(1_000)  # plotly redraws charts at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})


def close_notebook(page: Any) -> None:
    """Shut the open notebook's kernel down and close it without saving (the test's runs
    must not pile up kernels, nor write the outputs into the workbook's notebooks)."""
    page.evaluate(
        """async () => {
            const nb = window.jupyterapp.shell.currentWidget;
            await nb.sessionContext.shutdown();
            nb.context.model.dirty = false;
            nb.dispose();
        }"""
    )
