"""Best-of-N scoring: which model scores, the input checks, and the trip to the scoring worker.

Where scoring runs: web processes never import torch. ``responses_score`` (the web side) checks the
input, picks the model version and sends one small task to the ``scoring`` queue, whose worker keeps
the model warm (:mod:`.cache`), then waits for the answer (the result backend: Redis in production,
files in the embedded default). With ``CELERY_TASK_ALWAYS_EAGER`` (unit tests) the same function
runs in-process. ``scores_compute`` is the worker side. BENCHMARKS.md has the latency this costs.
"""
from __future__ import annotations

import json
import math
import uuid

from celery import current_app
from django.conf import settings

from annotation.models import Project
from annotation.services.imports.common import RowError, prompt_field, text_field, type_name

from ..models import ModelVersion

MAX_RESPONSES = 64


class ScoringError(ValueError):
    """The request is wrong (400); the message names the field."""


class NoActiveModel(ScoringError):
    """The project has no active model and none was named (409)."""


class ScoringUnavailable(RuntimeError):
    """No scoring worker answered in time, or the broker is down (503)."""


def scoring_model_for(*, project: Project, model_id: int | None = None) -> ModelVersion:
    """The named version of this project, else the project's active one (looked up on every call, so a
    promotion switches scoring at once)."""
    if model_id is not None:
        model = ModelVersion.objects.filter(project=project, pk=model_id).first()
        if model is None:
            raise ScoringError(f"model: no model version {model_id} in project “{project.name}”.")
        return model
    model = ModelVersion.objects.filter(project=project, status=ModelVersion.Status.ACTIVE).first()
    if model is None:
        raise NoActiveModel(f"Project “{project.name}” has no active reward model: promote one "
                            "(POST /api/v1/models/{id}/promote/) or name one with \"model\".")
    return model


def prompt_text(value) -> str:
    """A prompt given as a string or as chat messages, as the text the model was trained on (chats are
    flattened the way snapshots flatten them: annotation.hashing.messages_to_text)."""
    try:
        return prompt_field(value, "prompt")[0]
    except RowError as exc:
        raise ScoringError(str(exc))


def responses_checked(value) -> list[str]:
    if not isinstance(value, list):
        raise ScoringError(f"responses: must be a list of strings, got {type_name(value)}")
    if not 1 <= len(value) <= MAX_RESPONSES:
        raise ScoringError(f"responses: give 1 to {MAX_RESPONSES} responses, got {len(value)}")
    try:
        return [text_field(text, f"responses[{i}]") for i, text in enumerate(value)]
    except RowError as exc:
        raise ScoringError(str(exc))


def _rounded(values) -> list[float]:
    return [float(v) if math.isfinite(v) else None for v in values]


def scores_compute(*, model, prompt: str, responses: list[str]) -> dict:
    """Rewards, z-scores, ranking (best first; equal rewards keep their order) and p_best of one prompt's
    responses under a loaded ``rewardtrain.ml.RewardModel``; per criterion too when it has heads."""
    raw = model.score([prompt] * len(responses), responses)
    normalized = model.normalize(raw)
    overall = raw[:, 0]
    ranking = sorted(range(len(responses)), key=lambda i: (-overall[i], i))
    out = {"rewards": _rounded(overall), "normalized": _rounded(normalized[:, 0]), "ranking": ranking,
           "p_best": _rounded(model.p_best(overall))}
    if len(model.heads) > 1:
        out["rewards_by_criterion"] = {head: _rounded(raw[:, i]) for i, head in enumerate(model.heads) if i > 0}
    return out


def scores_for_version(*, model_version_id: int, artifact_dir: str, prompt: str, responses: list[str]) -> dict:
    """The worker side: the version's warm model scores the responses. The row's id and folder come with
    the request, so a warm worker answers without a database query."""
    from .cache import loaded_model

    version = ModelVersion(pk=model_version_id, artifact_dir=artifact_dir)
    return scores_compute(model=loaded_model(model_version=version), prompt=prompt, responses=responses)


