"""docker-compose.yml (no Docker engine in CI): the queues and defaults a deployment relies on."""
from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _queues(service: str) -> str:
    command = SERVICES[service]["command"].split()
    return command[command.index("-Q") + 1]


def test_training_workers_consume_only_the_training_queue():
    assert _queues("training-worker") == "training"
    assert _queues("training-worker-gpu") == "training"
    assert "training" not in _queues("worker").split(",")


def test_the_gpu_profile_reserves_gpus_and_builds_cuda_torch():
    gpu = SERVICES["training-worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX"]


def test_cookies_are_secure_unless_turned_off_on_purpose():
    assert SERVICES["web"]["environment"]["SECURE_COOKIES"] == "${SECURE_COOKIES:-1}"
