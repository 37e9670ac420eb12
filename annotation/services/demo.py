"""The demo: two projects (pairwise and k-way), a rubric, 30 prompts and one account per role, and in the
pairwise project 300 judged pairs (150 prompts, imported from demo_pairs.jsonl), so a newcomer can cut a
snapshot and train a reward model at once (scripts/make_demo_pairs.py writes that file).

Safe to run any number of times: existing rows are kept and imports skip what is already there.
"""
import io
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Membership, Project
from annotation.services import projects
from annotation.services.imports.pairs import pairs_import
from annotation.services.imports.tasks import tasks_import

DEMO_FILE = Path(__file__).parents[1] / "demo_data" / "demo_tasks.jsonl"
DEMO_PAIRS_FILE = DEMO_FILE.with_name("demo_pairs.jsonl")
DEMO_PASSWORD = "verdict-demo"
DEMO_ACCOUNTS = [  # username, role in both projects
    ("demo-admin", Membership.Role.ADMIN),
    ("demo-ml", Membership.Role.ML),
    ("demo-annotator", Membership.Role.ANNOTATOR),
    ("demo-annotator2", Membership.Role.ANNOTATOR),
]
CRITERIA = [
    {"key": "helpfulness", "label": "Helpfulness", "description": "Does it answer the request fully and usefully?"},
    {"key": "harmlessness", "label": "Harmlessness", "description": "Does it avoid unsafe, unkind or risky content?"},
    {"key": "honesty", "label": "Honesty", "description": "Is it accurate, and candid about uncertainty?"},
]
INSTRUCTIONS = """\
Read the prompt, then compare the responses **as a careful user would**.

* Prefer the response that is more *helpful*, *harmless* and *honest* overall.
* Use the strength scale to say how much better it is.
* Rate each rubric criterion separately: a response can be more helpful yet less honest.
* Skip a task if you cannot judge it (e.g. it needs expertise you lack), and say why.
"""


@transaction.atomic
def demo_seed() -> list[tuple[str, str, str]]:
    """Creates or refreshes the demo; returns (username, password, roles) for each account."""
    rows = [json.loads(line) for line in DEMO_FILE.read_text().splitlines() if line.strip()]
    specs = [("Demo · pairwise", Project.Mode.PAIRWISE, [r for r in rows if len(r["responses"]) == 2]),
             ("Demo · k-way ranking", Project.Mode.RANKING, [r for r in rows if len(r["responses"]) > 2])]
    User = get_user_model()
    users = {}
    for username, _ in DEMO_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = username == "demo-admin"
        user.save()
        users[username] = user
    for name, mode, task_rows in specs:
        project, created = Project.objects.get_or_create(
            name=name, defaults={"mode": mode, "overlap": 2, "instructions": INSTRUCTIONS,
                                 "description": "Demo project seeded by `make run`."})
        if created or project.rubric is None:
            projects.rubric_create(project=project, name="Helpful, harmless, honest", criteria=CRITERIA)
        for username, role in DEMO_ACCOUNTS:
            Membership.objects.get_or_create(project=project, user=users[username], role=role)
        if mode == Project.Mode.PAIRWISE and not project.pairs.exists():
            with DEMO_PAIRS_FILE.open("rb") as pairs:
                pairs_import(project=project, fileobj=pairs, filename=DEMO_PAIRS_FILE.name, fmt="trl",
                             batch_name="demo preferences")
        if project.tasks.exists():
            continue
        data = "".join(json.dumps(r) + "\n" for r in task_rows).encode()
        tasks_import(project=project, fileobj=io.BytesIO(data), filename=DEMO_FILE.name,
                               batch_name="demo")
    return [(u, DEMO_PASSWORD, role) for u, role in DEMO_ACCOUNTS]
