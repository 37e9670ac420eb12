"""Projects (settings checked in one place for the page, the API and commands), their rubric
versions and members (never without a project admin)."""
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from annotation.models import Criterion, Membership, Project, Rubric, criterion_key_problem
from annotation.services.audit import audit_record

User = get_user_model()

MAX_OVERLAP = 32767  # Task.target_judgements is a PostgreSQL smallint
MAX_LEASE_SECONDS = 7 * 24 * 3600
MAX_STRENGTH_LABELS = 10
MAX_CRITERION_DESCRIPTION = 2_000  # shown to annotators beside every task: a paragraph, not a manual
# Bidirectional embedding, override and isolate controls: in a name they reorder the text around it
# (a project "Safety‮txt.exe" reads backwards), so a name could pose as another in lists and menus.
BIDI_CONTROLS = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


class SettingsInvalid(ValueError):
    """A project setting is wrong (HTTP 400, or the form shows it by its field); nothing was saved."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _int(field: str, value, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SettingsInvalid(field, f"must be a whole number from {low} to {high}.")
    return value


def _number(field: str, value, low: float, high: float, *, high_open: bool = False) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise SettingsInvalid(field, "must be a number.")
    if not low <= value <= high or (high_open and value == high):
        raise SettingsInvalid(field, f"must be from {low:g} to {high:g}{' (not included)' if high_open else ''}.")
    return float(value)


def _text(field: str, value, max_length: int | None = None, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise SettingsInvalid(field, "must be text.")
    value = value.strip() if required or max_length else value
    if required and not value:
        raise SettingsInvalid(field, "must not be empty.")
    if max_length and len(value) > max_length:
        raise SettingsInvalid(field, f"must be at most {max_length} characters (got {len(value)}).")
    if "\x00" in value:
        raise SettingsInvalid(field, "must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SettingsInvalid(field, "must be valid Unicode (it holds a lone surrogate).")
    return value


def _name(field: str, value) -> str:
    value = _text(field, value, 200, required=True)
    if found := sorted({f"U+{ord(c):04X}" for c in value if c in BIDI_CONTROLS}):
        raise SettingsInvalid(field, f"must not contain bidirectional control characters ({', '.join(found)}): "
                                     "they reorder the text around them, so a name could pose as another.")
    return value


def _strength_scale(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise SettingsInvalid("strength_scale", "must be a list of labels, weakest first.")
    labels = [label.strip() for label in value]
    if any(not label for label in labels):
        raise SettingsInvalid("strength_scale", "labels must not be empty.")
    if len(labels) > MAX_STRENGTH_LABELS:
        raise SettingsInvalid("strength_scale", f"at most {MAX_STRENGTH_LABELS} labels.")
    if len(set(labels)) != len(labels):
        raise SettingsInvalid("strength_scale", "labels must differ from each other.")
    for label in labels:
        _text("strength_scale", label, 100)
    return labels


def _choice(field: str, value, choices) -> str:
    if value not in choices:
        raise SettingsInvalid(field, f"must be one of {', '.join(choices)}.")
    return value


def _bool(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise SettingsInvalid(field, "must be true or false.")
    return value


# Every editable setting and its check; the page, the API (PATCH /projects/{id}/) and project_create
# all go through project_settings_clean.
_CHECKS = {
    "name": lambda v: _name("name", v),
    "description": lambda v: _text("description", v, 10_000),
    "instructions": lambda v: _text("instructions", v, 100_000),
    "mode": lambda v: _choice("mode", v, Project.Mode.values),
    "overlap": lambda v: _int("overlap", v, 1, MAX_OVERLAP),
    "max_overlap": lambda v: _int("max_overlap", v, 1, MAX_OVERLAP),
    "adaptive_overlap": lambda v: _bool("adaptive_overlap", v),
    "dispute_threshold": lambda v: _number("dispute_threshold", v, 0, 1, high_open=True),
    "lease_seconds": lambda v: _int("lease_seconds", v, 30, MAX_LEASE_SECONDS),
    "gold_rate": lambda v: _number("gold_rate", v, 0, 1),
    "allow_ties": lambda v: _bool("allow_ties", v),
    "allow_both_bad": lambda v: _bool("allow_both_bad", v),
    "rationale_required": lambda v: _bool("rationale_required", v),
    "strength_scale": _strength_scale,
}
SETTINGS = tuple(_CHECKS)


def project_settings_clean(*, project: Project | None, changes: dict) -> dict:
    """The changes checked (SettingsInvalid naming the first bad field), with the rules between fields:
    a unique name, a maximum overlap not below the overlap, the mode fixed once tasks exist."""
    if unknown := sorted(set(changes) - set(_CHECKS)):
        raise SettingsInvalid(unknown[0], f"is not a project setting; settings are {', '.join(SETTINGS)}.")
    clean = {field: _CHECKS[field](value) for field, value in changes.items()}
    if "name" in clean and Project.objects.filter(name=clean["name"]).exclude(pk=getattr(project, "pk", None)).exists():
        raise SettingsInvalid("name", f"a project named “{clean['name']}” already exists.")
    overlap = clean.get("overlap", project.overlap if project else 1)
    max_overlap = clean.get("max_overlap", project.max_overlap if project else max(5, overlap))
    if max_overlap < overlap:
        if "max_overlap" in clean:
            raise SettingsInvalid("max_overlap", f"must be at least the overlap ({overlap}).")
        clean["max_overlap"] = overlap  # a larger overlap lifts the maximum with it
    if project is not None and clean.get("mode", project.mode) != project.mode and project.tasks.exists():
        raise SettingsInvalid("mode", "cannot change once the project has tasks (they were imported for this mode).")
    return clean


@transaction.atomic
def project_create(*, name: str, mode: str = Project.Mode.PAIRWISE, overlap: int = 1, lease_seconds: int = 600,
                   admin=None, pii_policy: str = Project.PiiPolicy.OFF, **fields) -> Project:
    """A new project with checked settings; `admin` (a user) becomes its first project admin. The PII
    policy is set here or changed later by annotation.pii.services.project_set_pii_policy (audited)."""
    if pii_policy not in Project.PiiPolicy.values:
        raise SettingsInvalid("pii_policy", f"must be one of {', '.join(Project.PiiPolicy.values)}.")
    clean = project_settings_clean(project=None, changes={"name": name, "mode": mode, "overlap": overlap,
                                                          "lease_seconds": lease_seconds, **fields})
    clean.setdefault("max_overlap", max(5, clean["overlap"]))
    project = Project.objects.create(**clean, pii_policy=pii_policy)
    if admin is not None:
        Membership.objects.create(project=project, user=admin, role=Membership.Role.ADMIN)
    return project


@transaction.atomic
def project_update(*, project: Project, changes: dict) -> Project:
    """Changes some settings (all checked, all or nothing). A new overlap applies to tasks imported
    from now on; tasks already there keep their target."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    clean = project_settings_clean(project=project, changes=changes)
    for field, value in clean.items():
        setattr(project, field, value)
    if clean:
        project.save(update_fields=list(clean))
    return project


