"""notifications: initial schema (inbox, outbox, notifications, email queue, preferences)

Revision ID: df766c2bc8a7
Revises:
Create Date: 2026-11-25 16:08:56.013138
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import common.db

revision = 'df766c2bc8a7'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('recipient', sa.String(length=300), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'recipient', name='uq_email_messages_event_recipient')
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index('ix_email_messages_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('inbox',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('handler', sa.String(length=120), nullable=False),
    sa.Column('processed_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'handler')
    )
    op.create_table('notification_preferences',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('email_kinds', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('subject_ref', sa.String(length=60), nullable=True),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'account_id', name='uq_notifications_event_account')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_account_unread', ['account_id', 'read_at', 'created_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', common.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', common.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))

    op.drop_table('outbox')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_account_unread')

    op.drop_table('notifications')
    op.drop_table('notification_preferences')
    op.drop_table('inbox')
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_email_messages_due')

    op.drop_table('email_messages')
