"""`manage.py add_member`: gives a user a role in a project (services.projects.member_add)."""
from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from annotation.models import Membership
from annotation.services import projects


class Command(BaseCommand):
    help = "Gives a user a role in a project; --create-user creates the user and prints a password."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Membership.Role.values, required=True)
        parser.add_argument("--create-user", action="store_true")

    def handle(self, *args, project, username, role, create_user, **options):
        project_obj = project_or_error(project)
        try:
            _, password = projects.member_add(project=project_obj, username=username, role=role,
                                              create_user=create_user)
        except ValueError as exc:
            raise CommandError(str(exc))
        self.stdout.write(self.style.SUCCESS(f"{username} is now {role} in {project_obj.name!r}."))
        if password:
            self.stdout.write(f"Created user {username} with password: {password}")
