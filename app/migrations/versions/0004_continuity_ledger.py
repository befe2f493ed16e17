"""continuity ledger (#22): change events, character bible versions, outfit colours, reference shot and pick tags

Reference angles 'side' become 'profile' (the angle names now match how artists tag references).
Columns are added with a server default and plain ALTER TABLE, so SQLite keeps the tables (and their
expression-based unique-name indexes) instead of rebuilding them.

Revision ID: 0004_ledger
Revises: 0003
"""

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004_ledger'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'characterversion',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('character_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['character_id'], ['character.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('character_id', 'version', name='uq_character_version'),
    )
    with op.batch_alter_table('characterversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_characterversion_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_characterversion_project_id'), ['project_id'], unique=False)

    op.create_table(
        'continuityevent',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('project_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('scene_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('panel', sa.Integer(), nullable=True),
        sa.Column('character_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('op', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['character_id'], ['character.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['scene_id'], ['scene.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('continuityevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_continuityevent_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_continuityevent_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_continuityevent_scene_id'), ['scene_id'], unique=False)

    op.add_column('character', sa.Column('outfit_palettes', sa.JSON(), nullable=False, server_default='{}'))
    op.add_column(
        'characterreference',
        sa.Column('shot', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default=''),
    )
    op.add_column(
        'characterreference',
        sa.Column('choice', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='auto'),
    )
    op.execute("UPDATE characterreference SET angle = 'profile' WHERE angle = 'side'")
    _first_versions()


def _first_versions() -> None:
    """Every character that exists gets its version 1 as it is now, so runs and review have a version to name."""
    conn = op.get_bind()
    chars = conn.execute(sa.text('SELECT id, project_id, name, bible, palette, outfits FROM character')).all()
    for cid, pid, name, bible, palette, outfits in chars:
        refs = conn.execute(
            sa.text(
                'SELECT r.asset_id, a.sha256, r.angle, r.expression, r.outfit, r.shot, r.choice '
                'FROM characterreference r JOIN asset a ON a.id = r.asset_id '
                'WHERE r.character_id = :cid ORDER BY r.asset_id'
            ),
            {'cid': cid},
        ).all()
        tags = ('asset_id', 'sha256', 'angle', 'expression', 'outfit', 'shot', 'choice')
        snapshot = {
            'name': name,
            'bible': bible,
            'palette': json.loads(palette) if isinstance(palette, str) else palette,
            'outfits': json.loads(outfits) if isinstance(outfits, str) else outfits,
            'outfit_palettes': {},
            'references': [dict(zip(tags, r, strict=True)) for r in refs],
        }
        conn.execute(
            sa.text(
                'INSERT INTO characterversion (id, project_id, character_id, version, snapshot, reason, created_at) '
                'VALUES (:id, :pid, :cid, 1, :snap, :reason, :at)'
            ),
            {
                'id': uuid.uuid4().hex,
                'pid': pid,
                'cid': cid,
                'snap': json.dumps(snapshot),
                'reason': 'recorded by the upgrade',
                'at': datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S.%f'),  # SQLite's DateTime text
            },
        )


def downgrade() -> None:
    op.execute("UPDATE characterreference SET angle = 'side' WHERE angle = 'profile'")
    op.drop_column('characterreference', 'choice')
    op.drop_column('characterreference', 'shot')
    op.drop_column('character', 'outfit_palettes')

    with op.batch_alter_table('continuityevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_continuityevent_scene_id'))
        batch_op.drop_index(batch_op.f('ix_continuityevent_project_id'))
        batch_op.drop_index(batch_op.f('ix_continuityevent_character_id'))

    op.drop_table('continuityevent')
    with op.batch_alter_table('characterversion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_characterversion_project_id'))
        batch_op.drop_index(batch_op.f('ix_characterversion_character_id'))

    op.drop_table('characterversion')
