# A migration slot for issue 17 (removed at the end if left empty).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("comments", "0011_erasure_requests")]

    operations = []
