"""Projects: the home page cards, a project's headline numbers, lookup by name or id, rubric versions."""
from django.db.models import Count, Q, QuerySet

from annotation.models import Assignment, Membership, PreferencePair, Project, Rubric, Task
from annotation.parsing import ascii_int
from annotation.permissions import visible_projects


def project_cards(*, user) -> list[dict]:
    """The projects a user belongs to, with their roles and headline counts."""
    projects = visible_projects(user=user).annotate(
        open_tasks=Count("tasks", filter=Q(tasks__status=Task.Status.OPEN), distinct=True),
    )
    roles: dict[int, list[str]] = {}
    for project_id, role in Membership.objects.filter(user=user).values_list("project_id", "role"):
        roles.setdefault(project_id, []).append(role)
    return [{"project": p, "roles": sorted(roles.get(p.pk, ["admin"] if user.is_superuser else []))}
            for p in projects]


def project_stats(*, project: Project) -> dict:
    tasks = Task.objects.filter(project=project)
    by_status = dict(tasks.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    pairs = PreferencePair.objects.filter(project=project)
    return {
        "tasks": sum(by_status.values()),
        "by_status": by_status,
        "gold_tasks": tasks.filter(is_gold=True).count(),
        "judgements": project.tasks.aggregate(n=Count("judgements"))["n"],
        "human_pairs": pairs.filter(source=PreferencePair.Source.HUMAN).count(),
        "imported_pairs": pairs.filter(source=PreferencePair.Source.IMPORTED).count(),
        "active_leases": Assignment.objects.filter(project=project, status=Assignment.Status.ACTIVE).count(),
        "members": project.memberships.values("role").annotate(n=Count("id")).order_by("role"),
    }


def project_by_ref(*, ref: str) -> Project:
    """A project by exact name, or by id when `ref` is all digits and no project has that name."""
    project = Project.objects.filter(name=ref).first()
    number = ascii_int(ref)
    if project is None and number is not None:
        project = Project.objects.filter(pk=number).first()
    if project is None:
        raise Project.DoesNotExist(f"No project named or numbered {ref!r}.")
    return project


def rubrics_list(*, project: Project) -> QuerySet[Rubric]:
    """The project's rubric versions with their criteria, newest first."""
    return (Rubric.objects.filter(project=project).select_related("project")
            .prefetch_related("criteria").order_by("-version"))
