"""one active registration per participant, enforced by a partial unique index

Revision ID: b1c2d3e4f5a6
Revises: 949154b2e00d
Create Date: 2026-11-25 04:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "b1c2d3e4f5a6"
down_revision = "949154b2e00d"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('draft', 'submitted', 'changes_requested', 'accepted')"


def upgrade() -> None:
    op.create_index("uq_registrations_one_active", "registrations", ["account_id"], unique=True,
                    postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE))


def downgrade() -> None:
    op.drop_index("uq_registrations_one_active", table_name="registrations")
