"""character identity band: per-character face distance calibration

Revision ID: 0005_identity_band
Revises: 0004_ledger
Create Date: 2026-12-05 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_identity_band'
down_revision = '0004_ledger'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ALTER, not a batch rebuild: rebuilding the table would lose the lower(name) unique index
    op.add_column('character', sa.Column('identity_band', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    op.drop_column('character', 'identity_band')
