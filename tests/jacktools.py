"""A private JACK server on the dummy driver: a paced sound card for tests.

``jackd --no-realtime -d dummy`` under its own server name (so it never
meets a desktop's JACK); its clock paces PortAudio streams like real
hardware. Skips the test with the reason when jackd cannot run here.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

JACK_RATE = 48000
PERIOD = 1024


class JackServer:
    """One private jackd on the dummy driver."""

    def __init__(self, tmp: Path):
        self.name = f"smallpbx-test-{os.getpid()}-{secrets.token_hex(3)}"
        self.log = tmp / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> JackServer:
        if not shutil.which("jackd"):
            pytest.skip("jackd is not installed (Debian package jackd2)")
        # A CI run once saw jackd stall after its banner (right after the
        # previous test's server stopped): one more try before skipping.
        for _ in range(2):
            if self._try_start():
                return self
            self.stop()
            self.name = f"{self.name}-again"
        pytest.skip(f"jackd could not start: {self.log.read_text(errors='replace')[-600:]}")

    def _try_start(self) -> bool:
        self.log = self.log.with_name(f"{self.name}.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["jackd", "--no-realtime", "-n", self.name, "-d", "dummy",
                                          "-r", str(JACK_RATE), "-p", str(PERIOD), "-C", "1", "-P", "1"],
                                         stdout=log, stderr=subprocess.STDOUT)
        ready = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "15"], capture_output=True, text=True,
                               timeout=30)
        return ready.returncode == 0 and self.proc.poll() is None and "system:playback_1" in self.ports()

    def ports(self) -> str:
        return subprocess.run(["jack_lsp", "-s", self.name], capture_output=True, text=True, timeout=10).stdout

    def jack(self, tool: str, *args: str) -> None:
        subprocess.run([tool, "-s", self.name, *args], check=True, capture_output=True, timeout=10)

    def loop_back(self) -> None:
        """Wire the PortAudio stream's playback port to its own capture port."""
        ports = self.ports().split()
        outs = [p for p in ports if p.startswith("PortAudio:out_")]
        ins = [p for p in ports if p.startswith("PortAudio:in_")]
        assert len(outs) == 1 and len(ins) == 1, ports
        self.jack("jack_connect", outs[0], ins[0])
        self.jack("jack_disconnect", "system:capture_1", ins[0])     # silence anyway; keep the loop pure

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # Semaphores of clients that died without closing (the vanish test).
        for leftover in Path("/dev/shm").glob(f"*{self.name}*"):
            leftover.unlink(missing_ok=True)
