-- The foobar_app schema. Idempotent: applied by the provisioning on the primary (web-01) into the
-- application's database (FOOBAR_DB_NAME, "foobar"); the replica receives it through replication.
-- The application itself never changes the schema.
CREATE TABLE IF NOT EXISTS messages (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    body       VARCHAR(500) NOT NULL,
    node       VARCHAR(64)  NOT NULL,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
