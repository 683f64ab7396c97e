"""merchant profiles: the display name, support contact, logo and tax numbers of each merchant

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 00:50:28
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('merchant_profiles',
    sa.Column('merchant_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('support_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('support_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('logo_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('ioss_number', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('eori_number', sqlmodel.sql.sqltypes.AutoString(length=17), nullable=True),
    sa.Column('vat_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('merchant_id')
    )


def downgrade() -> None:
    op.drop_table('merchant_profiles')
