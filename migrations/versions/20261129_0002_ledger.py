"""ledger: accounts and the append-only transfer journal

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The journal is append-only: corrections are reversals, pending holds are resolved by new rows.
# PostgreSQL refuses UPDATE and DELETE outright (TRUNCATE stays possible for test fixtures and for
# an operator who really means to wipe the books).
JOURNAL_IMMUTABLE_FUNCTION = """
CREATE FUNCTION ledger_transfers_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_transfers is append-only: % refused (post a reversal instead)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
JOURNAL_IMMUTABLE_TRIGGER = """
CREATE TRIGGER ledger_transfers_append_only
    BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_refuse_change()
"""


def upgrade():
    op.create_table('ledger_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ledger', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('card_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('no_overdraft', sa.Boolean(), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('debits_posted', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credits_posted', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debits_pending', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credits_pending', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(kind IN ('deposits_clearing', 'station_sales', 'points_issued', 'points_redeemed', 'points_expired')) = (customer_id IS NULL)", name=op.f('ck_ledger_accounts_owner')),
    sa.CheckConstraint("kind IN ('reserve', 'purse', 'points') OR card_id IS NULL", name=op.f('ck_ledger_accounts_card_kind')),
    sa.CheckConstraint("kind IN ('unit', 'reserve', 'purse', 'points', 'deposits_clearing', 'station_sales', 'points_issued', 'points_redeemed', 'points_expired')", name=op.f('ck_ledger_accounts_kind')),
    sa.CheckConstraint("kind NOT IN ('reserve', 'purse') OR card_id IS NOT NULL", name=op.f('ck_ledger_accounts_card_set')),
    sa.CheckConstraint("ledger IN ('CNY', 'PTS')", name=op.f('ck_ledger_accounts_ledger')),
    sa.CheckConstraint('NOT no_overdraft OR debits_posted + debits_pending <= credits_posted', name=op.f('ck_ledger_accounts_no_overdraft')),
    sa.CheckConstraint('debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0', name=op.f('ck_ledger_accounts_totals_non_negative')),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_ledger_accounts_card_id_cards')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_ledger_accounts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index('uq_ledger_accounts_card_kind', ['card_id', 'kind'], unique=True, sqlite_where=sa.text('card_id IS NOT NULL'), postgresql_where=sa.text('card_id IS NOT NULL'))
        batch_op.create_index('uq_ledger_accounts_customer_kind', ['customer_id', 'kind'], unique=True, sqlite_where=sa.text('card_id IS NULL AND customer_id IS NOT NULL'), postgresql_where=sa.text('card_id IS NULL AND customer_id IS NOT NULL'))
        batch_op.create_index('uq_ledger_accounts_system_kind', ['kind'], unique=True, sqlite_where=sa.text('customer_id IS NULL'), postgresql_where=sa.text('customer_id IS NULL'))

    op.create_table('ledger_transfers',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('ledger', sa.String(length=3), nullable=False),
    sa.Column('debit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('pending_id', sa.String(length=80), nullable=True),
    sa.Column('reversal_of', sa.String(length=80), nullable=True),
    sa.Column('batch_id', sa.String(length=80), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(code = 'reversal') = (reversal_of IS NOT NULL)", name=op.f('ck_ledger_transfers_reversal_refers')),
    sa.CheckConstraint("(kind = 'pending') = (expires_at IS NOT NULL)", name=op.f('ck_ledger_transfers_pending_expires')),
    sa.CheckConstraint("(kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL)", name=op.f('ck_ledger_transfers_resolution_refers_to_pending')),
    sa.CheckConstraint("code IN ('deposit', 'allocation', 'collection', 'load', 'purchase', 'refund', 'points_earn', 'points_redeem', 'points_expire', 'replacement', 'reversal')", name=op.f('ck_ledger_transfers_code')),
    sa.CheckConstraint("kind IN ('posted', 'pending', 'post_pending', 'void_pending')", name=op.f('ck_ledger_transfers_kind')),
    sa.CheckConstraint("ledger IN ('CNY', 'PTS')", name=op.f('ck_ledger_transfers_ledger')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_ledger_transfers_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_ledger_transfers_two_accounts')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ledger_transfers_actor_id_users')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_credit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_transfers_debit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['pending_id'], ['ledger_transfers.id'], name=op.f('fk_ledger_transfers_pending_id_ledger_transfers')),
    sa.ForeignKeyConstraint(['reversal_of'], ['ledger_transfers.id'], name=op.f('fk_ledger_transfers_reversal_of_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfers'))
    )
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_transfers_credit_at', ['credit_account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_at', ['debit_account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_expires_at', ['expires_at'], unique=False, sqlite_where=sa.text('expires_at IS NOT NULL'), postgresql_where=sa.text('expires_at IS NOT NULL'))
        batch_op.create_index('uq_ledger_transfers_pending_id', ['pending_id'], unique=True, sqlite_where=sa.text('pending_id IS NOT NULL'), postgresql_where=sa.text('pending_id IS NOT NULL'))
        batch_op.create_index('uq_ledger_transfers_reversal_of', ['reversal_of'], unique=True, sqlite_where=sa.text('reversal_of IS NOT NULL'), postgresql_where=sa.text('reversal_of IS NOT NULL'))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(JOURNAL_IMMUTABLE_FUNCTION)
        op.execute(JOURNAL_IMMUTABLE_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_transfers_append_only ON ledger_transfers")
        op.execute("DROP FUNCTION ledger_transfers_refuse_change()")
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_transfers_reversal_of')
        batch_op.drop_index('uq_ledger_transfers_pending_id')
        batch_op.drop_index('ix_ledger_transfers_expires_at')
        batch_op.drop_index('ix_ledger_transfers_debit_at')
        batch_op.drop_index('ix_ledger_transfers_credit_at')

    op.drop_table('ledger_transfers')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_accounts_system_kind')
        batch_op.drop_index('uq_ledger_accounts_customer_kind')
        batch_op.drop_index('uq_ledger_accounts_card_kind')

    op.drop_table('ledger_accounts')
