"""drop run.log_path: the run log's place follows from the run id (services/runs/log.run_log_path)

Revision ID: 0003
Revises: 0002_leases
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002_leases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('log_path')


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('log_path', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='')
        )
