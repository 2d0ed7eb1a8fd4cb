"""payments: index the ledger by partnership and time (the budget's history)

Revision ID: b8e2f4a6c1d3
Revises: 56f9289b47b7
Create Date: 2026-12-05 01:00:00
"""
from alembic import op

revision = 'b8e2f4a6c1d3'
down_revision = '56f9289b47b7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain CREATE INDEX, also on SQLite: a batch copy would drop the append-only triggers.
    op.create_index('ix_ledger_entries_partnership_id_at', 'ledger_entries', ['partnership_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_ledger_entries_partnership_id_at', table_name='ledger_entries')