def scores_recorded(*, model_version_id: int, responses: list[str], scores: dict) -> None:
    """The answer goes into the per-day statistics (.stats): buffered, written at most once a second."""
    from .stats import score_stats_add, score_stats_flush

    score_stats_add(model_version_id=model_version_id, responses=responses, rewards=scores["rewards"],
                    normalized=scores["normalized"])
    score_stats_flush()


def _timeout() -> float:
    return float(getattr(settings, "VERDICT_SCORING_TIMEOUT_SECONDS", 20))


def responses_score(*, project: Project, prompt, responses, model_id: int | None = None) -> dict:
    """Best-of-N for the API: checks the input (ScoringError), picks the model (NoActiveModel), scores on a
    ``scoring`` worker and waits for it (ScoringUnavailable past VERDICT_SCORING_TIMEOUT_SECONDS)."""
    text = prompt_text(prompt)
    texts = responses_checked(responses)
    model = scoring_model_for(project=project, model_id=model_id)
    args = {"model_version_id": model.pk, "artifact_dir": model.artifact_dir, "prompt": text, "responses": texts}
    if current_app.conf.task_always_eager:
        scores = scores_for_version(**args)
        scores_recorded(model_version_id=model.pk, responses=texts, scores=scores)
    else:
        scores = _on_worker(args)  # the worker records them, after answering (rewardtrain.tasks)
    return {"model": {"id": model.pk, "version": model.version}, **scores}


def _reply_redis_url() -> str | None:
    for url in (settings.CELERY_RESULT_BACKEND, settings.CELERY_BROKER_URL):
        if url and str(url).startswith(("redis://", "rediss://", "unix://")):
            return str(url)
    return None


_redis_clients: dict = {}


def _redis(url: str):
    """One client (a thread-safe connection pool) per URL and process."""
    client = _redis_clients.get(url)
    if client is None:
        import redis

        # No socket timeout (redis-py's default is 5 s): BLPOP's own timeout bounds the wait.
        client = _redis_clients.setdefault(url, redis.Redis.from_url(url, socket_timeout=None,
                                                                      socket_connect_timeout=5))
    return client


def scores_reply(*, reply_to: str, payload: dict) -> None:
    """The worker's answer on the list the web process is blocked on (expires if nobody takes it)."""
    client = _redis(_reply_redis_url())
    client.pipeline().rpush(reply_to, json.dumps(payload)).expire(reply_to, 120).execute()


def _unavailable(timeout: float) -> ScoringUnavailable:
    return ScoringUnavailable(f"No scoring worker answered within {timeout:g} s: is a worker consuming the "
                              "'scoring' queue (celery -A config worker -Q scoring)?")


def _on_worker(args: dict) -> dict:
    """Sends the request to the `scoring` queue and waits. With Redis, the worker pushes its answer onto a
    list of this request's own and this thread blocks on it (BLPOP): Celery's Redis result backend shares
    one pub/sub connection between threads, which is not thread-safe (celery/celery#4670, #6335), and web
    processes serve requests in threads. Without Redis (the embedded default) the file result backend is
    polled."""
    from kombu.exceptions import OperationalError

    from ..tasks import scores_for_version as task

    timeout = _timeout()
    url = _reply_redis_url()
    try:
        if url:
            reply_to = f"verdict:scores:{uuid.uuid4().hex}"
            # expires: a request its caller gave up on is dropped, not scored later for nobody.
            task.apply_async(kwargs={**args, "reply_to": reply_to}, expires=timeout, ignore_result=True)
        else:
            result = task.apply_async(kwargs=args, expires=timeout)
    except OperationalError as exc:
        raise ScoringUnavailable(f"The scoring queue cannot be reached ({exc}); try again shortly.")
    if url:
        got = _redis(url).blpop([reply_to], timeout=timeout)
        if got is None:
            raise _unavailable(timeout)
        payload = json.loads(got[1])
        if "error" in payload:
            raise RuntimeError(f"The scoring worker failed: {payload['error']}")
        return payload["scores"]
    from celery.exceptions import TimeoutError as CeleryTimeout

    try:
        return result.get(timeout=timeout, interval=0.005)
    except CeleryTimeout:
        raise _unavailable(timeout)
    finally:
        result.forget()
