"""Running socialbot as a service: backups and restores, the doctor, health and metrics endpoints."""
