"""notifications: pending steps and reminders, support queries (messages, access tokens), meetings, idempotency keys

Revision ID: 246fbcfea2f1
Revises: b81fcbff2572
Create Date: 2026-11-25 16:23:31.610321
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import common.db

revision = '246fbcfea2f1'
down_revision = 'b81fcbff2572'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('operation', sa.String(length=80), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'operation', 'key')
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False)
    op.create_table('pending_steps',
    sa.Column('step_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('subject', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('done', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('since', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('changed_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('step_key')
    )
    op.create_index('ix_pending_steps_next', 'pending_steps', ['cleared_at', 'next_at'], unique=False)
    op.create_table('step_reminders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('step_key', sa.String(length=120), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('sent_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_key', 'round', 'n', name='uq_step_reminders_step_round_n')
    )
    op.create_table('support_access_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('query_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_support_access_tokens_query_id'), 'support_access_tokens', ['query_id'], unique=False)
    op.create_table('support_meetings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('slot_start', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('slot_end', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('query_id', sa.String(length=36), nullable=True),
    sa.Column('exchange_reference', sa.String(length=20), nullable=True),
    sa.Column('topic', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cancelled_by', sa.String(length=20), nullable=True),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_support_meetings_account', 'support_meetings', ['account_id', 'slot_start'], unique=False)
    op.create_index('uq_support_meetings_booked_slot', 'support_meetings', ['slot_start'], unique=True, postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
    op.create_table('support_messages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('query_id', sa.String(length=36), nullable=False),
    sa.Column('author', sa.String(length=20), nullable=False),
    sa.Column('author_account_id', sa.String(length=36), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_support_messages_query', 'support_messages', ['query_id', 'created_at'], unique=False)
    op.create_table('support_queries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('requester_account_id', sa.String(length=36), nullable=True),
    sa.Column('requester_email', sa.String(length=254), nullable=True),
    sa.Column('requester_name', sa.String(length=200), nullable=True),
    sa.Column('participant_status', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('exchange_reference', sa.String(length=20), nullable=True),
    sa.Column('browser_brand', sa.String(length=60), nullable=True),
    sa.Column('browser_version', sa.String(length=40), nullable=True),
    sa.Column('screenshot_key', sa.String(length=200), nullable=True),
    sa.Column('screenshot_type', sa.String(length=40), nullable=True),
    sa.Column('screenshot_size', sa.Integer(), nullable=True),
    sa.Column('screenshot_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    op.create_index('ix_support_queries_account', 'support_queries', ['requester_account_id'], unique=False)
    op.create_index('ix_support_queries_status_updated', 'support_queries', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_support_queries_status_updated', table_name='support_queries')
    op.drop_index('ix_support_queries_account', table_name='support_queries')
    op.drop_table('support_queries')
    op.drop_index('ix_support_messages_query', table_name='support_messages')
    op.drop_table('support_messages')
    op.drop_index('uq_support_meetings_booked_slot', table_name='support_meetings', postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'"))
    op.drop_index('ix_support_meetings_account', table_name='support_meetings')
    op.drop_table('support_meetings')
    op.drop_index(op.f('ix_support_access_tokens_query_id'), table_name='support_access_tokens')
    op.drop_table('support_access_tokens')
    op.drop_table('step_reminders')
    op.drop_index('ix_pending_steps_next', table_name='pending_steps')
    op.drop_table('pending_steps')
    op.drop_index(op.f('ix_idempotency_keys_created_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
