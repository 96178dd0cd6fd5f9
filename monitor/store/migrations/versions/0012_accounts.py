"""accounts, web_sessions, api_tokens: who may sign in to the dashboard and which scripts may call the API

Revision ID: 0012_accounts
Revises: 0011_action_tokens
Create Date: 2026-12-06 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import monitor.store.schema


revision = '0012_accounts'
down_revision = '0011_action_tokens'
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column:
    return sa.Column(name, monitor.store.schema.UtcDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        'accounts',
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('password_hash', sa.String(200), nullable=False),
        sa.Column('role', sa.String(20), nullable=False),
        sa.Column('department', sa.String(100), nullable=True),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        _ts('created_at'),
        _ts('updated_at'),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_accounts')),
    )
    op.create_table(
        'web_sessions',
        sa.Column('id_hash', sa.String(64), nullable=False),
        sa.Column('csrf', sa.String(64), nullable=False),
        sa.Column('account', sa.String(100), nullable=False),
        _ts('created_at'),
        _ts('last_seen_at'),
        _ts('expires_at'),
        sa.ForeignKeyConstraint(['account'], ['accounts.name'], name=op.f('fk_web_sessions_account_accounts')),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_sessions')),
    )
    op.create_index(op.f('ix_web_sessions_account'), 'web_sessions', ['account'])
    op.create_index(op.f('ix_web_sessions_expires_at'), 'web_sessions', ['expires_at'])
    op.create_table(
        'api_tokens',
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('scope', sa.String(10), nullable=False),
        sa.Column('owner', sa.String(100), nullable=True),
        _ts('created_at'),
        sa.ForeignKeyConstraint(['owner'], ['accounts.name'], name=op.f('fk_api_tokens_owner_accounts')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash')),
    )


def downgrade() -> None:
    op.drop_table('api_tokens')
    op.drop_index(op.f('ix_web_sessions_expires_at'), table_name='web_sessions')
    op.drop_index(op.f('ix_web_sessions_account'), table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('accounts')
