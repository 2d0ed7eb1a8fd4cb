"""docker-compose.yml as Docker would read it: start-up order, least privilege, pinned images,
no secret in the file. Rendered by `docker compose config` where the Compose plugin exists
(it needs no engine), else by PyYAML with Compose's variable substitution done here."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

from common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
INFRA = {"rabbitmq", "postgres", "minio"}
APPS = sorted({*SERVICES, "notifications"})
SECRETS = {name: f"test-{name.lower()}-{secrets.token_hex(4)}" for name in (
    "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "MINIO_PASSWORD", "AGREEMENTS_IBAN_KEYS",
    "ACCOUNT_TOKEN_SECRET", "SERVICE_SECRET_NOTIFICATIONS", "WEBHOOKS_SECRET_KEYS", "SMTP_HOST",
    "PUBLIC_BASE_URL",
    *(f"{service.upper()}_DB_PASSWORD" for service in APPS))}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def substitute(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} in every string."""
    if isinstance(value, dict):
        return {key: substitute(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        if operator in (":?", "?") and not current:
            raise ValueError(f"{name}: {argument}")
        if operator == ":-" and not current:
            return argument
        if operator == "-" and current is None:
            return argument
        return current or ""

    return _VARIABLE.sub(one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def volume_mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            mounts.append({"source": parts[0], "target": parts[1],
                           "read_only": len(parts) > 2 and "ro" in parts[2].split(",")})
        else:
            mounts.append({"source": volume.get("source"), "target": volume["target"],
                           "read_only": bool(volume.get("read_only"))})
    return mounts


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", ""), **SECRETS}
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        rendered = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--format",
                                   "json"], cwd=ROOT, env=env, capture_output=True, text=True,
                                  check=True)
        return json.loads(rendered.stdout)
    return substitute(yaml.safe_load(COMPOSE.read_text()), env)


def test_every_service_and_the_gateway_run_from_the_one_image(compose):
    services = compose["services"]
    for name in [*APPS, "gateway"]:
        assert name in services, name
        assert services[name]["command"][-1] == name
        assert services[name]["image"] == services["gateway"]["image"]


def test_infrastructure_is_healthchecked_and_migrate_waits_for_it(compose):
    services = compose["services"]
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], name
    assert depends_on(services["migrate"]) == dict.fromkeys(INFRA, "service_healthy")


def test_services_start_after_migrate_completed_and_the_gateway_after_them(compose):
    services = compose["services"]
    for name in [*APPS, "gateway"]:
        deps = depends_on(services[name])
        assert deps["migrate"] == "service_completed_successfully", name
        assert deps["rabbitmq"] == deps["postgres"] == "service_healthy", name
        assert "readyz" in " ".join(services[name]["healthcheck"]["test"]), name
    gateway_deps = depends_on(services["gateway"])
    assert all(gateway_deps[name] == "service_healthy" for name in APPS)


def test_only_the_gateway_is_published(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"gateway"}


def test_each_service_gets_only_its_own_database(compose):
    services = compose["services"]
    for name in APPS:
        urls = {key for key in environment(services[name]) if key.startswith("DATABASE_URL_")}
        assert urls == {f"DATABASE_URL_{name.upper()}"}, name
        url = environment(services[name])[f"DATABASE_URL_{name.upper()}"]
        assert url.startswith(f"postgresql://cxc_{name}:{SECRETS[f'{name.upper()}_DB_PASSWORD']}@")
        assert url.endswith(f"/cxc_{name}")
    assert not any(key.startswith("DATABASE_URL_") for key in environment(services["gateway"]))


def test_only_registration_holds_the_token_private_keys(compose):
    services = compose["services"]
    private = {name for name, service in services.items()
               if any(mount["source"] == "jwt-private-keys" for mount in volume_mounts(service))}
    assert private == {"registration", "migrate"}
    for name in [*APPS, "gateway"]:
        for mount in volume_mounts(services[name]):
            assert mount["read_only"], f"{name} mounts {mount['source']} writable"
    keys_dir = {name: environment(services[name])["JWT_KEYS_DIR"] for name in [*APPS, "gateway"]}
    registration_keys = next(m["target"] for m in volume_mounts(services["registration"])
                             if m["source"] == "jwt-private-keys")
    assert keys_dir.pop("registration") == registration_keys
    for name, directory in keys_dir.items():
        mount = next(m for m in volume_mounts(services[name]) if m["target"] == directory)
        assert mount["source"] == "jwt-public-keys", name


def test_only_agreements_holds_the_sealing_key(compose):
    holders = {name for name, service in compose["services"].items()
               if any(mount["source"] == "sealing" for mount in volume_mounts(service))}
    assert holders == {"agreements", "migrate"}


