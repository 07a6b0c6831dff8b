from django.dispatch import Signal

# Sent by ``manage.py seed_demo`` inside its transaction, once the demo authors and
# articles exist. Each receiver adds its own app's demo content and returns how many
# comments it created (the comments app: the demo discussions), so the articles app
# seeds without importing the others.
demo_seeded = Signal()
