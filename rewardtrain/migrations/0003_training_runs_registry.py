"""Training runs on Celery, per-step metrics, the model registry (RewardModel → ModelVersion) and snapshot jobs."""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def runs_project_from_snapshot(apps, schema_editor):
    TrainingRun = apps.get_model("rewardtrain", "TrainingRun")
    for run in TrainingRun.objects.select_related("snapshot").filter(project__isnull=True):
        run.project_id = run.snapshot.project_id
        run.save(update_fields=["project"])


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0001_initial"),
        ("rewardtrain", "0002_snapshot_parquet_hash_and_stats"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The registry: renamed so it no longer clashes with rewardtrain.ml's RewardModel loader.
        migrations.RemoveConstraint(model_name="rewardmodel", name="rewardmodel_unique_version"),
        migrations.RemoveConstraint(model_name="rewardmodel", name="rewardmodel_one_active_per_project"),
        migrations.RenameModel(old_name="RewardModel", new_name="ModelVersion"),
        migrations.AlterField(
            model_name="modelversion", name="project",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="model_versions",
                                    to="annotation.project"),
        ),
        migrations.AlterField(
            model_name="modelversion", name="run",
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                       related_name="model_version", to="rewardtrain.trainingrun"),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(fields=("project", "version"), name="modelversion_unique_version"),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(condition=models.Q(("status", "active")), fields=("project",),
                                               name="modelversion_one_active_per_project"),
        ),
        # Training runs: metrics move to their own table; claim, heartbeat, cancel and checkpoint fields.
        migrations.RemoveField(model_name="trainingrun", name="metrics"),
        migrations.AddField(
            model_name="trainingrun", name="project",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="training_runs", to="annotation.project"),
        ),
        migrations.RunPython(runs_project_from_snapshot, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="trainingrun", name="project",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="training_runs",
                                    to="annotation.project"),
        ),
        migrations.AlterField(
            model_name="trainingrun", name="config",
            field=models.JSONField(blank=True, default=dict,
                                   help_text="TrainConfig fields without the paths, which the worker sets."),
        ),
        migrations.AlterField(
            model_name="trainingrun", name="worker",
            field=models.CharField(blank=True, help_text="Host and pid of the worker holding the run.",
                                   max_length=255),
        ),
        migrations.AddField(model_name="trainingrun", name="cancel_requested",
                            field=models.BooleanField(default=False)),
        migrations.AddField(
            model_name="trainingrun", name="claim_token",
            field=models.CharField(blank=True, max_length=32,
                                   help_text="Identifies the delivery that holds the run; writes of any other stop."),
        ),
        migrations.AddField(
            model_name="trainingrun", name="attempts",
            field=models.PositiveIntegerField(default=0, help_text="How many times a worker has started the run."),
        ),
        migrations.AddField(
            model_name="trainingrun", name="checkpoint_path",
            field=models.CharField(blank=True, help_text="Storage folder of the last complete checkpoint.",
                                   max_length=500),
        ),
        migrations.AddField(model_name="trainingrun", name="checkpoint_step",
                            field=models.PositiveIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="trainingrun", name="resumed_from_step",
                            field=models.PositiveIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="trainingrun", name="updated_at",
                            field=models.DateTimeField(auto_now=True)),
        migrations.CreateModel(
            name="TrainingMetric",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("step", models.PositiveIntegerField()),
                ("kind", models.CharField(choices=[("train", "Training step"), ("eval", "Evaluation")], max_length=8)),
                ("loss", models.FloatField(blank=True, null=True)),
                ("accuracy", models.FloatField(blank=True, null=True)),
                ("lr", models.FloatField(blank=True, null=True)),
                ("extra", models.JSONField(blank=True, default=dict)),
                ("recorded_at", models.DateTimeField(auto_now=True)),
                ("run", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="metrics",
                                          to="rewardtrain.trainingrun")),
            ],
            options={
                "ordering": ["run", "kind", "step"],
                "constraints": [models.UniqueConstraint(fields=("run", "kind", "step"), name="metric_unique_step")],
            },
        ),
        migrations.CreateModel(
            name="ModelEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("action", models.CharField(choices=[("register", "Registered"), ("promote", "Promoted"),
                                                     ("rollback", "Rolled back to"), ("archive", "Archived")],
                                            max_length=16)),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("model_version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                    related_name="events", to="rewardtrain.modelversion")),
                ("previous_active", models.ForeignKey(blank=True, help_text="The active version this action replaced.",
                                                      null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                      related_name="+", to="rewardtrain.modelversion")),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="model_events", to="annotation.project")),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-at", "-id"]},
        ),
        migrations.CreateModel(
            name="SnapshotJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("params", models.JSONField(blank=True, default=dict,
                                            help_text="Filters, aggregation, seed and val fraction.")),
                ("status", models.CharField(choices=[("queued", "Queued"), ("running", "Running"),
                                                     ("succeeded", "Succeeded"), ("failed", "Failed")],
                                            default="queued", max_length=16)),
                ("progress", models.FloatField(default=0.0)),
                ("stage", models.CharField(blank=True, help_text="counting, writing or done", max_length=32)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                 to=settings.AUTH_USER_MODEL)),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="snapshot_jobs", to="annotation.project")),
                ("snapshot", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                  related_name="job", to="rewardtrain.datasetsnapshot")),
            ],
            options={
                "ordering": ["-created_at"],
                "constraints": [models.CheckConstraint(condition=models.Q(("progress__gte", 0), ("progress__lte", 1)),
                                                       name="snapshotjob_progress_0_1")],
            },
        ),
    ]
