# A migration slot for one part of issue 15 (removed at the end if left empty).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("comments", "0011_slot_live")]

    operations = []
