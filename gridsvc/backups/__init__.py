"""Backups and restores of the database and the instance files (`flask --app gridsvc backup | restore`)."""
