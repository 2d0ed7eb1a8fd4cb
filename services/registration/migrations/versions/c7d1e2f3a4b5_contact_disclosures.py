"""disclosures: pairs of registrations whose contact was accepted (from matching's events)

Revision ID: c7d1e2f3a4b5
Revises: b1c2d3e4f5a6
Create Date: 2026-11-25 13:40:00
"""
import sqlalchemy as sa
from alembic import op

import common.db

revision = "c7d1e2f3a4b5"
down_revision = "b1c2d3e4f5a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosures",
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("counterpart_registration_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("disclosed_at", common.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("registration_id", "counterpart_registration_id"),
    )


def downgrade() -> None:
    op.drop_table("disclosures")
