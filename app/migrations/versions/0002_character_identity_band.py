"""character identity band: per-character face distance calibration

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('character', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_band', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('character', schema=None) as batch_op:
        batch_op.drop_column('identity_band')
