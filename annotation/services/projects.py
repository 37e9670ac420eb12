"""Projects, their rubric versions and members."""
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from annotation.models import Criterion, Membership, Project, Rubric, criterion_key_problem
from annotation.services.audit import audit_record

User = get_user_model()


@transaction.atomic
def project_create(*, name: str, mode: str = Project.Mode.PAIRWISE, overlap: int = 1, lease_seconds: int = 600,
                   **fields) -> Project:
    return Project.objects.create(name=name, mode=mode, overlap=overlap, lease_seconds=lease_seconds, **fields)


@transaction.atomic
def rubric_create(*, project: Project, name: str, criteria: list[dict], activate: bool = True) -> Rubric:
    """A new rubric version (never an edit of a used one); `criteria` holds key/label/description.

    ValueError, and nothing written, for a reserved key ("overall", "*") or a repeated one."""
    keys = [c["key"] for c in criteria]
    for key in keys:
        if problem := criterion_key_problem(key):
            raise ValueError(problem)
    if len(keys) != len(set(keys)):
        raise ValueError("Criterion keys must be unique.")
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


def generate_password() -> str:
    return secrets.token_urlsafe(12)


@transaction.atomic
def _username_validate(username: str) -> None:
    """The rules of the user model's username field (letters, digits and @.+-_, at most 150), which
    create_user alone does not apply."""
    field = User._meta.get_field(User.USERNAME_FIELD)
    try:
        field.clean(username, None)
    except ValidationError as exc:
        raise ValueError(f"Invalid username {username!r}: {' '.join(exc.messages)}")


@transaction.atomic
def member_add(*, project: Project, username: str, role: str, create_user: bool = False,
               password: str | None = None, by=None) -> tuple[Membership, str | None]:
    """Adds a role; returns the membership and the new user's password when one was created."""
    if role not in Membership.Role.values:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(Membership.Role.values)}.")
    new_password = None
    if create_user or "\x00" in username:
        _username_validate(username)
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        if not create_user:
            raise ValueError(f"No user named {username!r}; pass --create-user to create one.")
        new_password = password or generate_password()
        user = User.objects.create_user(username=username, password=new_password)
    membership, created = Membership.objects.get_or_create(project=project, user=user, role=role)
    if created:
        audit_record(action="member.role_added", user=by, project=project, target=membership,
                     detail={"member": user.get_username(), "role": role, "user_created": new_password is not None})
    return membership, new_password


def membership_changed_record(*, membership: Membership, before: dict | None, by=None) -> None:
    """The audit row for a membership added, changed or removed outside member_add (the Django admin):
    `before` is {"role", "user", "project"} as it was, None for a new one; a deleted one has no pk."""
    member = membership.user.get_username()
    if before is None:
        audit_record(action="member.role_added", user=by, project=membership.project, target=membership,
                     detail={"member": member, "role": membership.role, "via": "admin"})
    elif membership.pk is None:
        audit_record(action="member.role_removed", user=by, project=membership.project, target_type="membership",
                     detail={"member": member, "role": before["role"], "via": "admin"})
    elif before != {"role": membership.role, "user": membership.user_id, "project": membership.project_id}:
        audit_record(action="member.role_changed", user=by, project=membership.project, target=membership,
                     detail={"member": member, "from": before["role"], "to": membership.role, "via": "admin"})


