"""`manage.py seed_demo`: the demo projects and accounts (services.demo.demo_seed)."""
from django.core.management.base import BaseCommand

from annotation.services.demo import demo_seed


class Command(BaseCommand):
    help = "Creates (or refreshes) the demo projects, tasks and one account per role. Safe to rerun."

    def handle(self, *args, **options):
        accounts = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Log in as:"))
        for username, password, role in accounts:
            self.stdout.write(f"  {role:<10} {username:<16} password: {password}")
