# The moderation queue's priority (comments.priority): the "hot article" subquery reads
# an article's comments of the last hour along this index.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("comments", "0007_moderators_desk_permissions")]

    operations = [
        migrations.AddIndex(
            model_name="comment",
            index=models.Index(fields=["article", "created_at"], name="comment_heat_idx"),
        ),
    ]
