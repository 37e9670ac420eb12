"""Training runs on Celery workers: claims, heartbeat, checkpoints in storage, resume, cancel."""
