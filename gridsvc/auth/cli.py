"""`flask --app gridsvc users create | reset-password | list | disable | enable | token create|list|revoke`."""
from __future__ import annotations

import contextlib

import click
from flask import current_app
from flask.cli import AppGroup

from gridsvc.audit.context import acting_as, os_user
from gridsvc.auth import schemas, service
from gridsvc.access import ROLES
from gridsvc.db import session_scope
from gridsvc.errors import DomainError

users_group = AppGroup("users", help="Accounts and API tokens.")
token_group = AppGroup("token", help="API tokens for phones and scripts.")
users_group.add_command(token_group)


@contextlib.contextmanager
def _transaction():
    """One transaction, audited as cli:<os user>."""
    with acting_as(f"cli:{os_user()}"), session_scope(current_app.extensions["gridsvc"].sessions) as session:
        yield session


def _run(action):
    try:
        with _transaction() as session:
            return action(session)
    except DomainError as error:
        raise click.ClickException(str(error)) from None


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--station", "station_code", default=None, help="Station code (volunteer, grid_worker, station_manager).")
@click.option("--patroller-id", type=int, default=None, help="The volunteer or grid worker this account is.")
@click.option("--name", "display_name", default="", help="Display name.")
@click.password_option(help="Prompted (twice) when not given.")
def create_user(username, role, station_code, patroller_id, display_name, password):
    """Create an account."""
    user = _run(lambda s: service.create_user(s, username=username, password=password, role=role,
                                              station_code=station_code, patroller_id=patroller_id,
                                              display_name=display_name))
    click.echo(f"created {user.username} ({user.role})")


@users_group.command("reset-password")
@click.argument("username")
@click.password_option(help="Prompted (twice) when not given.")
def reset_password(username, password):
    """Set a new password; the account's web sessions and API tokens end."""
    _run(lambda s: service.set_password(s, username=username, password=password))
    click.echo(f"password of {username} reset; its sessions and tokens have ended")


@users_group.command("disable")
@click.argument("username")
def disable_user(username):
    """Disable an account (it can't sign in; its sessions and tokens end)."""
    _run(lambda s: service.set_active(s, username=username, active=False))
    click.echo(f"{username} disabled")


@users_group.command("enable")
@click.argument("username")
def enable_user(username):
    """Enable a disabled account."""
    _run(lambda s: service.set_active(s, username=username, active=True))
    click.echo(f"{username} enabled")


@users_group.command("list")
def list_users():
    """Every account: username, role, station, active."""
    def rows(session):
        import sqlalchemy as sa

        from gridsvc.grids.models import Grid

        codes = dict(session.execute(sa.select(Grid.id, Grid.code)).all())
        return [(u.username, u.role, codes.get(u.station_id, "-"), u.patroller_id or "-",
                 "active" if u.active else "disabled") for u in service.list_users(session)]
    click.echo(f"{'username':<20} {'role':<16} {'station':<14} {'patroller':<10} state")
    for row in _run(rows):
        click.echo(f"{row[0]:<20} {row[1]:<16} {row[2]:<14} {str(row[3]):<10} {row[4]}")


@token_group.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for (e.g. the phone's name).")
def create_token(username, name):
    """Issue a bearer token; it is printed once and never stored."""
    def issue(session):
        token, secret = service.issue_token(session, user=service.get_user(session, username=username), name=name)
        return token.id, secret
    token_id, secret = _run(issue)
    click.echo(f"token {token_id} for {username}: {secret}")
    click.echo("send it as the header  Authorization: Bearer <token>")


@token_group.command("list")
@click.argument("username")
def list_tokens(username):
    """An account's tokens (ids, names, use, revocation)."""
    def rows(session):
        user = service.get_user(session, username=username)
        return [schemas.token_json(t) for t in service.list_tokens(session, user_id=user.id)]
    for token in _run(rows):
        state = f"revoked {token['revoked_at']}" if token["revoked_at"] else "live"
        click.echo(f"{token['id']:>5}  {token['name']:<20} created {token['created_at']}  "
                   f"last used {token['last_used_at'] or '-'}  {state}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id):
    """Revoke a token by id."""
    _run(lambda s: service.revoke_token(s, token_id=token_id))
    click.echo(f"token {token_id} revoked")
