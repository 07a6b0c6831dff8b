# A migration slot for issue 17 (removed at the end if left empty).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("comments", "0011_erasure_requests")]

    operations = [
        migrations.AddField(
            model_name="comment",
            name="body_is_html",
            field=models.BooleanField(default=False, editable=False, verbose_name="imported HTML"),
        ),
    ]
