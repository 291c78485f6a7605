import { Migration } from '@mikro-orm/migrations';

/**
 * The deployed prosumer-era schema, exactly as `shared/legacy-schema.sql` describes it.
 * On a database that already has it, this migration is recorded as applied without running
 * (see `adoptDeployedDatabase`); the next migration renames prosumer to user.
 */
export class Migration20241102000000_InitialSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE prosumer (
        prosumer_id   varchar(64)  PRIMARY KEY,
        name          varchar(255) NOT NULL,
        email         varchar(255) NOT NULL,
        password_hash varchar(255) NOT NULL,
        created_at    timestamptz  NOT NULL DEFAULT now(),
        updated_at    timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT prosumer_email_unique UNIQUE (email)
      )
    `);
    this.addSql(`
      CREATE TABLE wallet (
        wallet_address varchar(64)   PRIMARY KEY,
        prosumer_id    varchar(64)   NOT NULL,
        wallet_name    varchar(100),
        energy_balance numeric(20,6) NOT NULL DEFAULT 0,
        idrs_balance   numeric(20,2) NOT NULL DEFAULT 0,
        is_active      boolean       NOT NULL DEFAULT true,
        created_at     timestamptz   NOT NULL DEFAULT now(),
        updated_at     timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT wallet_prosumer_id_fkey FOREIGN KEY (prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_wallet_prosumer_id ON wallet (prosumer_id)
    `);
    this.addSql(`
      CREATE TABLE smart_meter (
        meter_id    varchar(64)   PRIMARY KEY,
        prosumer_id varchar(64)   NOT NULL,
        location    varchar(255),
        status      varchar(20)   NOT NULL DEFAULT 'ACTIVE',
        capacity_kw numeric(10,3) NOT NULL DEFAULT 0,
        created_at  timestamptz   NOT NULL DEFAULT now(),
        updated_at  timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT smart_meter_prosumer_id_fkey FOREIGN KEY (prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_smartmeter_prosumer_id ON smart_meter (prosumer_id)
    `);
    this.addSql(`
      CREATE TABLE transaction_log (
        log_id                bigserial     PRIMARY KEY,
        prosumer_id           varchar(64)   NOT NULL,
        transaction_type      varchar(40)   NOT NULL,
        description           text,
        amount                numeric(20,8) NOT NULL,
        currency              varchar(10)   NOT NULL,
        tx_hash               varchar(66),
        transaction_timestamp timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT transaction_log_prosumer_id_fkey FOREIGN KEY (prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_transactionlog_prosumer_id ON transaction_log (prosumer_id)
    `);
    this.addSql(`
      CREATE TABLE market_trade (
        trade_id           bigserial     PRIMARY KEY,
        buyer_prosumer_id  varchar(64)   NOT NULL,
        seller_prosumer_id varchar(64)   NOT NULL,
        traded_energy_kwh  numeric(20,6) NOT NULL,
        price_idrs_per_kwh numeric(20,2) NOT NULL,
        total_idrs         numeric(20,2) NOT NULL,
        tx_hash            varchar(66),
        trade_timestamp    timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT market_trade_buyer_prosumer_id_fkey FOREIGN KEY (buyer_prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE,
        CONSTRAINT market_trade_seller_prosumer_id_fkey FOREIGN KEY (seller_prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_markettrade_buyer_prosumer ON market_trade (buyer_prosumer_id)
    `);
    this.addSql(`
      CREATE INDEX idx_markettrade_seller_prosumer ON market_trade (seller_prosumer_id)
    `);
    this.addSql(`
      CREATE TABLE idrs_conversion (
        conversion_id   bigserial     PRIMARY KEY,
        prosumer_id     varchar(64)   NOT NULL,
        wallet_address  varchar(64)   NOT NULL,
        conversion_type varchar(10)   NOT NULL,
        idr_amount      numeric(20,2) NOT NULL,
        idrs_amount     numeric(20,2) NOT NULL,
        exchange_rate   numeric(20,8) NOT NULL DEFAULT 1,
        status          varchar(20)   NOT NULL DEFAULT 'PENDING',
        created_at      timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT idrs_conversion_prosumer_id_fkey FOREIGN KEY (prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE,
        CONSTRAINT idrs_conversion_wallet_address_fkey FOREIGN KEY (wallet_address)
          REFERENCES wallet (wallet_address) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_idrsconversion_prosumer_id ON idrs_conversion (prosumer_id)
    `);
    this.addSql(`
      CREATE TABLE token_blacklist (
        id          bigserial    PRIMARY KEY,
        token_hash  varchar(128) NOT NULL,
        prosumer_id varchar(64)  NOT NULL,
        reason      varchar(50)  NOT NULL DEFAULT 'LOGOUT',
        expires_at  timestamptz  NOT NULL,
        created_at  timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT token_blacklist_token_hash_unique UNIQUE (token_hash),
        CONSTRAINT token_blacklist_prosumer_id_fkey FOREIGN KEY (prosumer_id)
          REFERENCES prosumer (prosumer_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE TABLE energy_settlement (
        settlement_id bigserial     PRIMARY KEY,
        meter_id      varchar(64)   NOT NULL,
        period_start  timestamptz   NOT NULL,
        period_end    timestamptz   NOT NULL,
        net_kwh       numeric(20,6) NOT NULL,
        status        varchar(20)   NOT NULL DEFAULT 'PENDING',
        created_at    timestamptz   NOT NULL DEFAULT now(),
        CONSTRAINT energy_settlement_meter_id_fkey FOREIGN KEY (meter_id)
          REFERENCES smart_meter (meter_id) ON DELETE CASCADE
      )
    `);
    this.addSql(`
      CREATE INDEX idx_energysettlement_meter_id ON energy_settlement (meter_id)
    `);
  }

  override async down(): Promise<void> {
    this.addSql(`DROP TABLE energy_settlement`);
    this.addSql(`DROP TABLE token_blacklist`);
    this.addSql(`DROP TABLE idrs_conversion`);
    this.addSql(`DROP TABLE market_trade`);
    this.addSql(`DROP TABLE transaction_log`);
    this.addSql(`DROP TABLE smart_meter`);
    this.addSql(`DROP TABLE wallet`);
    this.addSql(`DROP TABLE prosumer`);
  }
}
