"""shared queue: provider call slots across workers, project files on S3

Revision ID: 0006_shared_queue
Revises: 0005_identity_band
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006_shared_queue'
down_revision = '0005_identity_band'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'providerslot',
        sa.Column('account_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('account_key', 'slot'),
    )
    with op.batch_alter_table('providerslot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_providerslot_worker'), ['worker'], unique=False)
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('files_url', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('files_url')
    with op.batch_alter_table('providerslot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_providerslot_worker'))
    op.drop_table('providerslot')
