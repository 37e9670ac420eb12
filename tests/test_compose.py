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


def test_every_routed_queue_has_a_worker_and_scoring_requests_do_not_wait_behind_jobs():
    from django.conf import settings

    consumed = {q for service in SERVICES.values() if "-Q" in str(service.get("command", ""))
                for q in _queues_of(service)}
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {"default"}
    assert routed <= consumed
    assert _queues("scoring-worker") == "scoring"  # best-of-N alone: never behind a batch job or a run
    assert _queues("scoring-batch-worker") == "scoring_batch"


def _queues_of(service: dict) -> list[str]:
    command = service["command"].split()
    return command[command.index("-Q") + 1].split(",")
