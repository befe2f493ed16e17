"""job leases and call stories

A claimed job carries a lease its worker renews, so work held by a dead process is reclaimed without a restart;
each candidate keeps the story of its provider calls (attempts, statuses, waits).

Revision ID: 0002_leases
Revises: 0001
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002_leases'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_job_lease_expires_at'), ['lease_expires_at'], unique=False)
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calls', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('candidate', schema=None) as batch_op:
        batch_op.drop_column('calls')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_lease_expires_at'))
        batch_op.drop_column('lease_expires_at')
