"""QR codes as SVG (no imaging library needed), and the public address phones must reach."""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import current_app, request


def qr_svg(data: str) -> bytes:
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    return image.to_string(encoding="utf-8")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def lan_address() -> str | None:
    """This machine's first non-loopback IPv4 address, read from its own name (no traffic)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return None
    for info in infos:
        address = str(info[4][0])
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


def public_base_url() -> str:
    """Where phones should go: VOTING_PUBLIC_URL if set; otherwise the address the facilitator
    used, except that 'localhost' (which a phone cannot reach) becomes this machine's address
    on the local network."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    parts = urlsplit(request.host_url)
    host = parts.hostname or ""
    if _is_loopback(host):
        lan = lan_address()
        if lan:
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{lan}{port}"
    return request.host_url.rstrip("/")


def join_url(code: str) -> str:
    return f"{public_base_url()}/s/{code}"


def reachable_by_phones(url: str) -> bool:
    return not _is_loopback(urlsplit(url).hostname or "")
