"""near-duplicate band index in memory: drop item_bands, log signature changes in minhash_changes

The LSH bands are rebuilt in memory from items.minhash (monitor.dedupe.minhash.BandIndex); writing 12 index rows per
item was most of an import's database time. Downgrade rebuilds item_bands from the stored signatures.

Revision ID: 0005_band_index_in_memory
Revises: 0004_collectors
Create Date: 2026-12-02 05:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_band_index_in_memory'
down_revision = '0004_collectors'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('minhash_changes',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_minhash_changes_item_id_items')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_minhash_changes'))
    )
    op.drop_table('item_bands')


def downgrade() -> None:
    item_bands = op.create_table('item_bands',
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('item_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_item_bands_item_id_items')),
    sa.PrimaryKeyConstraint('key', 'item_id', name=op.f('pk_item_bands')),
    sqlite_with_rowid=False
    )
    op.drop_table('minhash_changes')
    # the keys 0004 stored: one row per distinct band key of each item's signature
    import numpy as np

    from monitor.dedupe import minhash

    conn = op.get_bind()
    items = sa.table('items', sa.column('id', sa.Integer), sa.column('minhash', sa.LargeBinary))
    last = 0
    while True:
        rows = conn.execute(sa.select(items.c.id, items.c.minhash).where(items.c.id > last)
                            .order_by(items.c.id).limit(20_000)).all()
        if not rows:
            break
        last = rows[-1][0]
        good = [(i, m) for i, m in rows if m is not None and len(m) == 4 * minhash.PERMUTATIONS]
        if good:
            sigs = np.frombuffer(b"".join(m for _, m in good), dtype="<u4").reshape(len(good), -1)
            keys = minhash.band_keys(sigs).tolist()
            op.bulk_insert(item_bands, [{"key": k, "item_id": i} for (i, _), ks in zip(good, keys) for k in set(ks)])
