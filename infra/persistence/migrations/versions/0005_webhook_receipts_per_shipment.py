"""webhook receipts keyed by shipment and event id (partners number events per booking, so ids repeat across
shipments); the receipts are a replay cache and start empty: the workflow drops repeats itself

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 19:10:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _create(primary_key: list[str]) -> None:
    op.create_table('webhook_receipts',
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('partner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('shipment_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('body_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint(*primary_key)
    )


def upgrade() -> None:
    op.drop_table('webhook_receipts')
    _create(['shipment_id', 'event_id'])


def downgrade() -> None:
    op.drop_table('webhook_receipts')
    _create(['event_id'])
