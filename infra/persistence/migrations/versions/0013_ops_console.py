"""ops console: sign-in sessions; shipments found by order reference and paged by (updated_at, shipment_id)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_sessions',
    sa.Column('session_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('session_digest')
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_shipments_order_ref'), ['order_ref'], unique=False)
        batch_op.create_index('ix_shipments_updated_at_shipment_id', ['updated_at', 'shipment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_pending_gates'), ['pending_gates'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_pending_gates'))
        batch_op.drop_index('ix_shipments_updated_at_shipment_id')
        batch_op.drop_index(batch_op.f('ix_shipments_order_ref'))
        batch_op.drop_column('order_ref')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_expires_at'))
    op.drop_table('console_sessions')
