"""partner bookings findable by partner and reference: a DCSA line's subscription callback names the carrier
booking reference, not the shipment

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partner_bookings', schema=None) as batch_op:
        batch_op.create_index('ix_partner_bookings_partner_ref', ['partner', 'ref'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_bookings_partner_ref')
