"""Writes for the annotation app. Every function is keyword-only and runs in a transaction."""
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from .hashing import content_hash, messages_to_text, prompt_hash, task_hash
from .models import Batch, Criterion, Membership, Project, Prompt, Response, Rubric, Task, TaskSlot

User = get_user_model()


@transaction.atomic
def project_create(*, name: str, mode: str = Project.Mode.PAIRWISE, overlap: int = 1, lease_seconds: int = 600,
                   **fields) -> Project:
    return Project.objects.create(name=name, mode=mode, overlap=overlap, lease_seconds=lease_seconds, **fields)


@transaction.atomic
def rubric_create(*, project: Project, name: str, criteria: list[dict], activate: bool = True) -> Rubric:
    """A new rubric version (never an edit of a used one); `criteria` holds key/label/description."""
    last = project.rubrics.order_by("-version").values_list("version", flat=True).first() or 0
    rubric = Rubric.objects.create(project=project, name=name, version=last + 1)
    Criterion.objects.bulk_create(
        Criterion(rubric=rubric, position=i, key=c["key"], label=c.get("label", c["key"].title()),
                  description=c.get("description", ""))
        for i, c in enumerate(criteria)
    )
    if activate:
        project.rubric = rubric
        project.save(update_fields=["rubric"])
    return rubric


@transaction.atomic
def project_set_gold_rate(*, project: Project, percent) -> Project:
    """Serves gold tasks to `percent` (0–100) of requests for work; raises ValueError with the reason."""
    try:
        value = float(str(percent).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"The gold rate must be a number of percent, not {str(percent)[:20]!r}.")
    if not 0 <= value <= 100:
        raise ValueError("The gold rate must be between 0 and 100 percent.")
    project.gold_rate = value / 100
    project.save(update_fields=["gold_rate"])
    return project


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def member_add(*, project: Project, username: str, role: str, create_user: bool = False,
               password: str | None = None) -> tuple[Membership, str | None]:
    """Adds a role; returns the membership and the new user's password when one was created."""
    if role not in Membership.Role.values:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(Membership.Role.values)}.")
    new_password = None
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        if not create_user:
            raise ValueError(f"No user named {username!r}; pass --create-user to create one.")
        new_password = password or generate_password()
        user = User.objects.create_user(username=username, password=new_password)
    membership, _ = Membership.objects.get_or_create(project=project, user=user, role=role)
    return membership, new_password


def _prompt_get_or_create(*, project: Project, prompt) -> Prompt:
    messages = prompt if isinstance(prompt, list) else None
    text = messages_to_text(messages) if messages else prompt
    obj, _ = Prompt.objects.get_or_create(
        project=project, content_hash=prompt_hash(text=text, messages=messages),
        defaults={"text": text, "messages": messages},
    )
    return obj


@transaction.atomic
def task_create(*, project: Project, prompt, responses: list, batch: Batch | None = None,
                is_gold: bool = False, gold_ranking=None, priority: float = 0.0, external_id: str = "",
                metadata: dict | None = None) -> Task:
    """One task from a prompt (text or chat messages) and 2+ responses (text or {"text", "model"})."""
    if len(responses) < 2:
        raise ValueError("A task needs at least two responses.")
    prompt_obj = _prompt_get_or_create(project=project, prompt=prompt)
    response_objs = []
    for item in responses:
        text, model = (item, "") if isinstance(item, str) else (item["text"], item.get("model", ""))
        obj, _ = Response.objects.get_or_create(prompt=prompt_obj, content_hash=content_hash(text),
                                                defaults={"text": text, "source_model": model})
        response_objs.append(obj)
    task = Task.objects.create(
        project=project, batch=batch, prompt=prompt_obj, priority=priority, is_gold=is_gold,
        gold_ranking=gold_ranking, external_id=external_id, metadata=metadata or {},
        target_judgements=project.overlap,
        content_hash=task_hash(prompt_hash=prompt_obj.content_hash,
                               response_hashes=[r.content_hash for r in response_objs]),
    )
    TaskSlot.objects.bulk_create(TaskSlot(task=task, response=r, position=i) for i, r in enumerate(response_objs))
    return task
