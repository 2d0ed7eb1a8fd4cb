"""catalogue: a commit-ordered change counter instead of a clock watermark; no contact copy

Revision ID: d4e5f6a7b8c9
Revises: 6a5834475646
Create Date: 2026-11-25 13:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "d4e5f6a7b8c9"
down_revision = "6a5834475646"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "catalogue_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", SEQ, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO catalogue_changes (id, value) VALUES (1, 0)")
    with op.batch_alter_table("catalogue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_seq", SEQ, nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_catalogue_change_seq"), ["change_seq"], unique=False)
        batch_op.drop_index(batch_op.f("ix_catalogue_changed_at"))
        # Contact details now come from registration over RPC, never from events.
        batch_op.drop_column("contact")


def downgrade() -> None:
    with op.batch_alter_table("catalogue", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "contact", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False, server_default="{}"))
        batch_op.create_index(batch_op.f("ix_catalogue_changed_at"), ["changed_at"], unique=False)
        batch_op.drop_index(batch_op.f("ix_catalogue_change_seq"))
        batch_op.drop_column("change_seq")
    op.drop_table("catalogue_changes")
