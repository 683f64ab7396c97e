"""reconciliation: partner actions whose outcome is uncertain or whose undo failed, and orphans found by the
scheduled reconciliation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reconciliation_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('partner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('operation', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('partner_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('call', sa.JSON(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('idempotency_key', 'reason', name='uq_reconciliation_items_key_reason'),
    )
    with op.batch_alter_table('reconciliation_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_items_shipment_id'), ['shipment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reconciliation_items_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reconciliation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_items_state'))
        batch_op.drop_index(batch_op.f('ix_reconciliation_items_shipment_id'))
    op.drop_table('reconciliation_items')
