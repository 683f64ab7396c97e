"""webhook receipts keyed by shipment, partner and event id: the partner comes from the caller's credential, and
two partners of one shipment may use the same event id; the receipts are a replay cache and start empty

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
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
    _create(['shipment_id', 'partner', 'event_id'])


def downgrade() -> None:
    op.drop_table('webhook_receipts')
    _create(['shipment_id', 'event_id'])
