"""payout position: the last payments event an exchange applied

Revision ID: a3c1e5d7f9b2
Revises: f7690cb61d58
Create Date: 2026-11-25 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a3c1e5d7f9b2'
down_revision = 'f7690cb61d58'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exchanges') as batch:
        batch.add_column(sa.Column('payout_position', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('exchanges') as batch:
        batch.drop_column('payout_position')