def _criteria_check(criteria: list[dict], name: str = "") -> None:
    """ValueError naming the criterion: a key that is reserved, no slug or repeated; a label too long;
    a NUL anywhere (PostgreSQL refuses it in text: a 500, not a message, if it got that far)."""
    if "\x00" in name:
        raise ValueError("Rubric name: NUL characters are not allowed.")
    for c in criteria:
        for field in ("key", "label", "description"):
            if "\x00" in (c.get(field) or ""):
                raise ValueError(f"Criterion “{c['key'][:64].replace(chr(0), '')}”: NUL characters are not allowed "
                                 f"in its {field}.")
    keys = [c["key"] for c in criteria]
    for key in keys:
        if problem := criterion_key_problem(key):
            raise ValueError(problem)
        try:
            validate_slug(key)
        except ValidationError:
            raise ValueError(f"Criterion key “{key}”: use only letters, digits, hyphens and underscores.")
    if len(keys) != len(set(keys)):
        raise ValueError("Criterion keys must be unique.")
    for c in criteria:
        if len(c.get("label") or "") > 200 or len(c["key"]) > 64:
            raise ValueError(f"Criterion “{c['key'][:64]}”: keys are at most 64 characters, labels 200.")
        if len(c.get("description") or "") > MAX_CRITERION_DESCRIPTION:
            raise ValueError(f"Criterion “{c['key'][:64]}”: the description is {len(c['description'])} characters; "
                             f"at most {MAX_CRITERION_DESCRIPTION} are allowed (annotators read it beside every task).")


