"""scripts/with-env.sh: .env fills in what the environment does not say; the environment wins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "with-env.sh"


def run(tmp_path: Path, env: dict[str, str], *names: str) -> list[str]:
    code = "; ".join(f'printf "%s\\n" "${{{name}-unset}}"' for name in names)
    done = subprocess.run(["bash", str(SCRIPT), "bash", "-c", code], cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def test_the_environment_wins_over_dotenv(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "# a comment\nAMQP_URI=amqp://from-dotenv/\nLOG_LEVEL=DEBUG\n"
        "export QUOTED=\"two words\"\nEMPTY=\nnot a variable line\n")
    assert run(tmp_path, {"AMQP_URI": "amqp://from-env/"}, "AMQP_URI", "LOG_LEVEL", "QUOTED",
               "EMPTY") == ["amqp://from-env/", "DEBUG", "two words", ""]


def test_an_empty_variable_in_the_environment_still_wins(tmp_path: Path):
    (tmp_path / ".env").write_text("S3_ENDPOINT=http://minio:9000\n")
    assert run(tmp_path, {"S3_ENDPOINT": ""}, "S3_ENDPOINT") == [""]


def test_without_dotenv_nothing_changes(tmp_path: Path):
    assert run(tmp_path, {}, "AMQP_URI") == ["unset"]
