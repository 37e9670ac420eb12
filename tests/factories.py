"""Factories for tests: real rows through the real services."""
import factory
from django.contrib.auth import get_user_model

from annotation import services
from annotation.models import Membership, Project

PASSWORD = "pass-for-tests-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)


    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    mode = Project.Mode.PAIRWISE


def member(project, role, user=None):
    user = user or UserFactory()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def task(project, n_responses=2, prompt=None, **kwargs):
    """A task with distinct responses; `prompt` may be text or chat messages."""
    count = task.counter = getattr(task, "counter", 0) + 1
    prompt = prompt or f"Prompt number {count}: explain something."
    responses = [f"Response {i} to prompt {count}." for i in range(n_responses)]
    return services.task_create(project=project, prompt=prompt, responses=responses, **kwargs)


def rubric(project, keys=("helpfulness", "harmlessness", "honesty")):
    return services.rubric_create(project=project, name="Default rubric", criteria=[{"key": k} for k in keys])