def test_storage_credentials_only_where_documents_are_handled(compose):
    holders = {name for name, service in compose["services"].items()
               if "S3_SECRET_KEY" in environment(service)}
    assert holders == {"registration", "agreements", "payments", "notifications", "gateway"}


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_containers_run_unprivileged(compose):
    for name in [*APPS, "gateway", "migrate"]:
        service = compose["services"][name]
        assert service["user"].split(":")[0] not in ("", "0", "root"), name
        assert service.get("read_only") is True, name
        assert "ALL" in service.get("cap_drop", []), name
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    # the directories the volumes are mounted on exist and belong to that user
    assert "chown -R 10001:10001 /var/lib/cxc" in dockerfile


def test_no_secret_is_written_in_the_file():
    raw = yaml.safe_load(COMPOSE.read_text())
    secretish = re.compile(r"PASSWORD|SECRET|_PASS$|IBAN_KEYS")
    for name, service in raw["services"].items():
        for key, value in environment(service).items():
            if secretish.search(key):
                assert "${" in value, f"{name}: {key} is written in the file"
        for key, value in environment(service).items():
            if key.startswith(("DATABASE_URL_", "AMQP_URI")):
                credentials = value[value.index("://") + 3:value.rindex("@")]
                # with every ${...} taken out, nothing is left of the password
                assert _VARIABLE.sub("", credentials).endswith(":"), f"{name}: {key}"
                assert "PASSWORD" in credentials, f"{name}: {key}"
    with pytest.raises(ValueError):
        substitute(raw, {})  # without the secrets the file refuses to render


def test_postgres_gives_each_service_a_role_that_reaches_only_its_own_database():
    """deploy/postgres-init.sql run for real (names prefixed, so nothing of a real setup is
    touched): each role connects to its own database and is refused every other."""
    admin_dsn = os.environ.get("TEST_PG_DSN", "postgresql://postgres@localhost:5432/postgres")
    prefix = f"cxc_t{secrets.token_hex(3)}_"
    script = (ROOT / "deploy" / "postgres-init.sql").read_text().replace("cxc_", prefix)
    names = sorted(set(re.findall(rf"CREATE DATABASE ({prefix}\w+)", script)))
    assert [name.removeprefix(prefix) for name in names] == APPS
    if not shutil.which("psql"):
        pytest.skip("psql is needed to run the init script")
    env = {**os.environ, **SECRETS}
    try:
        subprocess.run(["psql", admin_dsn, "-q", "-f", "-"], input=script, env=env, text=True,
                       capture_output=True, check=True)
        base = admin_dsn.rsplit("@", 1)[1].rsplit("/", 1)[0]
        for role in names:
            for database in names:
                dsn = (f"postgresql://{role}:{SECRETS[role.removeprefix(prefix).upper() + '_DB_PASSWORD']}"
                       f"@{base}/{database}")
                if role == database:
                    psycopg2.connect(dsn).close()
                else:
                    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                        psycopg2.connect(dsn)
    finally:
        cleanup = "".join(f'DROP DATABASE IF EXISTS "{name}";' for name in names) + "".join(
            f'DROP ROLE IF EXISTS "{name}";' for name in names)
        for statement in cleanup.split(";"):
            if statement:
                subprocess.run(["psql", admin_dsn, "-q", "-c", statement], capture_output=True)


def test_a_missing_service_password_stops_the_init_script():
    if not shutil.which("psql"):
        pytest.skip("psql is needed to run the init script")
    admin_dsn = os.environ.get("TEST_PG_DSN", "postgresql://postgres@localhost:5432/postgres")
    prefix = f"cxc_t{secrets.token_hex(3)}_"
    script = (ROOT / "deploy" / "postgres-init.sql").read_text().replace("cxc_", prefix)
    env = {key: value for key, value in {**os.environ, **SECRETS}.items()
           if key != "MATCHING_DB_PASSWORD"}
    try:
        done = subprocess.run(["psql", admin_dsn, "-q", "-f", "-"], input=script, env=env,
                              text=True, capture_output=True)
        assert done.returncode != 0
        roles = subprocess.run(["psql", admin_dsn, "-tAc", f"SELECT rolname FROM pg_roles WHERE "
                                f"rolname LIKE '{prefix}%' ORDER BY 1"], capture_output=True,
                               text=True, check=True).stdout.split()
        assert roles == [f"{prefix}registration"]  # stopped at the first role without one
    finally:
        for statement in (f'DROP DATABASE IF EXISTS "{prefix}registration"',
                          f'DROP ROLE IF EXISTS "{prefix}registration"'):
            subprocess.run(["psql", admin_dsn, "-q", "-c", statement], capture_output=True)
