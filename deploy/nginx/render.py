"""Render deploy/nginx/helpline.conf.template into an nginx site file (TLS, or plain HTTP for an onion service).

    python deploy/nginx/render.py --server-name help.example.org \\
        --upstream unix:/run/helpline/1.sock --upstream unix:/run/helpline/2.sock \\
        --static-root /var/lib/helpline/staticfiles \\
        --tls-certificate /etc/letsencrypt/live/help.example.org/fullchain.pem \\
        --tls-certificate-key /etc/letsencrypt/live/help.example.org/privkey.pem > /etc/nginx/conf.d/helpline.conf

The scaled-mode tests render the same template (plain HTTP, loopback ports) and run nginx on it.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "helpline.conf.template"
DEFAULT_ERROR_LOG = "/dev/null crit"
DEFAULT_ACCESS_LOG = "/var/log/nginx/helpline-access.log"
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:\-\[\] ]+$")


@dataclass(frozen=True)
class Site:
    """What differs between deployments; everything else is fixed in the template."""

    server_name: str
    upstreams: list[str]
    static_root: str
    tls_certificate: str = ""
    tls_certificate_key: str = ""
    listen: str = "127.0.0.1:8080"
    access_log: str = DEFAULT_ACCESS_LOG
    error_log: str = DEFAULT_ERROR_LOG
    upstream_options: str = "max_fails=1 fail_timeout=10s"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def tls(self) -> bool:
        return bool(self.tls_certificate)


def _checked(name: str, value: str) -> str:
    # Values land inside nginx directives: no quotes, semicolons, braces or newlines can slip in.
    if not _SAFE_VALUE.match(value):
        raise ValueError(f"{name}: {value!r} has characters nginx would misread")
    return value


def _keep_sections(text: str, keep: set[str]) -> str:
    """Drop `# {{name}}` … `# {{/name}}` blocks whose name is not in keep; drop the marker lines."""
    out: list[str] = []
    skipping: str | None = None
    for line in text.splitlines():
        marker = re.fullmatch(r"\s*# \{\{(/?)(\w+)\}\}\s*", line)
        if marker:
            closing, name = marker.groups()
            if not closing and name not in keep:
                skipping = name
            elif closing and skipping == name:
                skipping = None
            continue
        if skipping is None and (line.strip() or (out and out[-1].strip())):
            out.append(line)
    return "\n".join(out) + "\n"


def render(site: Site, template: str | None = None) -> str:
    """The site file for `site`: the TLS server pair, or one plain-HTTP server on `site.listen`."""
    if not site.upstreams:
        raise ValueError("name at least one Daphne upstream (unix:/run/helpline/1.sock or 127.0.0.1:8001)")
    if site.tls and not site.tls_certificate_key:
        raise ValueError("a TLS certificate needs its key")
    text = _keep_sections(template if template is not None else TEMPLATE.read_text(), {"tls" if site.tls else "plain"})
    servers = "\n".join(f"    server {_checked('upstream', up)} {site.upstream_options};" for up in site.upstreams)
    access = "off" if site.access_log == "off" else f"{_checked('access log', site.access_log)} helpline_private"
    values = {
        "UPSTREAM_SERVERS": servers,
        "SERVER_NAME": _checked("server name", site.server_name),
        "STATIC_ROOT": _checked("static root", site.static_root.rstrip("/")),
        "TLS_CERTIFICATE": _checked("certificate", site.tls_certificate) if site.tls else "",
        "TLS_CERTIFICATE_KEY": _checked("certificate key", site.tls_certificate_key) if site.tls else "",
        "LISTEN": _checked("listen", site.listen),
        "ACCESS_LOG": access,
        "ERROR_LOG": _checked("error log", site.error_log),
        **{name: _checked(name, value) for name, value in site.extra.items()},
    }
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    left = re.findall(r"@@\w+@@", text)
    if left:
        raise ValueError(f"template placeholders without a value: {sorted(set(left))}")
    return text


REPO = Path(__file__).resolve().parent.parent.parent
ONION_EXAMPLE = "exampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"
# The rendered copies kept in deploy/ (a test holds them to the template): `render.py --write-examples`.
EXAMPLES: dict[str, Site] = {
    "deploy/nginx/helpline.conf": Site(
        server_name="help.example.org",
        upstreams=["unix:/run/helpline/1.sock", "unix:/run/helpline/2.sock"],
        static_root="/var/lib/helpline/staticfiles",
        tls_certificate="/etc/letsencrypt/live/help.example.org/fullchain.pem",
        tls_certificate_key="/etc/letsencrypt/live/help.example.org/privkey.pem"),
    "deploy/nginx/helpline-onion.conf": Site(
        server_name=ONION_EXAMPLE, upstreams=["unix:/run/helpline/onion-1.sock"],
        static_root="/var/lib/helpline/staticfiles", listen="127.0.0.1:8080",
        access_log="/var/log/nginx/helpline-onion-access.log"),
    "deploy/compose/helpline-site.conf": Site(
        server_name="help.example.org", upstreams=["app1:8000", "app2:8000"],
        static_root="/srv/helpline/staticfiles", tls_certificate="/etc/helpline/tls/fullchain.pem",
        tls_certificate_key="/etc/helpline/tls/privkey.pem",
        # A container engine stamps every line of output with the time: no access log in containers.
        access_log="off"),
}


def write_examples() -> None:
    for path, site in EXAMPLES.items():
        (REPO / path).write_text(render(site))
        print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-examples", action="store_true", help="re-render the example files in deploy/")
    parser.add_argument("--server-name", help="host name(s), e.g. help.example.org or xyz….onion")
    parser.add_argument("--upstream", action="append", default=[],
                        help="a Daphne process: unix:/run/helpline/1.sock or 127.0.0.1:8001 (repeat)")
    parser.add_argument("--static-root", default="/var/lib/helpline/staticfiles", help="STATIC_ROOT")
    parser.add_argument("--tls-certificate", default="", help="certificate chain; without it, plain HTTP")
    parser.add_argument("--tls-certificate-key", default="")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="plain HTTP only (onion service)")
    parser.add_argument("--access-log", default=DEFAULT_ACCESS_LOG, help="a file, or off")
    parser.add_argument("--error-log", default=DEFAULT_ERROR_LOG, help="file and level, e.g. '/dev/null crit'")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.write_examples:
        write_examples()
        return
    if not args.server_name or not args.upstream:
        parser.error("--server-name and at least one --upstream are required")
    site = Site(server_name=args.server_name, upstreams=args.upstream, static_root=args.static_root,
                tls_certificate=args.tls_certificate, tls_certificate_key=args.tls_certificate_key,
                listen=args.listen, access_log=args.access_log, error_log=args.error_log)
    sys.stdout.write(render(site))


if __name__ == "__main__":
    main()
