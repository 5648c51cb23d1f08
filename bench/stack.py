"""The scaled mode for real: Redis, a throwaway PostgreSQL cluster, two Daphne processes and nginx on loopback.

Used by the scaled-mode tests (tests/scaled/conftest.py) and by `python -m bench --mode scaled`; its process
helpers (Process, free_port, clean_env, the waits) also start the bench's other servers (bench/ours.py).
Every process runs in one temporary folder on free loopback ports and is stopped when the deployment ends.
nginx runs on a site file rendered from deploy/nginx/helpline.conf.template, the one operators deploy,
in its plain-HTTP form (HELPLINE_TLS=0), the form an onion service uses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This environment without our settings variables, so a server gets only what it is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPLINE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    if "HELPLINE_EVENT_LOOP" in os.environ:  # bench --event-loop: the one setting every server of ours shares
        env["HELPLINE_EVENT_LOOP"] = os.environ["HELPLINE_EVENT_LOOP"]
    return env


class Missing(RuntimeError):
    """A server binary the scaled mode needs is not installed."""


def which(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise Missing(f"{name} is not installed")
    return str(found)


def pg_binary(name: str) -> str:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if not found:
        raise Missing(f"PostgreSQL ({name}) is not installed")
    return str(found)


def require_binaries() -> None:
    """Raise Missing before anything starts, so a missing binary leaves nothing half-started behind."""
    for name in ("redis-server", "nginx"):
        which(name)
    pg_binary("initdb")


def render_module() -> ModuleType:
    """deploy/nginx/render.py, the renderer operators use (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("helpline_deploy_render", REPO / "deploy/nginx/render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Process:
    """A server process with its output in files; stop() always ends it (TERM, then KILL)."""

    name: str
    argv: list[str]
    folder: Path
    env: dict[str, str] | None = None
    user: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, user=self.user, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()
        self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (OSError, HTTPException):
        return False


def wait_until(ready: Callable[[], bool], process: Process, what: str, timeout: float) -> None:
    """Poll `ready` until it holds; fail at once, with the process's output, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.output()[-3000:]}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not {what} within {timeout}s:\n{process.output()[-3000:]}")


def wait_for_port(port: int, process: Process, timeout: float = 30) -> None:
    wait_until(lambda: port_open(port), process, f"listen on {port}", timeout)


@dataclass
class Redis:
    port: int
    process: Process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        wait_for_port(self.port, self.process)

    def restart(self) -> None:
        self.process.stop()
        self.start()


def start_redis(folder: Path) -> Redis:
    binary = which("redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Persistence off, as in production: nothing chat-related may reach a disk.
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", str(folder), "--protected-mode", "yes"]
    redis = Redis(port=port, process=Process("redis", argv, folder))
    redis.start()
    return redis


@dataclass
class Postgres:
    port: int
    data: Path
    socket_dir: Path
    user: str | None
    log: Path

    @property
    def url(self) -> str:
        return f"postgres://helpline@127.0.0.1:{self.port}/helpline"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id (the first line of postmaster.pid), while the cluster runs."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def connect(self, dbname: str = "helpline"):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="helpline", dbname=dbname, autocommit=True)

    def stop(self) -> None:
        subprocess.run([pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"],
                       user=self.user, capture_output=True, check=False)


def start_postgres(folder: Path) -> Postgres:
    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    # PostgreSQL refuses to run as root; CI containers often are root, so the cluster belongs to `postgres`.
    user = "postgres" if os.geteuid() == 0 else None
    folder.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(folder, user=user)
    data, socket_dir, log = folder / "data", folder / "sock", folder / "postgres.log"
    socket_dir.mkdir()
    if user:
        shutil.chown(socket_dir, user=user)
    subprocess.run([initdb, "-A", "trust", "-U", "helpline", "-E", "UTF8", "--no-instructions", "-D", str(data)],
                   user=user, capture_output=True, check=True)
    port = free_port()
    options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    started = subprocess.run([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
                             user=user, capture_output=True, text=True, check=False)
    postgres = Postgres(port=port, data=data, socket_dir=socket_dir, user=user, log=log)
    if started.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log.read_text(errors='replace')}")
    with postgres.connect("postgres") as connection:
        connection.execute("CREATE DATABASE helpline")
    return postgres


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                            check=False, timeout=240)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Daphne:
    port: int
    process: Process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()
        try:
            wait_until(lambda: http_answers(f"{self.base_url}/en/"), self.process, "answer /en/", 60)
        except RuntimeError:
            self.process.stop()
            raise


@dataclass
class Nginx:
    port: int
    prefix: Path
    conf: Path
    site: Path
    access_log: Path
    process: Process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def nginx_main_conf(prefix: Path, site: Path) -> str:
    """deploy/nginx/nginx.conf with this run's paths (pid, temp folders, the site) and, as root, a root worker."""
    text = (REPO / "deploy/nginx/nginx.conf").read_text()
    text = text.replace("pid /run/nginx.pid;", f"pid {prefix}/nginx.pid;")
    text = text.replace("error_log stderr crit;", f"error_log {prefix}/error.log crit;")
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind}_temp;" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("    include /etc/nginx/conf.d/*.conf;", f"{temp}\n    include {site};")
    if not Path("/etc/nginx/mime.types").exists():
        text = text.replace("    include /etc/nginx/mime.types;\n", "")
    if os.geteuid() == 0:
        # Workers would otherwise run as nobody, who cannot read the test's private temporary folder.
        text = "user root;\n" + text
    return text


@dataclass
class Deployment:
    folder: Path
    redis: Redis
    postgres: Postgres
    daphnes: list[Daphne]
    nginx: Nginx
    env: dict[str, str]
    org_private_key: Path
    org_public_key: str
    static_root: Path
    extra: dict[str, object] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)


def start_daphne(folder: Path, env: dict[str, str], index: int) -> Daphne:
    port = free_port()
    argv = [sys.executable, "-m", "helpline.serve", "--host", "127.0.0.1", "--port", str(port), "--access-log"]
    daphne = Daphne(port=port, process=Process(f"daphne-{index}", argv, folder, env=env))
    daphne.start()
    return daphne


def start_nginx(folder: Path, upstream_ports: list[int], static_root: Path) -> Nginx:
    binary = which("nginx")
    prefix = folder / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    render = render_module()
    access_log = prefix / "access.log"
    site_text = render.render(render.Site(
        server_name="127.0.0.1 localhost", upstreams=[f"127.0.0.1:{p}" for p in upstream_ports],
        static_root=str(static_root), listen=f"127.0.0.1:{port}", access_log=str(access_log),
        error_log="/dev/null crit"))
    site = prefix / "helpline.conf"
    site.write_text(site_text)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_main_conf(prefix, site))
    process = Process("nginx", [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], prefix)
    nginx = Nginx(port=port, prefix=prefix, conf=conf, site=site, access_log=access_log, process=process)
    process.start()
    wait_for_port(port, process)
    return nginx


@contextlib.contextmanager
def scaled_deployment(extra_env: dict[str, str] | None = None, prefix: str = "helpline-scaled-"
                      ) -> Iterator[Deployment]:
    """The whole scaled deployment; every process is stopped however the block ends.

    `extra_env` is added to the production environment of the Daphne processes and of Deployment.manage.
    """
    require_binaries()
    # Not pytest's tmp_path: the PostgreSQL cluster belongs to another user, who must reach it.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    stack = contextlib.ExitStack()
    try:
        redis = start_redis(folder / "redis")
        stack.callback(redis.process.stop)
        postgres = start_postgres(folder / "postgres")
        stack.callback(postgres.stop)

        var = folder / "var"
        var.mkdir()
        # The organisation key is made first, at the path the demo setup would use, so both agree on it.
        # One seed key for both: the demo setup seals the demo staff's authenticator seeds with it.
        totp_seed_key = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(60))
        dev_env = clean_env() | {"DJANGO_SETTINGS_MODULE": "helpline.settings.dev", "HELPLINE_VAR_DIR": str(var),
                                "HELPLINE_DATABASE_URL": postgres.url, "HELPLINE_TOTP_SEED_KEY": totp_seed_key}
        printed = manage(dev_env, "create_org_key", str(var / "org_private_key.pem"))
        match = re.search(r"HELPLINE_ORG_PUBLIC_KEY=(\S+)", printed)
        assert match, printed
        org_public_key = match.group(1)
        (var / "org_public_key.txt").write_text(org_public_key + "\n")
        manage(dev_env, "migrate", "--noinput", "-v0")
        manage(dev_env, "demo_setup")

        env = clean_env() | {
            "DJANGO_SETTINGS_MODULE": "helpline.settings.prod",
            "HELPLINE_SECRET_KEY": "".join(secrets.choice(SECRET_ALPHABET) for _ in range(60)),
            "HELPLINE_TOTP_SEED_KEY": totp_seed_key,
            "HELPLINE_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HELPLINE_ORG_PUBLIC_KEY": org_public_key,
            "HELPLINE_DATABASE_URL": postgres.url,
            "HELPLINE_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "HELPLINE_TLS": "0",
            "HELPLINE_VAR_DIR": str(var),
            "HELPLINE_QUICK_EXIT_URL": "about:blank",
        } | (extra_env or {})
        manage(env, "collectstatic", "--noinput", "-v0")
        static_root = var / "staticfiles"

        daphnes: list[Daphne] = []
        for index in (1, 2):
            daphne = start_daphne(folder, env, index)
            daphnes.append(daphne)
            stack.callback(daphne.process.stop)
        nginx = start_nginx(folder, [d.port for d in daphnes], static_root)
        stack.callback(nginx.process.stop)
        wait_until(lambda: http_answers(f"{nginx.base_url}/en/"), nginx.process, "answer /en/", 30)
        yield Deployment(folder=folder, redis=redis, postgres=postgres, daphnes=daphnes, nginx=nginx, env=env,
                         org_private_key=var / "org_private_key.pem", org_public_key=org_public_key,
                         static_root=static_root)
    finally:
        stack.close()
        # HELPLINE_SCALED_KEEP=1 keeps the logs of every process for a look after a failure.
        if os.environ.get("HELPLINE_SCALED_KEEP") == "1":
            print(f"\nscaled deployment kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def certify_pending(env: dict[str, str], username: str, org_private_key: Path, pseudonym: str = "Robin",
                    timeout: float = 60) -> str:
    """As an operator does: wait for `username`'s device to be registered, then certify it with the org key file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in manage(env, "list_devices", "--status", "pending").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[1] == username:
                manage(env, "certify_device", fields[0], "--org-key", str(org_private_key), "--pseudonym", pseudonym)
                return fields[0]
        time.sleep(0.5)
    raise RuntimeError(f"no pending device of {username} within {timeout}s")
