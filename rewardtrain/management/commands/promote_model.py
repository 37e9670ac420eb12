from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from rewardtrain.models import ModelVersion
from rewardtrain.registry.services import RegistryError, model_version_promote, model_version_rollback


class Command(BaseCommand):
    help = ("Makes a model version its project's active reward model (the previous one is archived), "
            "or with --rollback PROJECT re-activates the model that was active before the current one.")

    def add_arguments(self, parser):
        parser.add_argument("model_id", nargs="?", type=int, help="model version id to promote")
        parser.add_argument("--rollback", metavar="PROJECT", help="project name or id to roll back")

    def handle(self, *args, model_id, rollback, **o):
        if (model_id is None) == (rollback is None):
            raise CommandError("Give either a MODEL_ID to promote or --rollback PROJECT.")
        try:
            if rollback:
                project = project_or_error(rollback)
                model = model_version_rollback(project=project)
                self.stdout.write(self.style.SUCCESS(
                    f"Rolled back “{project.name}”: version {model.version} (id {model.pk}) is active again."))
                return
            model = ModelVersion.objects.select_related("project").filter(pk=model_id).first()
            if model is None:
                raise CommandError(f"No model version {model_id}.")
            model_version_promote(model_version=model)
        except RegistryError as exc:
            raise CommandError(str(exc))
        self.stdout.write(self.style.SUCCESS(
            f"Version {model.version} (id {model.pk}) is now the active model of “{model.project.name}”."))
