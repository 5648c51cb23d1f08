"""The scaled deployment: nginx in front of two Daphne processes, PostgreSQL and Redis, all real and on loopback."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path

import pytest
import redis as redis_client

from tests.conftest import REPO
from tests.scaled.conftest import Deployment, fetch, render_module, which

pytestmark = pytest.mark.scaled

# A second loopback address: nginx and the Daphne processes live on 127.0.0.1, so a log line naming
# 127.0.0.1 could be an upstream; one naming 127.0.0.2 can only be the client.
CLIENT_ADDRESS = "127.0.0.2"
CANARY_UA = "CanaryAgent/9.9 (scaled-ua-canary-5521)"
CANARY_REFERRER = "https://referrer-canary-7731.example/"
CANARY_FORWARDED = "203.0.113.77"
FORBIDDEN_LOG_VARIABLES = ("$remote_addr", "$http_user_agent", "$http_referer", "$http_x_forwarded_for",
                           "$proxy_add_x_forwarded_for", "$realip_remote_addr", "$binary_remote_addr",
                           "$remote_port", "$request ", "$args", "$query_string", "$request_uri")


def test_contract_nginx_template_logs_no_client_identity() -> None:
    template = (REPO / "deploy/nginx/helpline.conf.template").read_text()
    log_format = re.search(r"log_format helpline_private(.*?);", template, re.S)
    assert log_format
    for variable in FORBIDDEN_LOG_VARIABLES:
        assert variable not in log_format.group(1), variable
    assert 'proxy_set_header X-Forwarded-For "";' in template
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in template
    assert "$remote_addr" not in template.replace("# No $remote_addr", "")


# What an access log line may hold: the day (never the time), the request's method, path and status, and which
# of our Daphne processes answered. No duration ($request_time & co.), no size (a chat socket's bytes say how
# long the chat was), no time of day ($time_iso8601, $time_local, $msec).
ALLOWED_LOG_VARIABLES = {"$helpline_day", "$request_method", "$uri", "$status", "$upstream_addr"}
# A bad request has no $uri; $upstream_addr lists every Daphne tried ("a, b" when nginx retried the next one).
ACCESS_LOG_LINE = re.compile(r"\d{4}-\d{2}-\d{2} [A-Z]+ (?:/\S*)? \d{3} \S+(?:(?:, | : )\S+)*")


def test_contract_access_log_holds_the_day_and_no_duration() -> None:
    template = (REPO / "deploy/nginx/helpline.conf.template").read_text()
    log_format = re.search(r"log_format helpline_private(.*?);", template, re.S)
    assert log_format
    assert set(re.findall(r"\$\w+", log_format.group(1))) <= ALLOWED_LOG_VARIABLES
    # The day is cut from $time_iso8601 by a map, so no time of day reaches the line.
    assert re.search(r"map \$time_iso8601 \$helpline_day \{", template)


def test_containers_keep_no_access_log() -> None:
    """A container engine stamps every line of a container's output with the time, to the nanosecond."""
    render = render_module()
    compose = render.EXAMPLES["deploy/compose/helpline-site.conf"]
    assert compose.access_log == "off"
    assert "access_log /dev/stdout" not in (REPO / "deploy/compose/helpline-site.conf").read_text()


def test_rendered_examples_are_current() -> None:
    """The example site files in deploy/ are what the renderer makes today from the template."""
    render = render_module()
    for path, site in render.EXAMPLES.items():
        assert (REPO / path).read_text() == render.render(site), f"{path} is stale: re-render it (docs/deployment.md)"


def test_renderer_refuses_values_that_would_inject_directives() -> None:
    render = render_module()
    with pytest.raises(ValueError, match="misread"):
        render.render(render.Site(server_name="x; include /etc/passwd", upstreams=["127.0.0.1:1"], static_root="/s"))


