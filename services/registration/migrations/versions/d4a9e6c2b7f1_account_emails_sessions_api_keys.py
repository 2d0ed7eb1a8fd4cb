"""account emails (verification, password reset), session revocations, API keys

Accounts that existed before email verification count as verified: they signed up when
nobody was asked to, and must keep submitting.

Revision ID: d4a9e6c2b7f1
Revises: c7e1d0a9b2f4
Create Date: 2026-11-25 16:30:00
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = "d4a9e6c2b7f1"
down_revision = "c7e1d0a9b2f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_verified_at", common.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), server_default="en",
                                      nullable=False))
    op.execute("UPDATE accounts SET email_verified_at = created_at")
    op.create_table(
        "account_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("created_at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_account_requests_account_purpose", "account_requests",
                    ["account_id", "purpose"])
    op.create_table(
        "revocations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=80), nullable=False),
        sa.Column("session_id", sa.String(length=80), nullable=True),
        sa.Column("not_before", common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("until", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
    )
    op.create_index("ix_revocations_account_id", "revocations", ["account_id"])
    op.create_index("ix_revocations_until", "revocations", ["until"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partnership_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", common.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", common.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["partnership_id"], ["partnerships.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index("ix_api_keys_partnership_id", "api_keys", ["partnership_id"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_partnership_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_revocations_until", table_name="revocations")
    op.drop_index("ix_revocations_account_id", table_name="revocations")
    op.drop_table("revocations")
    op.drop_index("ix_account_requests_account_purpose", table_name="account_requests")
    op.drop_table("account_requests")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("email_verified_at")
