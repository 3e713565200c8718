"""`flask --app gridsvc backup --out FILE` and `flask --app gridsvc restore FILE [--force]`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from config import INSTANCE_DIR
from gridsvc.backups import service
from gridsvc.errors import DomainError


def _stage(stage: str) -> None:
    click.echo(f"  {stage} ...", err=True)


@click.command("backup")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The archive to write (tar.gz, mode 0600); replaced only once complete.")
def backup_command(out: Path) -> None:
    """Back up the database (consistent while the server writes) and the instance files into one archive."""
    manifest = service.backup(current_app.extensions["gridsvc"].engine, out=out, instance_dir=INSTANCE_DIR,
                              progress=_stage)
    rows = sum(manifest["table_rows"].values())
    click.echo(f"backup written: {out} ({manifest['backend']}, schema {manifest['revision']}, {rows} rows, "
               f"{len(manifest['files'])} instance files)")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(archive: Path, force: bool) -> None:
    """Restore a backup archive into this app's (empty) database and instance folder."""
    try:
        counts = service.restore(current_app.extensions["gridsvc"].engine, archive_path=archive,
                                 instance_dir=INSTANCE_DIR, force=force, progress=_stage)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored {archive}: {sum(counts.values())} rows in {len(counts)} tables; row counts match the backup")
