"""tracking tokens: the unguessable public token of each shipment's tracking page

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tracking_tokens',
    sa.Column('token_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('shipment_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('token_digest')
    )
    with op.batch_alter_table('tracking_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracking_tokens_shipment_id'), ['shipment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tracking_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracking_tokens_shipment_id'))
    op.drop_table('tracking_tokens')
