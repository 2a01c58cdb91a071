"""Scheduled jobs: one registry (registry.py: name, schedule, function), the run record that makes a
periodic run happen once per deployment (models.JobRun, a unique (job, period) row claimed before
running), the jobs themselves (catalogue.py), the Huey queue that triggers them (queue.py) and the
Flask glue that runs one (web.py)."""
