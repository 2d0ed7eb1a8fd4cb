"""account administration: a version and a suspension on accounts, and their audit trail

Revision ID: e5b8c1d2f3a4
Revises: d4a9e6c2b7f1
Create Date: 2026-12-05 01:00:00
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = "e5b8c1d2f3a4"
down_revision = "d4a9e6c2b7f1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("suspended_at", common.db.UTCDateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        "account_audit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("changes", common.db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_audit_account_at", "account_audit", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_account_audit_account_at", table_name="account_audit")
    op.drop_table("account_audit")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("version")
