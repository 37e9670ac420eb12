from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0003_criterion_plural'),
    ]

    operations = [
        migrations.AddField(
            model_name='judgement',
            name='revision',
            field=models.PositiveSmallIntegerField(default=0, help_text='How many times the annotator revised it.'),
        ),
        migrations.AddField(
            model_name='judgement',
            name='history',
            field=models.JSONField(blank=True, default=list, help_text='Earlier answers, oldest first, each with the time it was replaced.'),
        ),
    ]