@transaction.atomic
def rubric_create(*, project: Project, name: str, criteria: list[dict], activate: bool = True) -> Rubric:
    """A new rubric version (never an edit of a used one); `criteria` holds key/label/description.

    ValueError, and nothing written, for a reserved key ("overall", "*") or a repeated one."""
    _criteria_check(criteria, name)
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
def rubric_update(*, project: Project, name: str, criteria: list[dict]) -> tuple[Rubric, bool]:
    """The project's rubric as the admin edited it: the version in force changed in place while no
    judgement uses it, otherwise a new version (a used version is evidence). Returns (rubric, new)."""
    current = Rubric.objects.select_for_update().filter(pk=project.rubric_id).first()
    if current is None or current.is_used:
        return rubric_create(project=project, name=name, criteria=criteria), True
    _criteria_check(criteria, name)
    current.name = name
    current.save(update_fields=["name"])
    current.criteria.all().delete()
    Criterion.objects.bulk_create(
        Criterion(rubric=current, position=i, key=c["key"], label=c.get("label") or c["key"].title(),
                  description=c.get("description", "")) for i, c in enumerate(criteria))
    return current, False


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


class UnknownUser(ValueError):
    """No such user and none to be created; each adapter says how to ask for one (flag, box, field)."""

    def __init__(self, username: str):
        self.username = username
        super().__init__(f"No user named {username!r}; pass --create-user to create one.")


@transaction.atomic
def member_add(*, project: Project, username: str, role: str, create_user: bool = False,
               password: str | None = None, actor=None) -> tuple[Membership, str | None]:
    """Adds a role (the one path for new roles; `actor` made the change): a member keeps the roles they
    had, so one person can be annotator and ML engineer (`membership_set_role` replaces them). Returns
    the membership and the new user's password when one was created."""
    if role not in Membership.Role.values:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(Membership.Role.values)}.")
    new_password = None
    if create_user or "\x00" in username:
        _username_validate(username)
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        if not create_user:
            raise UnknownUser(username)
        new_password = password or generate_password()
        user = User.objects.create_user(username=username, password=new_password)
    membership, created = Membership.objects.get_or_create(project=project, user=user, role=role)
    if created:
        audit_record(action="member.role_added", user=actor, project=project, target=membership,
                     detail={"member": user.get_username(), "role": role, "user_created": new_password is not None})
    return membership, new_password




class LastAdmin(ValueError):
    """The change would leave the project without a project admin."""


def _keep_an_admin(project: Project) -> None:
    if not Membership.objects.filter(project=project, role=Membership.Role.ADMIN).exists():
        raise LastAdmin(f"“{project.name}” must keep at least one project admin: make someone else admin first.")


def _lock_admins(project: Project) -> None:
    """Serializes role changes of one project, so two admins demoting each other cannot both succeed."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


@transaction.atomic
def membership_set_role(*, project: Project, user, role: str, actor=None) -> Membership:
    """The user's roles in the project become exactly `role` (the one path for role changes)."""
    if role not in Membership.Role.values:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(Membership.Role.values)}.")
    _lock_admins(project)
    if not Membership.objects.filter(project=project, user=user).exists():
        raise ValueError(f"{user.username} is not a member of “{project.name}”.")
    before = sorted(Membership.objects.filter(project=project, user=user).values_list("role", flat=True))
    Membership.objects.filter(project=project, user=user).exclude(role=role).delete()
    membership, _ = Membership.objects.get_or_create(project=project, user=user, role=role)
    _keep_an_admin(project)
    if before != [role]:
        audit_record(action="member.role_changed", user=actor, project=project, target=membership,
                     detail={"member": user.get_username(), "from": before, "to": role})
    return membership


@transaction.atomic
def membership_remove(*, project: Project, user, role: str | None = None, actor=None) -> int:
    """Removes one role of the user in the project, or all of them; returns how many were removed."""
    _lock_admins(project)
    memberships = Membership.objects.filter(project=project, user=user)
    if role is not None:
        memberships = memberships.filter(role=role)
    roles = sorted(memberships.values_list("role", flat=True))
    removed, _ = memberships.delete()
    if not removed:
        raise ValueError(f"{user.username} has no {'role' if role is None else repr(role) + ' role'} "
                         f"in “{project.name}”.")
    _keep_an_admin(project)
    audit_record(action="member.role_removed", user=actor, project=project, target_type="membership",
                 detail={"member": user.get_username(), "roles": roles})
    return removed


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


