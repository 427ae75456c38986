"""deploy/nginx.conf run for real, unprivileged, on 127.0.0.1: for the tests, for
deploy/try_local.py and for the scale-out benchmark, so that all three exercise the file as
shipped (only its worker ports, listen address and paths are changed)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SITE = ROOT / "deploy" / "nginx.conf"
# The worker ports deploy/nginx.conf is written for, one per worker.
SHIPPED_PORTS = (5001, 5002, 5003, 5004)
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
_SHIPPED_PORT = re.compile(r"(?<!\d)500([1-4])(?!\d)")


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def site_for(site: str, ports: list[int], listen_port: int) -> str:
    """The shipped site with its workers' ports replaced by `ports` in order; the lines of
    workers beyond len(ports) are dropped (every per-worker line names one port)."""
    if not 1 <= len(ports) <= len(SHIPPED_PORTS):
        raise ValueError(f"1 to {len(SHIPPED_PORTS)} workers, not {len(ports)}")
    lines = []
    for line in site.splitlines():
        numbers = [int(m.group(1)) for m in _SHIPPED_PORT.finditer(line)]
        if any(n > len(ports) for n in numbers):
            continue
        lines.append(_SHIPPED_PORT.sub(lambda m: str(ports[int(m.group(1)) - 1]), line))
    return "\n".join(lines).replace("listen 80;", f"listen 127.0.0.1:{listen_port};")


def main_config(site: str, prefix: Path, worker_connections: int) -> str:
    """A main configuration that runs nginx in the foreground inside `prefix`, as
    deploy/README.md asks of /etc/nginx/nginx.conf (worker_connections raised)."""
    temp = "".join(f"    {kind}_temp_path {prefix / kind};\n" for kind in TEMP_KINDS)
    return (
        f"daemon off;\nworker_processes auto;\nworker_rlimit_nofile {4 * worker_connections};\n"
        f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
        f"events {{ worker_connections {worker_connections}; }}\n"
        f"http {{\n{temp}{site}\n}}\n"
    )


@contextmanager
def running_nginx(
    ports: list[int], listen_port: int, prefix: Path, worker_connections: int = 4096
) -> Iterator[subprocess.Popen[bytes]]:
    """nginx with deploy/nginx.conf in front of the workers on `ports`; stopped on exit."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
    prefix.mkdir(parents=True, exist_ok=True)
    for kind in TEMP_KINDS:
        (prefix / kind).mkdir(exist_ok=True)
    site = site_for(SHIPPED_SITE.read_text(), ports, listen_port)
    (prefix / "nginx.conf").write_text(main_config(site, prefix, worker_connections))
    with (prefix / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nginx_errors(prefix: Path) -> list[str]:
    log = prefix / "error.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if "[error]" in line or "[crit]" in line]
