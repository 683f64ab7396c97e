"""dead letters: messages (notifications, read-model projections, partner events) that can never succeed,
recorded for ops

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dead_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('shipment_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('message_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error_type', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'message_key', name='uq_dead_letters_kind_message_key'),
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_shipment_id'), ['shipment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_resolved_at'), ['resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_shipment_id'))
    op.drop_table('dead_letters')
