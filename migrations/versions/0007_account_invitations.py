"""account invitations: one-time links (only the token's SHA-256 stored) for volunteers to set their password

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa
import gridsvc.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", gridsvc.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", gridsvc.db.UTCDateTime(), nullable=True),
        sa.Column("voided_at", gridsvc.db.UTCDateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("account_invitations") as batch:
        batch.create_index(batch.f("ix_account_invitations_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_invitations") as batch:
        batch.drop_index(batch.f("ix_account_invitations_user_id"))
    op.drop_table("account_invitations")