def test_nginx_accepts_the_generated_config(scaled: Deployment) -> None:
    nginx = scaled.nginx
    result = subprocess.run([which("nginx"), "-t", "-p", str(nginx.prefix), "-c", str(nginx.conf)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_pages_through_the_proxy_come_from_both_daphne_processes(scaled: Deployment) -> None:
    for _ in range(8):
        status, _headers, body = fetch(f"{scaled.nginx.base_url}/en/")
        assert status == 200
        assert b"<html" in body
    upstreams = {line.split()[-1] for line in scaled.nginx.access_log.read_text().splitlines() if " /en/ 200 " in line}
    assert {f"127.0.0.1:{daphne.port}" for daphne in scaled.daphnes} <= upstreams
    for daphne in scaled.daphnes:
        assert "GET /en/ 200" in daphne.process.output()


def test_app_security_headers_pass_through_once(scaled: Deployment) -> None:
    _status, headers, _body = fetch(f"{scaled.nginx.base_url}/en/")
    # http.client joins repeated headers with ", ": a duplicated header would show as a joined pair.
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "server" not in headers or "nginx/" not in headers["server"]
    assert "set-cookie" not in headers


def test_static_files_come_from_nginx_with_a_long_cache(scaled: Deployment) -> None:
    manifest = json.loads((scaled.static_root / "staticfiles.json").read_text())
    name, hashed = next((name, hashed) for name, hashed in manifest["paths"].items() if name.endswith(".css"))
    status, headers, body = fetch(f"{scaled.nginx.base_url}/static/{hashed}")
    assert status == 200
    assert body == (scaled.static_root / hashed).read_bytes()
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    last = scaled.nginx.access_log.read_text().splitlines()[-1]
    assert f"/static/{hashed} 200" in last and last.rstrip().endswith("-"), "served by nginx, not a Daphne"
    # An unhashed name may change with the next release: never cached (pages only use hashed names).
    status, headers, _body = fetch(f"{scaled.nginx.base_url}/static/{name}")
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert fetch(f"{scaled.nginx.base_url}/static/../../etc/passwd")[0] in {400, 404}


def test_contract_nginx_and_daphne_logs_keep_no_client_identity(scaled: Deployment) -> None:
    headers = {"User-Agent": CANARY_UA, "Referer": CANARY_REFERRER, "X-Forwarded-For": CANARY_FORWARDED,
               "X-Real-IP": CANARY_FORWARDED, "Forwarded": f"for={CANARY_FORWARDED}"}
    for path in ("/en/", "/nl/", "/en/?src=poster", "/en/no-such-page-canary/", "/ws/visitor/"):
        status, _headers, _body = fetch(f"{scaled.nginx.base_url}{path}", headers=headers, source=CLIENT_ADDRESS)
        assert status < 500, path
    logs = {"nginx access log": scaled.nginx.access_log.read_text()}
    logs.update({daphne.process.name: daphne.process.output() for daphne in scaled.daphnes})
    for name, text in logs.items():
        assert text, name
        for canary in (CLIENT_ADDRESS, CANARY_UA, "scaled-ua-canary", "referrer-canary", CANARY_FORWARDED, "poster"):
            assert canary not in text, f"{canary!r} in the {name}"


def test_contract_nginx_access_log_holds_no_time_of_day_and_no_duration(scaled: Deployment) -> None:
    from websockets.sync.client import connect

    base = scaled.nginx.base_url
    for path in ("/en/", "/nl/help/chat/", "/en/no-such-page/", "/static/no-such-file.css"):
        fetch(base + path)
    # A visitor's chat socket, open for a moment: its line must not say for how long.
    with connect(base.replace("http", "ws") + "/ws/visitor/", origin=base, open_timeout=15) as socket:
        socket.ping().wait(timeout=15)
    lines = scaled.nginx.access_log.read_text().splitlines()
    assert any(" /ws/visitor/ 101 " in line for line in lines), "the socket was logged when it closed"
    assert [line for line in lines if not ACCESS_LOG_LINE.fullmatch(line)] == []


def test_the_chat_tables_settings_of_the_deployment_docs_apply(scaled: Deployment) -> None:
    """docs/deployment.md has operators vacuum the chat tables within a minute of a chat's end: its SQL runs."""
    text = (REPO / "docs/deployment.md").read_text()
    sql = text.split("<!-- chat-tables-sql:start -->")[1].split("<!-- chat-tables-sql:end -->")[0]
    statements = [line.strip() for line in sql.splitlines() if line.strip()]
    assert len(statements) == 2
    with scaled.postgres.connect() as connection:
        for statement in statements:
            connection.execute(statement)
        options = dict(connection.execute("SELECT relname, reloptions FROM pg_class WHERE relname IN "
                                          "('chat_chat', 'chat_counsellorpresence')").fetchall())
    assert set(options) == {"chat_chat", "chat_counsellorpresence"}
    for table_options in options.values():
        assert {"autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=0"} <= set(table_options)


def test_counters_land_in_postgresql_under_concurrent_beacons(scaled: Deployment) -> None:
    threads, per_thread = 6, 15
    failures: list[int] = []
    with scaled.postgres.connect() as connection:
        # /count/ counts only modules the site has loaded (anything else is 400, nothing written).
        (slug,) = connection.execute("SELECT slug FROM selfhelp_module ORDER BY slug LIMIT 1").fetchone()
        before = connection.execute("SELECT coalesce(sum(count), 0) FROM metrics_dailycount WHERE metric = %s AND "
                                    "dimension = %s", ["selfhelp.module_completed", slug]).fetchone()[0]
    body = json.dumps({"metric": "selfhelp.module_completed", "dimension": slug}).encode()

    def post_many() -> None:
        for _ in range(per_thread):
            status, _headers, _body = fetch(f"{scaled.nginx.base_url}/count/", data=body,
                                            headers={"Content-Type": "application/json"})
            if status != 204:
                failures.append(status)

    workers = [threading.Thread(target=post_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures
    with scaled.postgres.connect() as connection:
        rows = connection.execute(
            "SELECT day, count FROM metrics_dailycount WHERE metric = %s AND dimension = %s",
            ["selfhelp.module_completed", slug]).fetchall()
    assert len(rows) == 1, rows
    assert rows[0][1] == before + threads * per_thread
    upstreams = {line.split()[-1] for line in scaled.nginx.access_log.read_text().splitlines() if "POST /count/" in line}
    assert len(upstreams) == 2, "both Daphne processes wrote to the same counter row"


def test_a_burst_of_requests_never_runs_postgresql_out_of_connections(scaled: Deployment) -> None:
    """Every request reads the database; far more at once than PostgreSQL has connections for (100).

    With persistent connections under ASGI each concurrent request kept a connection of its own, and the
    scaled benchmark got "too many clients already" (HTTP 500). With a pool per process they wait for one.
    """
    with scaled.postgres.connect() as connection:
        limit = int(connection.execute("SHOW max_connections").fetchone()[0])
    statuses: list[int] = []

    def get_pow() -> None:
        status, _headers, _body = fetch(f"{scaled.nginx.base_url}/chat/pow/")
        statuses.append(status)

    for _round in range(3):
        workers = [threading.Thread(target=get_pow) for _ in range(limit + 50)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    assert len(statuses) == 3 * (limit + 50)
    assert set(statuses) == {200}, sorted(set(statuses))
    with scaled.postgres.connect() as connection:
        open_now = int(connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                       .fetchone()[0])
    # Two pools of 20 (the scaled Daphnes run with the default HELPLINE_DATABASE_POOL_SIZE) and this
    # connection, not one per request.
    assert open_now <= 2 * 20 + 5


def all_redis_values(client: redis_client.Redis) -> list[bytes]:
    """Every key and every value in every database, whatever its type."""
    found: list[bytes] = []
    for database in range(16):
        client.execute_command("SELECT", database)
        for key in client.scan_iter(count=500):
            found.append(key)
            kind = client.type(key)
            if kind == b"string":
                found.append(client.get(key) or b"")
            elif kind == b"list":
                found.extend(client.lrange(key, 0, -1))
            elif kind == b"set":
                found.extend(client.smembers(key))
            elif kind == b"zset":
                found.extend(member for member, _score in client.zrange(key, 0, -1, withscores=True))
            elif kind == b"hash":
                for name, value in client.hgetall(key).items():
                    found.extend([name, value])
            else:
                found.append(client.dump(key) or b"")
    client.execute_command("SELECT", 0)
    return found


def test_contract_redis_keeps_no_client_identity(scaled: Deployment) -> None:
    headers = {"User-Agent": CANARY_UA, "Referer": CANARY_REFERRER, "X-Forwarded-For": CANARY_FORWARDED}
    for path in ("/en/", "/en/staff/sign-in/"):
        fetch(f"{scaled.nginx.base_url}{path}", headers=headers, source=CLIENT_ADDRESS)
    # A failed staff sign-in is remembered in the cache (lockout by username, never by address).
    client = redis_client.Redis(host="127.0.0.1", port=scaled.redis.port)
    values = all_redis_values(client)
    for value in values:
        for canary in (CLIENT_ADDRESS, CANARY_FORWARDED, "scaled-ua-canary", "referrer-canary"):
            assert canary.encode() not in value, f"{canary!r} in Redis: {value[:200]!r}"


def test_redis_runs_without_persistence(scaled: Deployment) -> None:
    client = redis_client.Redis(host="127.0.0.1", port=scaled.redis.port)
    assert client.config_get("save")["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"
    assert not list(Path(scaled.redis.process.folder).glob("*.rdb"))
